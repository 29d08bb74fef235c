import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import { HmacDrbg } from '../../kernel/drbg';
import { ECC_CURVE } from '../constants';
import { eccCurve, generateEccKey } from './ecc';
import { bytesToBigInt } from './rsa';

describe('ECC key generation', () => {
  const curve = eccCurve(ECC_CURVE.NIST_P256)!;

  it('implements NIST P-256 only', () => {
    expect(curve.byteLength).toBe(32);
    expect(curve.order).toBe(0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n);
    expect(eccCurve(ECC_CURVE.NIST_P384)).toBeUndefined();
  });

  it('the public point is d·G on P-256, and d is in [1, n − 1]', () => {
    for (let i = 0; i < 8; i++) {
      const key = generateEccKey(HmacDrbg.fromSeed(`ecc-${i}`), curve);
      expect(key.d >= 1n && key.d < curve.order).toBe(true);
      const q = p256.Point.BASE.multiply(key.d).toAffine();
      expect(bytesToBigInt(key.x)).toBe(q.x);
      expect(bytesToBigInt(key.y)).toBe(q.y);
      expect(key.x.length).toBe(32);
      expect(key.y.length).toBe(32);
      expect(curve.isOnCurve(q.x, q.y)).toBe(true);
    }
  });

  it('takes d from 40 random octets as FIPS 186-4 B.4.1: (c mod (n − 1)) + 1', () => {
    const stream = HmacDrbg.fromSeed('b41');
    const key = generateEccKey(stream, curve);
    const c = bytesToBigInt(HmacDrbg.fromSeed('b41').generate(40));
    expect(key.d).toBe((c % (curve.order - 1n)) + 1n);
  });

  it('rejects points off the curve', () => {
    expect(curve.isOnCurve(1n, 2n)).toBe(false);
  });
});
