// The UI stores (zustand). useSettings: the user's page settings (theme, large type), persisted. useSim:
// what the simulation Worker last said (its view, the trace window for the Lanes, the last snapshot file)
// and `send`, which carries an intent to the Worker. Components read slices with selectors and send
// intents; they never compute the model.
import { create } from 'zustand';
import type { TraceEvent } from '../core/kernel/trace';
import type { TisDetail } from '../core/vm/machine-details';
import type { SimIntent, SimMessage, SimView } from '../workers/sim-protocol';
import { stabilize } from './sim/stable-view';
import { readStoredPreference, writeStoredPreference, type ThemePreference } from './theme';

export interface SettingsState {
  themePreference: ThemePreference;
  setThemePreference: (pref: ThemePreference) => void;
  /** Bigger type for projectors. */
  largeType: boolean;
  setLargeType: (on: boolean) => void;
}

function browserStorage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

export const LARGE_TYPE_KEY = 'tislab.largeType';

function readLargeType(): boolean {
  try {
    return browserStorage()?.getItem(LARGE_TYPE_KEY) === '1';
  } catch {
    return false;
  }
}

export const useSettings = create<SettingsState>((set) => ({
  themePreference: readStoredPreference(browserStorage()),
  setThemePreference: (pref) => {
    writeStoredPreference(browserStorage(), pref);
    set({ themePreference: pref });
  },
  largeType: readLargeType(),
  setLargeType: (on) => {
    try {
      if (on) browserStorage()?.setItem(LARGE_TYPE_KEY, '1');
      else browserStorage()?.removeItem(LARGE_TYPE_KEY);
    } catch {
      // Not persisting is acceptable.
    }
    set({ largeType: on });
  },
}));

/** How many trace events the page keeps for the Lanes (the Worker's trace has them all, hashed). */
export const MAX_TRACE_EVENTS = 20_000;

export interface SimState {
  view: SimView | null;
  /** The TIS registers of the view before this one: the TIS panel highlights the bits that changed. */
  previousTis: TisDetail | null;
  events: TraceEvent[];
  snapshot: { bytes: Uint8Array; atNs: number } | null;
  /** The Worker could not start or stopped answering. */
  workerError: string | null;
  send: (intent: SimIntent) => void;
  /** Set by the Worker connection; before it exists intents go nowhere. */
  setSender: (send: (intent: SimIntent) => void) => void;
  /** Applies the Worker's messages of one frame at once (one render). */
  receiveAll: (messages: readonly SimMessage[]) => void;
  setWorkerError: (message: string) => void;
}

export const useSim = create<SimState>((set, get) => ({
  view: null,
  previousTis: null,
  events: [],
  snapshot: null,
  workerError: null,
  send: () => {},
  setSender: (send) => set({ send }),
  setWorkerError: (message) => set({ workerError: message }),
  receiveAll: (messages) => {
    const state = get();
    let { view, previousTis, events, snapshot } = state;
    for (const message of messages) {
      switch (message.type) {
        case 'view': {
          const next = stabilize(view, message.view);
          // A view that changed no register (a switch flipped, a busy note) keeps the step's highlights.
          if (next.tis !== view?.tis && !sameRegisters(view?.tis ?? null, next.tis))
            previousTis = view?.tis ?? null;
          view = next;
          break;
        }
        case 'trace': {
          const kept = message.reset ? [] : events;
          events = kept.concat(message.events);
          if (events.length > MAX_TRACE_EVENTS) events = events.slice(-MAX_TRACE_EVENTS);
          break;
        }
        case 'snapshot':
          snapshot = { bytes: message.bytes, atNs: message.atNs };
          break;
        case 'error':
          // The view that follows carries the error.
          break;
      }
    }
    set({ view, previousTis, events, snapshot });
  },
}));

function sameRegisters(a: TisDetail | null, b: TisDetail | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.rwOffset !== b.rwOffset || a.activeLocality !== b.activeLocality) return false;
  return a.localities.every((l, i) => {
    const o = b.localities[i];
    return (
      o !== undefined &&
      l.state === o.state &&
      l.access === o.access &&
      l.sts === o.sts &&
      l.inte === o.inte &&
      l.ints === o.ints
    );
  });
}
