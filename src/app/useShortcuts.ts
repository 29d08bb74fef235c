// The keyboard: Space run/pause, → step, S snapshot, M migrate, R reset, ? help. Keys typed into a form
// field, or with a modifier, are left alone.
import { useEffect } from 'react';
import type { SimIntent } from '../workers/sim-protocol';

export const SHORTCUTS: readonly { keys: string; action: string }[] = [
  { keys: 'Space', action: 'Run / Pause' },
  { keys: '→', action: 'Step (one KVM step)' },
  { keys: 'S', action: 'Snapshot' },
  { keys: 'M', action: 'Migrate' },
  { keys: 'R', action: 'Reset' },
  { keys: '?', action: 'This help' },
];

/** The intent a key stands for, given whether the simulation runs; 'help' for "?"; null for none. */
export function intentForKey(key: string, running: boolean): SimIntent | 'help' | null {
  switch (key) {
    case ' ':
      return { type: running ? 'pause' : 'run' };
    case 'ArrowRight':
      return { type: 'stepKvm' };
    case 's':
    case 'S':
      return { type: 'snapshot' };
    case 'm':
    case 'M':
      return { type: 'migrate' };
    case 'r':
    case 'R':
      return { type: 'reset' };
    case '?':
      return 'help';
    default:
      return null;
  }
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
}

export function useShortcuts(
  isRunning: () => boolean,
  send: (intent: SimIntent) => void,
  openHelp: () => void,
): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (document.querySelector('dialog[open]')) return;
      const what = intentForKey(e.key, isRunning());
      if (what === null) return;
      // Space would also press the focused button; the shortcut wins.
      e.preventDefault();
      if (what === 'help') openHelp();
      else send(what);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [isRunning, send, openHelp]);
}
