import { describe, expect, it } from 'vitest';
import { VirtualClock } from './clock';
import type { JsonValue } from './json';
import { Scheduler } from './scheduler';
import type { ScheduledEvent } from './scheduler';

/** A scheduler whose handlers for kinds a, b and c record "kind:payload@time". */
function recording(): { s: Scheduler; log: string[] } {
  const s = new Scheduler();
  const log: string[] = [];
  for (const kind of ['a', 'b', 'c']) {
    s.on(kind, (payload, e) => log.push(`${e.kind}:${JSON.stringify(payload)}@${e.timeNs}`));
  }
  return { s, log };
}

describe('Scheduler ordering', () => {
  it('fires in time order, ties in insertion order', () => {
    const { s, log } = recording();
    s.schedule(20, 'a', 1);
    s.schedule(10, 'b', 2);
    s.schedule(20, 'c', 3);
    s.schedule(10, 'a', 4);
    s.scheduleAt(10, 'c', 5);
    expect(s.runUntilIdle()).toBe(5);
    expect(log).toEqual(['b:2@10', 'a:4@10', 'c:5@10', 'a:1@20', 'c:3@20']);
    expect(s.nowNs).toBe(20);
  });

  it('step returns the event, advances the clock, and returns undefined when empty', () => {
    const { s, log } = recording();
    const id = s.schedule(7, 'a', { x: [1] });
    const e = s.step();
    expect(e).toEqual({ id, timeNs: 7, seq: id, kind: 'a', payload: { x: [1] } });
    expect(s.nowNs).toBe(7);
    expect(log).toEqual(['a:{"x":[1]}@7']);
    expect(s.step()).toBeUndefined();
    expect(s.nowNs).toBe(7);
  });

  it('ids are the insertion counter, unique and increasing', () => {
    const { s } = recording();
    expect([s.schedule(5, 'a'), s.schedule(1, 'a'), s.scheduleAt(3, 'b')]).toEqual([0, 1, 2]);
  });

  it('events a handler schedules at the current time fire after those already queued for that time', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.on('first', () => {
      log.push('first');
      s.schedule(0, 'spawned');
    });
    s.on('second', () => log.push('second'));
    s.on('spawned', () => log.push('spawned'));
    s.on('later', () => log.push('later'));
    s.schedule(5, 'first');
    s.schedule(5, 'second');
    s.schedule(6, 'later');
    s.runUntilIdle();
    expect(log).toEqual(['first', 'second', 'spawned', 'later']);
  });

  it('a handler can cancel an event due at the same time', () => {
    const s = new Scheduler();
    const log: string[] = [];
    let victim = -1;
    s.on('killer', () => {
      log.push('killer');
      expect(s.cancel(victim)).toBe(true);
    });
    s.on('victim', () => log.push('victim'));
    s.schedule(5, 'killer');
    victim = s.schedule(5, 'victim');
    s.runUntilIdle();
    expect(log).toEqual(['killer']);
  });
});

describe('Scheduler.cancel', () => {
  it('removes exactly that event', () => {
    const { s, log } = recording();
    s.schedule(10, 'a', 1);
    const id = s.schedule(10, 'a', 2);
    s.schedule(10, 'a', 3);
    expect(s.isPending(id)).toBe(true);
    expect(s.cancel(id)).toBe(true);
    expect(s.isPending(id)).toBe(false);
    expect(s.pendingCount).toBe(2);
    s.runUntilIdle();
    expect(log).toEqual(['a:1@10', 'a:3@10']);
  });

  it('returns false for unknown, already cancelled and already fired ids', () => {
    const { s } = recording();
    const fired = s.schedule(1, 'a');
    const cancelled = s.schedule(2, 'a');
    s.step();
    expect(s.cancel(fired)).toBe(false);
    expect(s.cancel(cancelled)).toBe(true);
    expect(s.cancel(cancelled)).toBe(false);
    expect(s.cancel(12345)).toBe(false);
    expect(s.cancel(-1)).toBe(false);
    expect(s.cancel(0.5)).toBe(false);
    expect(s.pendingCount).toBe(0);
  });

  it('a cancelled head is skipped by peek and step', () => {
    const { s, log } = recording();
    const head = s.schedule(1, 'a', 'head');
    s.schedule(2, 'b', 'next');
    s.cancel(head);
    expect(s.peek()?.payload).toBe('next');
    expect(s.step()?.payload).toBe('next');
    expect(log).toEqual(['b:"next"@2']);
  });

  it('keeps the order right across heap compaction after many cancellations', () => {
    const s = new Scheduler();
    const fired: number[] = [];
    s.on('e', (_p, e) => fired.push(e.id));
    const ids: number[] = [];
    // Times cycle so that ties and out-of-order insertion both occur.
    for (let i = 0; i < 5000; i++) ids.push(s.schedule((i * 7919) % 1000, 'e'));
    const kept = ids.filter((id) => id % 5 === 0);
    for (const id of ids) if (id % 5 !== 0) s.cancel(id);
    expect(s.pendingCount).toBe(kept.length);
    s.runUntilIdle();
    const timeOf = (id: number) => (id * 7919) % 1000;
    expect(fired).toEqual([...kept].sort((x, y) => timeOf(x) - timeOf(y) || x - y));
  });
});

