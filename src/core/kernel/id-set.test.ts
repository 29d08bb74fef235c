import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdSet } from './id-set';

describe('IdSet', () => {
  it('PROPERTY: behaves like a Set<number> under adds, deletes and lookups', () => {
    // Ids near each other, ids that collide modulo the table size, and ids beyond 2^32.
    const idArb = fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 0, max: 8 }).map((k) => k * 16 + 3),
      fc.integer({ min: 0, max: 4 }).map((k) => 2 ** 32 + k * 1024),
      fc.constant(Number.MAX_SAFE_INTEGER),
    );
    const opArb = fc.record({ kind: fc.constantFrom('add', 'delete', 'has'), id: idArb });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const set = new IdSet();
        const model = new Set<number>();
        for (const { kind, id } of ops) {
          if (kind === 'add') {
            if (!model.has(id)) {
              set.add(id);
              model.add(id);
            }
          } else if (kind === 'delete') {
            expect(set.delete(id)).toBe(model.delete(id));
          } else {
            expect(set.has(id)).toBe(model.has(id));
          }
          expect(set.size).toBe(model.size);
        }
        for (const id of model) expect(set.has(id)).toBe(true);
      }),
    );
  });

  it('handles a long run of consecutive ids deleted in any order, growing and shrinking', () => {
    const set = new IdSet();
    const n = 100_000;
    for (let i = 0; i < n; i++) set.add(i);
    let deleted = 0;
    for (let i = 0; i < n; i += 2) if (set.delete(i)) deleted++;
    for (let i = n - 1; i > 0; i -= 2) if (set.delete(i)) deleted++;
    expect(deleted).toBe(n);
    expect(set.size).toBe(0);
    expect(set.has(5)).toBe(false);
  });

  it('never reports negative numbers or NaN as members, and refuses to add them', () => {
    const set = new IdSet();
    set.add(0);
    expect(set.has(-1)).toBe(false);
    expect(set.delete(-1)).toBe(false);
    expect(set.has(Number.NaN)).toBe(false);
    expect(set.size).toBe(1);
    expect(() => set.add(-1)).toThrow(RangeError);
    expect(() => set.add(1.5)).toThrow(RangeError);
  });
});
