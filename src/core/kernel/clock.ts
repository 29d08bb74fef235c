// Virtual time. Everything in the simulation reads time from here, never from the host, so a run is a pure
// function of its inputs. Time is integer nanoseconds in a JS number: exact up to 2^53 ns (about 104 days).
import { isRecord, isSafeNonNegInt, show } from './checks';

export const NS_PER_US = 1000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export interface ClockState {
  nowNs: number;
}

export class VirtualClock {
  private now: number;

  constructor(nowNs = 0) {
    if (!isSafeNonNegInt(nowNs)) {
      throw new RangeError(
        `VirtualClock: start time must be a non-negative safe integer of ns, got ${show(nowNs)}`,
      );
    }
    this.now = nowNs;
  }

  get nowNs(): number {
    return this.now;
  }

  /** Moves time forward to tNs. Time never goes backwards, except through load() from a snapshot. */
  advanceTo(tNs: number): void {
    // One combined check keeps the hot path (called once per dispatched event) to a single branch.
    if (!(Number.isSafeInteger(tNs) && tNs >= this.now)) {
      throw new RangeError(
        isSafeNonNegInt(tNs)
          ? `VirtualClock.advanceTo: ${tNs} ns is in the past (now ${this.now} ns); time only moves forward`
          : `VirtualClock.advanceTo: time must be a non-negative safe integer of ns, got ${show(tNs)}`,
      );
    }
    this.now = tNs;
  }

  save(): ClockState {
    return { nowNs: this.now };
  }

  /**
   * Replaces the time in place from a snapshot, possibly moving it backwards. It is in place, not a new
   * clock, because devices hold a reference to the clock they were built with.
   */
  load(state: unknown): void {
    this.now = VirtualClock.validate(state).nowNs;
  }

  static restore(state: unknown): VirtualClock {
    return new VirtualClock(VirtualClock.validate(state).nowNs);
  }

  private static validate(state: unknown): ClockState {
    if (!isRecord(state) || !isSafeNonNegInt(state.nowNs)) {
      throw new TypeError(
        `VirtualClock.restore: expected { nowNs: non-negative safe integer }, got nowNs ${show(isRecord(state) ? state.nowNs : state)}`,
      );
    }
    return { nowNs: state.nowNs };
  }
}

/**
 * Renders a time like the kernel log prefix: "[    1.234567]" (seconds padded to 5, then microseconds).
 * Integer arithmetic only, truncating like printk does, so large times never pick up float rounding.
 */
export function formatNs(ns: number): string {
  if (!isSafeNonNegInt(ns)) {
    throw new RangeError(`formatNs: expected a non-negative safe integer, got ${show(ns)}`);
  }
  const subSecond = ns % NS_PER_S; // exact: % on integral doubles is exact
  const seconds = (ns - subSecond) / NS_PER_S; // exact: the dividend is a multiple of the divisor
  const micros = (subSecond - (subSecond % NS_PER_US)) / NS_PER_US;
  return `[${String(seconds).padStart(5, ' ')}.${String(micros).padStart(6, '0')}]`;
}
