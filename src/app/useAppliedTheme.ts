import { useEffect, useSyncExternalStore } from 'react';
import { applyTheme, resolveTheme, type ResolvedTheme } from './theme';
import { useSettings } from './store';

const DARK_QUERY = '(prefers-color-scheme: dark)';

function subscribeToSystemTheme(onChange: () => void): () => void {
  const query = matchMedia(DARK_QUERY);
  query.addEventListener('change', onChange);
  return () => query.removeEventListener('change', onChange);
}

function systemPrefersDark(): boolean {
  return matchMedia(DARK_QUERY).matches;
}

/** Keeps the <html> class in step with the user's preference and, for 'system', with the OS setting. */
export function useAppliedTheme(): ResolvedTheme {
  const pref = useSettings((s) => s.themePreference);
  const prefersDark = useSyncExternalStore(subscribeToSystemTheme, systemPrefersDark, () => false);
  const theme = resolveTheme(pref, prefersDark);
  useEffect(() => applyTheme(document.documentElement, theme), [theme]);
  return theme;
}
