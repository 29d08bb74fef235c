import { THEME_PREFERENCES, type ThemePreference } from '../theme';
import { useSettings } from '../store';

const LABELS: Record<ThemePreference, string> = { system: 'System', light: 'Light', dark: 'Dark' };

export function ThemeSwitcher() {
  const pref = useSettings((s) => s.themePreference);
  const setPref = useSettings((s) => s.setThemePreference);
  return (
    <div
      role="radiogroup"
      aria-label="Theme"
      className="flex rounded-md border border-slate-300 p-0.5 text-sm dark:border-slate-600"
    >
      {THEME_PREFERENCES.map((p) => (
        <button
          key={p}
          type="button"
          role="radio"
          aria-checked={pref === p}
          onClick={() => setPref(p)}
          className={
            'rounded px-2.5 py-1 transition-colors ' +
            (pref === p
              ? 'bg-teal-700 text-white dark:bg-teal-500 dark:text-slate-950'
              : 'text-slate-700 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-800')
          }
        >
          {LABELS[p]}
        </button>
      ))}
    </div>
  );
}
