// Theme preference: 'system' follows prefers-color-scheme; 'light' and 'dark' are explicit choices that
// persist in localStorage. index.html applies the same rule before first paint (keep THEME_STORAGE_KEY in
// step with its inline script).
export type ThemePreference = 'system' | 'light' | 'dark';
export type ResolvedTheme = 'light' | 'dark';

export const THEME_STORAGE_KEY = 'tislab.theme';
export const THEME_PREFERENCES: readonly ThemePreference[] = ['system', 'light', 'dark'];

export function isThemePreference(value: unknown): value is ThemePreference {
  return value === 'system' || value === 'light' || value === 'dark';
}

export function readStoredPreference(storage: Pick<Storage, 'getItem'> | undefined): ThemePreference {
  try {
    const value = storage?.getItem(THEME_STORAGE_KEY);
    return isThemePreference(value) ? value : 'system';
  } catch {
    // Storage can be unavailable (private mode, blocked cookies): fall back to the system theme.
    return 'system';
  }
}

export function writeStoredPreference(
  storage: Pick<Storage, 'setItem' | 'removeItem'> | undefined,
  pref: ThemePreference,
): void {
  try {
    if (pref === 'system') storage?.removeItem(THEME_STORAGE_KEY);
    else storage?.setItem(THEME_STORAGE_KEY, pref);
  } catch {
    // Not persisting is acceptable; the choice still applies to this page.
  }
}

export function resolveTheme(pref: ThemePreference, systemPrefersDark: boolean): ResolvedTheme {
  if (pref === 'system') return systemPrefersDark ? 'dark' : 'light';
  return pref;
}

export function applyTheme(root: HTMLElement, theme: ResolvedTheme): void {
  root.classList.toggle('dark', theme === 'dark');
  root.style.colorScheme = theme;
}
