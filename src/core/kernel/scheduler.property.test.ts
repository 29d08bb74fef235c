// Model-based properties of the scheduler: firing order against a reference sort, and exact continuation
// after save, JSON round trip and restore into a fresh instance.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from './json';
import { Scheduler } from './scheduler';

type Op =
  | { op: 'schedule'; delay: number; kind: 'a' | 'b'; payload: number }
  | { op: 'cancel'; id: number }
  | { op: 'step' }
  | { op: 'runUntil'; dt: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('schedule' as const),
      delay: fc.integer({ min: 0, max: 20 }), // a small range makes equal times (ties) common
      kind: fc.constantFrom('a' as const, 'b' as const),
      payload: fc.integer({ min: 0, max: 1000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('cancel' as const), id: fc.integer({ min: -1, max: 60 }) }),
  },
  { weight: 3, arbitrary: fc.constant({ op: 'step' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('runUntil' as const), dt: fc.integer({ min: 0, max: 15 }) }),
  },
);

type Dispatch = [kind: string, payload: JsonValue, timeNs: number, id: number];

/**
 * A scheduler whose 'b' handler itself schedules and cancels, so the property also covers events created
 * during dispatch, zero-delay events and cancellation from inside a handler.
 */
function build(log: Dispatch[]): Scheduler {
  const s = new Scheduler();
  s.on('a', (payload, e) => {
    log.push([e.kind, payload, e.timeNs, e.id]);
  });
  s.on('b', (payload, e) => {
    log.push([e.kind, payload, e.timeNs, e.id]);
    const n = payload as number;
    if (n % 3 === 0) s.schedule(n % 4, 'a', n + 1);
    if (n % 7 === 0) s.cancel(e.id + 1);
  });
  return s;
}

/** Applies one op and returns its observable result. */
function apply(s: Scheduler, o: Op): unknown {
  switch (o.op) {
    case 'schedule':
      return s.schedule(o.delay, o.kind, o.payload);
    case 'cancel':
      return s.cancel(o.id);
    case 'step':
      return s.step()?.id ?? null;
    case 'runUntil':
      return s.runUntil(s.nowNs + o.dt);
  }
}

describe('Scheduler properties', () => {
  it('PROPERTY: save, JSON round trip and restore into a fresh scheduler continues identically', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), fc.nat(), (ops, cut) => {
        const at = cut % (ops.length + 1);
        const logA: Dispatch[] = [];
        const a = build(logA);
        for (const o of ops.slice(0, at)) apply(a, o);

        const state = JSON.parse(JSON.stringify(a.save())) as unknown;
        const logB: Dispatch[] = [];
        const b = build(logB);
        b.restore(state);
        expect(b.save()).toEqual(a.save());
        logA.length = 0;

        for (const o of ops.slice(at)) expect(apply(b, o)).toEqual(apply(a, o));
        a.runUntilIdle();
        b.runUntilIdle();
        expect(logB).toEqual(logA);
        expect(b.nowNs).toBe(a.nowNs);
        // New ids continue from the same counter.
        expect(b.schedule(0, 'a')).toBe(a.schedule(0, 'a'));
      }),
    );
  });

  it('PROPERTY: dispatch order is the (timeNs, seq) sort of the events that were not cancelled', () => {
    const scheduleArb = fc.record({ delay: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.array(scheduleArb, { maxLength: 30 }), { maxLength: 5 }), (rounds) => {
        const s = new Scheduler();
        const fired: number[] = [];
        s.on('e', (_p, e) => fired.push(e.id));
        const expected: number[] = [];
        // Several rounds: schedule a batch, cancel some, run part way, so time has moved between batches.
        for (const round of rounds) {
          const batch = round.map((r) => ({ id: s.schedule(r.delay, 'e'), timeNs: s.nowNs + r.delay, ...r }));
          for (const e of batch) if (e.cancel) expect(s.cancel(e.id)).toBe(true);
          const live = batch.filter((e) => !e.cancel);
          const reference = [...live, ...s.pending().filter((p) => !batch.some((e) => e.id === p.id))];
          reference.sort((x, y) => x.timeNs - y.timeNs || x.id - y.id);
          expect(s.pending().map((e) => e.id)).toEqual(reference.map((e) => e.id));
          const half = Math.floor(reference.length / 2);
          for (let i = 0; i < half; i++) expected.push((reference[i] as { id: number }).id);
          for (let i = 0; i < half; i++) s.step();
          expect(fired).toEqual(expected);
        }
        const rest = s.pending().map((e) => e.id);
        s.runUntilIdle();
        expect(fired).toEqual([...expected, ...rest]);
      }),
    );
  });

  it('PROPERTY: matches a naive reference queue op by op (peek, pendingCount, isPending, step)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const s = new Scheduler();
        s.on('a', () => {});
        s.on('b', () => {});
        const model: { id: number; timeNs: number }[] = [];
        let now = 0;
        let nextId = 0;
        const popModel = () => {
          model.sort((x, y) => x.timeNs - y.timeNs || x.id - y.id);
          return model.shift();
        };
        for (const o of ops) {
          if (o.op === 'schedule') {
            model.push({ id: nextId, timeNs: now + o.delay });
            expect(s.schedule(o.delay, o.kind, o.payload)).toBe(nextId++);
          } else if (o.op === 'cancel') {
            const i = model.findIndex((e) => e.id === o.id);
            if (i >= 0) model.splice(i, 1);
            expect(s.cancel(o.id)).toBe(i >= 0);
          } else if (o.op === 'step') {
            const next = popModel();
            if (next !== undefined) now = next.timeNs;
            expect(s.step()?.id).toBe(next?.id);
          } else {
            const target = now + o.dt;
            let n = 0;
            for (;;) {
              model.sort((x, y) => x.timeNs - y.timeNs || x.id - y.id);
              const head = model[0];
              if (head === undefined || head.timeNs > target) break;
              popModel();
              n++;
            }
            now = target;
            expect(s.runUntil(target)).toBe(n);
          }
          model.sort((x, y) => x.timeNs - y.timeNs || x.id - y.id);
          expect(s.nowNs).toBe(now);
          expect(s.pendingCount).toBe(model.length);
          expect(s.peek()?.id).toBe(model[0]?.id);
          for (let id = 0; id < nextId; id++) expect(s.isPending(id)).toBe(model.some((e) => e.id === id));
        }
      }),
    );
  });
});
