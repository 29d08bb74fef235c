// The UI store (zustand): what the page shows and the user's settings. Simulation state arrives here as
// views from the core in later issues; components read slices with selectors and never compute the model.
import { create } from 'zustand';
import { readStoredPreference, writeStoredPreference, type ThemePreference } from './theme';

export interface SettingsState {
  themePreference: ThemePreference;
  setThemePreference: (pref: ThemePreference) => void;
}

function browserStorage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

export const useSettings = create<SettingsState>((set) => ({
  themePreference: readStoredPreference(browserStorage()),
  setThemePreference: (pref) => {
    writeStoredPreference(browserStorage(), pref);
    set({ themePreference: pref });
  },
}));
