import { describe, expect, it } from 'vitest';
import { intentForKey, SHORTCUTS } from './useShortcuts';

describe('keyboard shortcuts', () => {
  it('Space toggles run and pause; the others map to their intents', () => {
    expect(intentForKey(' ', false)).toEqual({ type: 'run' });
    expect(intentForKey(' ', true)).toEqual({ type: 'pause' });
    expect(intentForKey('ArrowRight', false)).toEqual({ type: 'stepKvm' });
    expect(intentForKey('s', false)).toEqual({ type: 'snapshot' });
    expect(intentForKey('M', true)).toEqual({ type: 'migrate' });
    expect(intentForKey('r', false)).toEqual({ type: 'reset' });
    expect(intentForKey('?', false)).toBe('help');
    expect(intentForKey('x', false)).toBeNull();
  });

  it('the help dialog lists every shortcut', () => {
    expect(SHORTCUTS.map((s) => s.keys)).toEqual(['Space', '→', 'S', 'M', 'R', '?']);
  });
});
