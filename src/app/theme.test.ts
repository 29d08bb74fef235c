import { describe, expect, it } from 'vitest';
import { readStoredPreference, resolveTheme, THEME_STORAGE_KEY, writeStoredPreference } from './theme';

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

describe('theme preference', () => {
  it('follows the system until the user chooses', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });

  it('ignores a stored value it does not know and falls back to the system', () => {
    expect(readStoredPreference(memoryStorage({ [THEME_STORAGE_KEY]: 'sepia' }))).toBe('system');
    expect(readStoredPreference(undefined)).toBe('system');
    const throwing = {
      getItem: () => {
        throw new Error('SecurityError');
      },
    };
    expect(readStoredPreference(throwing)).toBe('system');
  });

  it('stores explicit choices and forgets the key when going back to system', () => {
    const storage = memoryStorage();
    writeStoredPreference(storage, 'dark');
    expect(storage.data.get(THEME_STORAGE_KEY)).toBe('dark');
    expect(readStoredPreference(storage)).toBe('dark');
    writeStoredPreference(storage, 'system');
    expect(storage.data.has(THEME_STORAGE_KEY)).toBe(false);
  });
});
