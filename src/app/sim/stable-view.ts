// Views arrive as fresh objects up to sixty times a second, but most of a view does not change between
// two frames of a run (the registers while the driver polls, the console, the transaction). Keeping the
// previous object for every part that is equal lets zustand's selectors skip the panels that did not
// change, which is what keeps the page answering at full run speed.
import type { SimView } from '../../workers/sim-protocol';

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Structural equality for plain data (views are structured-clone data: no cycles, no functions). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return sameBytes(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** `next` with every part that equals the same part of `old` replaced by old's object. */
export function stabilize(old: SimView | null, next: SimView): SimView {
  if (old === null) return next;
  const keep = <T>(a: T, b: T): T => (deepEqual(a, b) ? a : b);
  let machine = next.machine;
  if (machine && old.machine) {
    machine = {
      ...machine,
      console: sameArray(old.machine.console, machine.console) ? old.machine.console : machine.console,
      hazards: keep(old.machine.hazards, machine.hazards),
      vcpu: keep(old.machine.vcpu, machine.vcpu),
    };
    if (deepEqual(old.machine, machine)) machine = old.machine;
  }
  return {
    ...next,
    machine,
    settings: keep(old.settings, next.settings),
    guest: keep(old.guest, next.guest),
    tis: keep(old.tis, next.tis),
    tisActive: sameArray(old.tisActive, next.tisActive) ? old.tisActive : next.tisActive,
    lastTransition: keep(old.lastTransition, next.lastTransition),
    transaction: stableTransaction(old.transaction, next.transaction),
    snapshot: keep(old.snapshot, next.snapshot),
    cut: keep(old.cut, next.cut),
    markers: keep(old.markers, next.markers),
  };
}

/** The transaction, with its command, response and received bytes kept apart: they change at different times. */
function stableTransaction(
  old: SimView['transaction'],
  next: SimView['transaction'],
): SimView['transaction'] {
  if (old === null || next === null) return next;
  if (deepEqual(old, next)) return old;
  return {
    ...next,
    command: sameBytes(old.command, next.command) ? old.command : next.command,
    response: sameBytes(old.response, next.response) ? old.response : next.response,
    received: sameArray(old.received, next.received) ? old.received : next.received,
  };
}
