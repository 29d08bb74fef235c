import { describe, expect, it } from 'vitest';
import { formatNs, NS_PER_MS, NS_PER_S, NS_PER_US, VirtualClock } from './clock';

describe('formatNs', () => {
  it('renders like the dmesg prefix, truncating to microseconds', () => {
    expect(formatNs(0)).toBe('[    0.000000]');
    expect(formatNs(999)).toBe('[    0.000000]');
    expect(formatNs(NS_PER_US)).toBe('[    0.000001]');
    expect(formatNs(1_234_567_890)).toBe('[    1.234567]');
    expect(formatNs(12 * NS_PER_S + 5 * NS_PER_MS)).toBe('[   12.005000]');
    expect(formatNs(99_999 * NS_PER_S + 999_999_999)).toBe('[99999.999999]');
    expect(formatNs(123_456 * NS_PER_S)).toBe('[123456.000000]');
  });

  it('stays exact at the top of the safe integer range, where float division would round up', () => {
    // 9007199254740991 ns / 1e9 as a float is 9007199.254740991 and toFixed(6) would print ...254741.
    expect(formatNs(Number.MAX_SAFE_INTEGER)).toBe('[9007199.254740]');
  });

  it('rejects negative, fractional and non-finite input', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => formatNs(bad)).toThrow(RangeError);
    }
  });
});

describe('VirtualClock', () => {
  it('starts at 0 and moves forward, including to the same time', () => {
    const clock = new VirtualClock();
    expect(clock.nowNs).toBe(0);
    clock.advanceTo(10);
    clock.advanceTo(10);
    clock.advanceTo(NS_PER_S);
    expect(clock.nowNs).toBe(NS_PER_S);
  });

  it('refuses to go backwards, naming both times', () => {
    const clock = new VirtualClock(100);
    expect(() => clock.advanceTo(99)).toThrow(RangeError);
    expect(() => clock.advanceTo(99)).toThrow(/99 ns is in the past \(now 100 ns\)/);
    expect(clock.nowNs).toBe(100);
  });

  it('refuses times that are not non-negative safe integers', () => {
    const clock = new VirtualClock(5);
    for (const bad of [5.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => clock.advanceTo(bad)).toThrow(/non-negative safe integer/);
    }
    expect(() => new VirtualClock(-1)).toThrow(RangeError);
    expect(clock.nowNs).toBe(5);
  });

  it('saves and restores, and load() rewinds in place for snapshots', () => {
    const clock = new VirtualClock(42);
    const state = clock.save();
    expect(state).toEqual({ nowNs: 42 });
    expect(VirtualClock.restore(JSON.parse(JSON.stringify(state))).nowNs).toBe(42);
    clock.advanceTo(1000);
    clock.load(state);
    expect(clock.nowNs).toBe(42);
  });

  it('rejects malformed state', () => {
    for (const bad of [null, 42, {}, { nowNs: -1 }, { nowNs: '5' }, { nowNs: 1.5 }]) {
      expect(() => VirtualClock.restore(bad)).toThrow(TypeError);
    }
    const clock = new VirtualClock(7);
    expect(() => clock.load({ nowNs: -3 })).toThrow(TypeError);
    expect(clock.nowNs).toBe(7);
  });
});