describe('Scheduler run methods', () => {
  it('runUntil dispatches events up to and including the target, then sets the clock to it', () => {
    const { s, log } = recording();
    s.schedule(10, 'a');
    s.schedule(20, 'b');
    s.schedule(30, 'c');
    expect(s.runUntil(20)).toBe(2);
    expect(s.nowNs).toBe(20);
    expect(log).toEqual(['a:null@10', 'b:null@20']);
    expect(s.runUntil(25)).toBe(0);
    expect(s.nowNs).toBe(25);
    expect(s.pendingCount).toBe(1);
    expect(() => s.runUntil(24)).toThrow(RangeError);
    expect(s.runUntil(1000)).toBe(1);
    expect(s.nowNs).toBe(1000);
  });

  it('runUntil includes events that handlers schedule inside the window', () => {
    const s = new Scheduler();
    let ticks = 0;
    s.on('tick', () => {
      ticks++;
      s.schedule(10, 'tick');
    });
    s.schedule(0, 'tick');
    expect(s.runUntil(95)).toBe(10); // t = 0, 10, ..., 90
    expect(ticks).toBe(10);
    expect(s.peek()?.timeNs).toBe(100);
  });

  it('runUntilPredicate: true before any event dispatches nothing', () => {
    const { s } = recording();
    s.schedule(5, 'a');
    expect(s.runUntilPredicate(() => true)).toEqual({ reason: 'predicate', dispatched: 0 });
    expect(s.nowNs).toBe(0);
  });

  it('runUntilPredicate: stops right after the event that makes it true', () => {
    const { s, log } = recording();
    for (let i = 1; i <= 5; i++) s.schedule(i * 10, 'a', i);
    expect(s.runUntilPredicate(() => log.length === 3)).toEqual({ reason: 'predicate', dispatched: 3 });
    expect(s.nowNs).toBe(30);
    expect(s.pendingCount).toBe(2);
  });

  it('runUntilPredicate: idle when the queue runs dry, clock left at the last event', () => {
    const { s } = recording();
    s.schedule(10, 'a');
    expect(s.runUntilPredicate(() => false, { limitNs: 500 })).toEqual({ reason: 'idle', dispatched: 1 });
    expect(s.nowNs).toBe(10);
  });

  it('runUntilPredicate: limit dispatches events at the limit, not after, and moves the clock to it', () => {
    const { s, log } = recording();
    s.schedule(10, 'a');
    s.schedule(20, 'b');
    s.schedule(21, 'c');
    expect(s.runUntilPredicate(() => false, { limitNs: 20 })).toEqual({ reason: 'limit', dispatched: 2 });
    expect(s.nowNs).toBe(20);
    expect(log).toEqual(['a:null@10', 'b:null@20']);
    expect(() => s.runUntilPredicate(() => false, { limitNs: 19 })).toThrow(RangeError);
  });

  it('runUntilPredicate: maxEvents', () => {
    const { s } = recording();
    for (let i = 0; i < 10; i++) s.schedule(i, 'a');
    expect(s.runUntilPredicate(() => false, { maxEvents: 4 })).toEqual({
      reason: 'maxEvents',
      dispatched: 4,
    });
    expect(s.pendingCount).toBe(6);
    expect(s.runUntilPredicate(() => false, { maxEvents: 0 })).toEqual({
      reason: 'maxEvents',
      dispatched: 0,
    });
  });

  it('runUntilIdle throws on a runaway chain instead of spinning forever', () => {
    const s = new Scheduler();
    s.on('loop', () => {
      s.schedule(1, 'loop');
    });
    s.schedule(0, 'loop');
    expect(() => s.runUntilIdle(100)).toThrow(/still pending after 100 dispatches/);
    expect(s.nowNs).toBe(99);
    expect(s.pendingCount).toBe(1);
  });

  it('handlers cannot re-enter the run loop', () => {
    const s = new Scheduler();
    s.on('nested', () => {
      s.step();
    });
    s.schedule(1, 'nested');
    expect(() => s.runUntilIdle()).toThrow(/inside an event handler/);
    // The event was dispatched (its handler ran and threw); the scheduler is usable again.
    expect(s.pendingCount).toBe(0);
    s.on('ok', () => {});
    s.schedule(1, 'ok');
    expect(s.step()?.kind).toBe('ok');
  });

  it('an event whose handler throws counts as dispatched', () => {
    const s = new Scheduler();
    s.on('boom', () => {
      throw new Error('handler failed');
    });
    s.schedule(3, 'boom');
    expect(() => s.step()).toThrow('handler failed');
    expect(s.pendingCount).toBe(0);
    expect(s.nowNs).toBe(3);
  });
});

