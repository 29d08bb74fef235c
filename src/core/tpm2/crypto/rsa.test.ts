import { checkPrimeSync, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HmacDrbg } from '../../kernel/drbg';
import {
  bigIntToBytes,
  bitLength,
  bytesToBigInt,
  generateProbablePrime,
  generateRsaKey,
  isProbablePrime,
  isSmallPrime,
  millerRabinRounds,
  modInverse,
  modPow,
  rsaPrivateFromPrime,
  type RsaPrivateKey,
} from './rsa';

function naiveModPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r % m;
}

const b64u = (v: bigint) => Buffer.from(bigIntToBytes(v, Math.ceil(bitLength(v) / 8))).toString('base64url');

function jwk(k: RsaPrivateKey) {
  return {
    kty: 'RSA',
    n: b64u(k.n),
    e: b64u(k.e),
    d: b64u(k.d),
    p: b64u(k.p),
    q: b64u(k.q),
    dp: b64u(k.dp),
    dq: b64u(k.dq),
    qi: b64u(k.qInv),
  };
}

const toBuf = (v: bigint) => Buffer.from(bigIntToBytes(v, Math.ceil(bitLength(v) / 8)));

describe('bigint helpers', () => {
  it('modPow agrees with square-and-multiply for any sizes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 700n }),
        fc.bigInt({ min: 0n, max: 1n << 1100n }),
        fc.bigInt({ min: 1n, max: 1n << 1030n }),
        (b, e, m) => {
          expect(modPow(b, e, m)).toBe(naiveModPow(b, e, m));
        },
      ),
      { numRuns: 60 },
    );
    expect(modPow(5n, 0n, 7n)).toBe(1n);
    expect(modPow(5n, 3n, 1n)).toBe(0n);
  });

  it('modInverse inverts and refuses non-invertible values', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 300n }), (a) => {
        const m = (1n << 127n) - 1n; // a Mersenne prime
        if (a % m === 0n) return;
        expect((modInverse(a, m) * a) % m).toBe(1n);
      }),
    );
    expect(() => modInverse(6n, 9n)).toThrow(RangeError);
  });

  it('converts between bytes and bigints, big-endian and padded', () => {
    expect(bytesToBigInt(Uint8Array.of(1, 0))).toBe(256n);
    expect(bytesToBigInt(new Uint8Array(0))).toBe(0n);
    expect([...bigIntToBytes(256n, 3)]).toEqual([0, 1, 0]);
    expect(() => bigIntToBytes(1n << 24n, 3)).toThrow(RangeError);
  });

  it('uses the Miller–Rabin round counts of FIPS 186-4 Table C.3', () => {
    expect(millerRabinRounds(512)).toBe(7);
    expect(millerRabinRounds(1024)).toBe(5);
    expect(millerRabinRounds(1536)).toBe(4);
  });
});

describe('probable primes', () => {
  const rng = () => HmacDrbg.fromSeed('mr');

  it('recognises primes and composites, including pseudoprimes that fool a base-2 test', () => {
    expect(isProbablePrime((1n << 127n) - 1n, 5, rng())).toBe(true);
    expect(isProbablePrime((1n << 521n) - 1n, 5, rng())).toBe(true);
    expect(isProbablePrime(65537n, 5, rng())).toBe(true);
    expect(isProbablePrime(561n, 5, rng())).toBe(false); // Carmichael number
    expect(isProbablePrime((1n << 128n) + 1n, 5, rng())).toBe(false);
    // 149491 · 747451 · 34233211: a strong pseudoprime to bases 2–23 with no factor below 2^16, so only
    // the random-base rounds can reject it.
    expect(isProbablePrime(3825123056546413051n, 5, rng())).toBe(false);
  });

  it('generates primes of exactly the requested size with the top two bits set', () => {
    const stats = { candidates: 0 };
    const p = generateProbablePrime(rng(), 512, 65537, stats);
    expect(bitLength(p)).toBe(512);
    expect(p >> 510n).toBe(3n);
    expect(checkPrimeSync(toBuf(p))).toBe(true);
    expect(p % 65537n).not.toBe(1n);
    expect(stats.candidates).toBeGreaterThan(0);
  });

  it('knows small primes (for public exponents)', () => {
    expect([65537, 65539, 0x7fffffff, 3].map(isSmallPrime)).toEqual([true, true, true, true]);
    expect([65541, 65536, 0xffffffff, 1, 0].map(isSmallPrime)).toEqual([false, false, false, false, false]);
  });
});

describe('RSA key generation', () => {
  it('makes valid RSA-2048 keys: p·q = n, 2048 bits, primes, and a signature node:crypto verifies', () => {
    const key = generateRsaKey(HmacDrbg.fromSeed('rsa-2048'), 2048);
    expect(key.p * key.q).toBe(key.n);
    expect(bitLength(key.n)).toBe(2048);
    expect(bitLength(key.p)).toBe(1024);
    expect(bitLength(key.q)).toBe(1024);
    expect(checkPrimeSync(toBuf(key.p))).toBe(true);
    expect(checkPrimeSync(toBuf(key.q))).toBe(true);
    const diff = key.p > key.q ? key.p - key.q : key.q - key.p;
    expect(diff > 1n << 924n).toBe(true);
    expect(key.candidates).toBeGreaterThanOrEqual(2);

    const priv = rsaPrivateFromPrime(key.n, key.e, key.p);
    expect(priv.q).toBe(key.q);
    const privateKey = createPrivateKey({ key: jwk(priv), format: 'jwk' });
    const publicKey = createPublicKey({ key: { kty: 'RSA', n: b64u(key.n), e: b64u(key.e) }, format: 'jwk' });
    const message = Buffer.from('TIS Lab primary key');
    const signature = sign('sha256', message, privateKey); // RSASSA-PKCS1-v1_5
    expect(verify('sha256', message, publicKey, signature)).toBe(true);
    expect(verify('sha256', Buffer.from('other'), publicKey, signature)).toBe(false);
  });

  it('is a function of the random stream: same seed, same key; other seed, other key', () => {
    const a = generateRsaKey(HmacDrbg.fromSeed('same'), 1024);
    const b = generateRsaKey(HmacDrbg.fromSeed('same'), 1024);
    const c = generateRsaKey(HmacDrbg.fromSeed('other'), 1024);
    expect(a.n).toBe(b.n);
    expect(a.candidates).toBe(b.candidates);
    expect(c.n).not.toBe(a.n);
    expect(bitLength(a.n)).toBe(1024);
  });

  it('honours another prime exponent: e is coprime to p − 1 and q − 1', () => {
    const key = generateRsaKey(HmacDrbg.fromSeed('e'), 1024, 65539);
    expect(key.e).toBe(65539n);
    expect(key.p % 65539n).not.toBe(1n);
    expect(key.q % 65539n).not.toBe(1n);
    const priv = rsaPrivateFromPrime(key.n, key.e, key.q);
    expect(modPow(modPow(12345n, priv.e, priv.n), priv.d, priv.n)).toBe(12345n);
  });

  it('refuses a prime that does not divide n', () => {
    expect(() => rsaPrivateFromPrime(35n, 5n, 3n)).toThrow(RangeError);
  });
});
