import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashByName } from '../hash';
import { fromHex, hex } from '../marshal';
import { kdfa, kdfLabel } from './kdf';

const sha1 = hashByName('sha1');
const sha256 = hashByName('sha256');
const sha384 = hashByName('sha384');

describe('KDFa (SP 800-108 counter mode, TPM 2.0 Part 1 §11.4.10.2)', () => {
  it('matches the published KDFa test vector (wolfTPM tests/unit_tests.c test_TPM2_KDFa)', () => {
    // Key, label, contexts and expected output as in wolfTPM's unit test (SHA-256, 160 bits).
    const key = fromHex('271FA08BBDC5060EC3DFA928FF9B73123A12DA0C');
    const contextU = fromHex('CE244F395DCA7391');
    const contextV = fromHex('DA504031DDF12E83');
    expect(hex(kdfa(sha256, key, 'KDFSELFTESTLABEL', contextU, contextV, 160))).toBe(
      'bb0259e1c8ba607e6a2cd704b69a902e9ade84c4',
    );
  });

  it('is HMAC([i] || label || 00 || U || V || [bits]) block by block, for every hash', () => {
    const key = new Uint8Array(40).map((_, i) => i * 7);
    const u = fromHex('0102030405');
    const v = fromHex('a0a1');
    for (const [alg, name] of [
      [sha1, 'sha1'],
      [sha256, 'sha256'],
      [sha384, 'sha384'],
    ] as const) {
      const bits = 8 * (alg.digestSize * 2 + 5); // three blocks, the last one truncated
      const expected = Buffer.concat(
        [1, 2, 3].map((i) => {
          const mac = createHmac(name, key);
          const be32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
          mac.update(be32(i)).update('STORAGE\0').update(u).update(v).update(be32(bits));
          return mac.digest();
        }),
      ).subarray(0, bits / 8);
      expect(hex(kdfa(alg, key, 'STORAGE', u, v, bits))).toBe(expected.toString('hex'));
    }
  });

  it('appends the label terminator only when the label lacks one', () => {
    expect(hex(kdfLabel('AB'))).toBe('414200');
    expect(hex(kdfLabel(fromHex('414200')))).toBe('414200');
    expect(hex(kdfLabel(''))).toBe('00');
    const key = new Uint8Array(32).fill(9);
    const empty = new Uint8Array(0);
    expect(kdfa(sha256, key, 'INTEGRITY', empty, empty, 256)).toEqual(
      kdfa(sha256, key, fromHex('494e5445475249545900'), empty, empty, 256), // "INTEGRITY\0"
    );
  });

  it('binds the requested length: a shorter output is not a prefix of a longer one', () => {
    const key = new Uint8Array(32).fill(1);
    const empty = new Uint8Array(0);
    const long = kdfa(sha256, key, 'X', empty, empty, 512);
    const short = kdfa(sha256, key, 'X', empty, empty, 256);
    expect(long.length).toBe(64);
    expect(short.length).toBe(32);
    expect(hex(long.subarray(0, 32))).not.toBe(hex(short));
  });

  it('clears the surplus high bits when the size is not a whole number of octets', () => {
    const key = new Uint8Array(32).fill(3);
    const empty = new Uint8Array(0);
    for (let trial = 0; trial < 16; trial++) {
      const out = kdfa(sha256, key, `L${trial}`, empty, empty, 9);
      expect(out.length).toBe(2);
      expect(out[0]! & 0xfe).toBe(0);
      // The kept bits are those of the whole-octet computation with [L] = 9 (not a truncation of 16).
      const mac = createHmac('sha256', key)
        .update(Buffer.from([0, 0, 0, 1]))
        .update(`L${trial}\0`)
        .update(Buffer.from([0, 0, 0, 9]))
        .digest();
      expect(out[0]).toBe(mac[0]! & 1);
      expect(out[1]).toBe(mac[1]);
    }
  });

  it('returns nothing for 0 bits and refuses nonsense sizes', () => {
    const k = new Uint8Array(1);
    expect(kdfa(sha256, k, 'a', k, k, 0).length).toBe(0);
    expect(() => kdfa(sha256, k, 'a', k, k, -1)).toThrow(RangeError);
    expect(() => kdfa(sha256, k, 'a', k, k, 1.5)).toThrow(RangeError);
  });
});
