import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareFiring, EventHeap, firesBefore } from './event-heap';

interface Item {
  timeNs: number;
  seq: number;
}

describe('EventHeap', () => {
  it('PROPERTY: pops in (timeNs, seq) order, with pushes, pops and rebuilds interleaved', () => {
    const opArb = fc.oneof(
      fc.integer({ min: 0, max: 30 }).map((t) => ({ push: t })),
      fc.constant({ pop: true }),
      fc.constant({ rebuild: true }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const heap = new EventHeap<Item>();
        let model: Item[] = [];
        let seq = 0;
        for (const o of ops) {
          if ('push' in o) {
            const item = { timeNs: o.push, seq: seq++ };
            heap.push(item);
            model.push(item);
          } else if ('pop' in o) {
            model.sort(compareFiring);
            expect(heap.pop()).toBe(model.shift());
          } else {
            heap.replaceAll([...heap.unordered()].reverse());
          }
          model.sort(compareFiring);
          expect(heap.size).toBe(model.length);
          expect(heap.peek()).toBe(model[0]);
        }
        model = model.sort(compareFiring);
        for (const item of model) expect(heap.pop()).toBe(item);
        expect(heap.pop()).toBeUndefined();
      }),
    );
  });

  it('orders equal times by seq and compares large safe integers exactly', () => {
    const big = Number.MAX_SAFE_INTEGER;
    expect(firesBefore({ timeNs: 5, seq: 1 }, { timeNs: 5, seq: 2 })).toBe(true);
    expect(firesBefore({ timeNs: 5, seq: 2 }, { timeNs: 5, seq: 2 })).toBe(false);
    expect(compareFiring({ timeNs: big, seq: 0 }, { timeNs: big - 1, seq: 9 })).toBeGreaterThan(0);
  });

  it('grows past its initial capacity and shrinks again as it drains', () => {
    const heap = new EventHeap<Item>();
    for (let i = 0; i < 1000; i++) heap.push({ timeNs: (i * 37) % 101, seq: i });
    let last: Item | undefined;
    for (let i = 0; i < 1000; i++) {
      const item = heap.pop() as Item;
      if (last !== undefined) expect(firesBefore(last, item)).toBe(true);
      last = item;
    }
    expect(heap.size).toBe(0);
  });
});