describe('Scheduler errors', () => {
  it('rejects negative, fractional and non-finite delays', () => {
    const { s } = recording();
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => s.schedule(bad, 'a')).toThrow(RangeError);
    }
    expect(() => s.schedule(-1, 'a')).toThrow(/delayNs must be a non-negative safe integer, got -1/);
    expect(s.pendingCount).toBe(0);
  });

  it('rejects scheduling in the past and a time that overflows', () => {
    const { s } = recording();
    s.schedule(100, 'a');
    s.step();
    expect(() => s.scheduleAt(99, 'a')).toThrow(/99 ns is in the past \(now 100 ns\)/);
    expect(s.scheduleAt(100, 'a')).toBe(1);
    expect(() => s.schedule(Number.MAX_SAFE_INTEGER, 'a')).toThrow(/overflows/);
  });

  it('registering the same kind twice throws', () => {
    const { s } = recording();
    expect(() => s.on('a', () => {})).toThrow(/already registered/);
  });

  it('an event with no handler throws on dispatch and stays queued, clock unchanged', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.on('known', () => log.push('known'));
    s.schedule(5, 'known');
    const orphan = s.schedule(10, 'unknown', { keep: true });
    s.schedule(20, 'known');
    s.step();
    expect(() => s.step()).toThrow(/no handler registered for event kind 'unknown'/);
    expect(() => s.runUntilIdle()).toThrow(/'unknown'/);
    expect(s.nowNs).toBe(5);
    expect(s.pendingCount).toBe(2);
    expect(s.isPending(orphan)).toBe(true);
    expect(s.peek()).toEqual({
      id: orphan,
      timeNs: 10,
      seq: orphan,
      kind: 'unknown',
      payload: { keep: true },
    });
    // Registering the handler afterwards lets the run continue exactly where it stopped.
    s.on('unknown', () => log.push('unknown'));
    s.runUntilIdle();
    expect(log).toEqual(['known', 'unknown', 'known']);
  });

  it('refuses to dispatch behind a shared clock that someone moved forward, without losing the event', () => {
    const clock = new VirtualClock();
    const s = new Scheduler(clock);
    s.on('a', () => {});
    s.schedule(10, 'a');
    clock.advanceTo(50);
    expect(() => s.step()).toThrow(RangeError);
    expect(s.pendingCount).toBe(1);
  });
});

