import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneJson, stableStringify } from './json';
import type { JsonValue } from './json';

/** The same value with every object's keys inserted in reverse order. */
function reverseKeys(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    // fromEntries defines own properties, so a '__proto__' key (fast-check generates one) stays a key.
    return Object.fromEntries(
      Object.keys(v)
        .reverse()
        .map((k) => [k, reverseKeys(v[k] as JsonValue)]),
    );
  }
  return v;
}

describe('stableStringify', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(stableStringify({ b: 1, a: { d: [3, 1, { z: null, y: true }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,1,{"y":true,"z":null}]},"b":1}',
    );
    expect(stableStringify({ b: 1, a: 2 })).toBe(stableStringify({ a: 2, b: 1 }));
  });

  it('writes scalars like JSON.stringify', () => {
    expect(stableStringify(null)).toBe('null');
    expect(stableStringify(-0)).toBe('0');
    expect(stableStringify(1e21)).toBe('1e+21');
    expect(stableStringify('quote " and \\ and \n and é and \u2028')).toBe(
      JSON.stringify('quote " and \\ and \n and é and \u2028'),
    );
  });

  it('rejects undefined, naming the path', () => {
    const v = { a: [1, { b: undefined }] } as unknown as JsonValue;
    expect(() => stableStringify(v)).toThrow(TypeError);
    expect(() => stableStringify(v)).toThrow('$.a[1].b');
  });

  it('rejects non-finite numbers, functions, symbols, bigint, cycles and class instances', () => {
    const cyclic: { [k: string]: unknown } = {};
    cyclic.self = cyclic;
    const bad: [unknown, string][] = [
      [{ x: Number.NaN }, '$.x: non-finite number NaN'],
      [[Number.POSITIVE_INFINITY], '$[0]: non-finite number Infinity'],
      [{ f: () => 1 }, '$.f: function'],
      [{ s: Symbol('s') }, '$.s: symbol'],
      [{ n: 1n }, '$.n: bigint'],
      [cyclic, '$.self: circular reference'],
      [{ bytes: new Uint8Array(2) }, '$.bytes: not a plain object'],
      [{ 'odd key': undefined }, '$["odd key"]: undefined'],
      [[1, , 3], '$[1]: undefined'], // eslint-disable-line no-sparse-arrays
    ];
    for (const [value, message] of bad) {
      expect(() => stableStringify(value as JsonValue)).toThrow(message);
      expect(() => cloneJson(value as JsonValue)).toThrow(message);
    }
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    expect(stableStringify({ a: shared, b: [shared] })).toBe('{"a":{"k":1},"b":[{"k":1}]}');
  });

  it('PROPERTY: round-trips through JSON.parse and ignores key insertion order', () => {
    // Found by this property once: an own '__proto__' key must be kept as data.
    expect(stableStringify(JSON.parse('{"":{"__proto__":null}}') as JsonValue)).toBe(
      '{"":{"__proto__":null}}',
    );
    fc.assert(
      fc.property(fc.jsonValue(), (raw) => {
        const v = raw as JsonValue;
        const text = stableStringify(v);
        expect(stableStringify(JSON.parse(text) as JsonValue)).toBe(text);
        expect(stableStringify(reverseKeys(v))).toBe(text);
      }),
    );
  });
});

describe('cloneJson', () => {
  it('makes a deep copy that shares nothing', () => {
    const original: JsonValue = { a: [1, { b: 2 }], c: 'x' };
    const copy = cloneJson(original) as { a: [number, { b: number }] };
    expect(copy).toEqual(original);
    copy.a[1].b = 99;
    expect(original).toEqual({ a: [1, { b: 2 }], c: 'x' });
  });

  it("copies a '__proto__' key as data instead of changing the prototype", () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"x":1}') as JsonValue;
    const copy = cloneJson(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'x']);
    expect(stableStringify(copy as JsonValue)).toBe('{"__proto__":{"polluted":true},"x":1}');
  });
});