describe('Scheduler views, save and restore', () => {
  it('pending() lists copies in firing order; peek() shows the next one', () => {
    const { s } = recording();
    s.schedule(30, 'a', 1);
    s.schedule(10, 'b', 2);
    const cancelled = s.schedule(5, 'c', 3);
    s.schedule(10, 'c', 4);
    s.cancel(cancelled);
    const list = s.pending();
    expect(list.map((e) => [e.kind, e.timeNs, e.payload])).toEqual([
      ['b', 10, 2],
      ['c', 10, 4],
      ['a', 30, 1],
    ]);
    (list[0] as ScheduledEvent).timeNs = 999;
    expect(s.peek()?.timeNs).toBe(10);
    expect(s.pendingCount).toBe(3);
  });

  it('save() is JSON data with deep-copied payloads', () => {
    const { s } = recording();
    const payload = { regs: [1, 2] };
    s.schedule(10, 'a', payload);
    s.step();
    s.schedule(5, 'b', payload);
    const state = s.save();
    payload.regs.push(3);
    expect(JSON.parse(JSON.stringify(state))).toEqual({
      nowNs: 10,
      nextSeq: 2,
      events: [{ id: 1, timeNs: 15, seq: 1, kind: 'b', payload: { regs: [1, 2] } }],
    });
  });

  it('save() names the event whose payload is not JSON', () => {
    const { s } = recording();
    s.schedule(1, 'a', { fine: 1 });
    s.schedule(2, 'b', { bad: undefined } as unknown as JsonValue);
    expect(() => s.save()).toThrow("Scheduler.save: payload of event 1 ('b'): not JSON at $.bad: undefined");
  });

  it('restore keeps handlers, replaces time and queue, and continues the id sequence', () => {
    const a = recording();
    a.s.schedule(10, 'a', 'x');
    a.s.schedule(20, 'b', 'y');
    a.s.step();
    const state = JSON.parse(JSON.stringify(a.s.save())) as unknown;

    const b = recording();
    b.s.schedule(1, 'c', 'will be replaced');
    b.s.restore(state);
    expect(b.s.nowNs).toBe(10);
    expect(b.s.pending()).toEqual(a.s.pending());
    expect(b.s.schedule(0, 'c')).toBe(a.s.schedule(0, 'c'));
    b.s.runUntilIdle();
    a.s.runUntilIdle();
    expect(b.log).toEqual(['c:null@10', 'b:"y"@20']);
    expect(a.log.slice(1)).toEqual(b.log);
  });

  it('restore rejects malformed state and leaves the scheduler unchanged', () => {
    const { s } = recording();
    s.schedule(10, 'a', 1);
    s.schedule(10, 'b', 2);
    s.step();
    s.schedule(30, 'c', { deep: [1] });
    const before = JSON.stringify(s.save());
    const ev = (over: Record<string, unknown>) => ({
      id: 5,
      timeNs: 50,
      seq: 5,
      kind: 'a',
      payload: null,
      ...over,
    });
    const bad: unknown[] = [
      null,
      'state',
      [],
      { nowNs: 0, nextSeq: 0 },
      { nowNs: -1, nextSeq: 0, events: [] },
      { nowNs: 0, nextSeq: 1.5, events: [] },
      { nowNs: 0, nextSeq: 10, events: {} },
      { nowNs: 0, nextSeq: 10, events: [null] },
      { nowNs: 0, nextSeq: 10, events: [ev({ id: 10 })] },
      { nowNs: 0, nextSeq: 10, events: [ev({ seq: -1 })] },
      { nowNs: 60, nextSeq: 10, events: [ev({})] },
      { nowNs: 0, nextSeq: 10, events: [ev({ kind: 7 })] },
      { nowNs: 0, nextSeq: 10, events: [{ id: 5, timeNs: 50, seq: 5, kind: 'a' }] },
      { nowNs: 0, nextSeq: 10, events: [ev({ payload: { n: Number.NaN } })] },
      { nowNs: 0, nextSeq: 10, events: [ev({}), ev({ seq: 6 })] },
      { nowNs: 0, nextSeq: 10, events: [ev({ timeNs: 60 }), ev({ id: 6, seq: 6 })] },
      { nowNs: 0, nextSeq: 10, events: [ev({}), ev({ id: 6 })] },
    ];
    for (const state of bad) {
      expect(() => s.restore(state), JSON.stringify(state)).toThrow(TypeError);
      expect(JSON.stringify(s.save())).toBe(before);
    }
    expect(() => s.restore({ nowNs: 0, nextSeq: 10, events: [ev({ id: 10 })] })).toThrow(
      /events\[0\]\.id must be an integer in \[0, nextSeq\)/,
    );
    expect(s.nowNs).toBe(10);
  });

  it('an empty state resets the queue', () => {
    const { s } = recording();
    s.schedule(10, 'a');
    s.restore({ nowNs: 3, nextSeq: 100, events: [] });
    expect(s.pendingCount).toBe(0);
    expect(s.nowNs).toBe(3);
    expect(s.schedule(1, 'a')).toBe(100);
  });

  it('restore validates payloads as JSON and copies them', () => {
    const { s } = recording();
    const payload: JsonValue = { a: 1 };
    const state = { nowNs: 0, nextSeq: 1, events: [{ id: 0, timeNs: 1, seq: 0, kind: 'a', payload }] };
    s.restore(state);
    (payload as { a: number }).a = 2;
    expect(s.peek()?.payload).toEqual({ a: 1 });
  });
});
