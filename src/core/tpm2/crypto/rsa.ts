// RSA key generation in bigint, driven by a deterministic random source (the primary-object DRBG):
// probable primes as FIPS 186-4 Appendix B.3.3 / C.3 describe them — candidates of exactly half the
// modulus size with the top two bits set (so that p·q has exactly the requested size) and the low bit
// set, screened by a sieve of small primes, then Miller–Rabin with the number of rounds from
// FIPS 186-4 Table C.3, e coprime to p−1 and q−1, and |p − q| > 2^(nlen/2 − 100).
//
// Speed matters (a browser computes this): candidates are sieved incrementally from one random start
// (residues modulo the small primes are computed once in double arithmetic and advanced per window),
// and each survivor first gets a base-2 round whose modular exponentiation needs squarings and
// doublings only; composites almost always fail there. Modular exponentiation otherwise uses a
// sliding window.

/** A source of random octets: the primary-object HMAC-DRBG (kernel/drbg.ts) fits. */
export interface RandomBytes {
  generate(nBytes: number): Uint8Array;
}

/** The exponent the TPM uses when a template says 0 (Part 2 TPMS_RSA_PARMS). */
export const RSA_DEFAULT_EXPONENT = 65537;

export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return BigInt('0x' + hex);
}

/** Big-endian, left-padded with zeros to `length` octets. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  if (value < 0n) throw new RangeError('bigIntToBytes: negative value');
  const hex = value.toString(16);
  if (hex.length > length * 2) throw new RangeError(`bigIntToBytes: value does not fit in ${length} octets`);
  const padded = hex.padStart(length * 2, '0');
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(padded.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bitLength(value: bigint): number {
  return value <= 0n ? 0 : value.toString(2).length;
}

/** base^exponent mod modulus, left-to-right with a sliding window of odd powers. */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 0n) throw new RangeError('modPow: modulus must be positive');
  if (exponent < 0n) throw new RangeError('modPow: negative exponent');
  if (modulus === 1n) return 0n;
  let b = base % modulus;
  if (b < 0n) b += modulus;
  if (exponent === 0n) return 1n;
  const bits = exponent.toString(2);
  const k = bits.length > 512 ? 5 : bits.length > 128 ? 4 : bits.length > 24 ? 3 : 1;
  // table[i] = b^(2i+1)
  const table: bigint[] = [b];
  if (k > 1) {
    const b2 = (b * b) % modulus;
    for (let i = 1; i < 1 << (k - 1); i++) table.push((table[i - 1]! * b2) % modulus);
  }
  let r = 1n;
  let i = 0;
  while (i < bits.length) {
    if (bits.charCodeAt(i) === 48) {
      r = (r * r) % modulus;
      i++;
      continue;
    }
    let j = Math.min(i + k, bits.length);
    while (bits.charCodeAt(j - 1) === 48) j--;
    const window = parseInt(bits.slice(i, j), 2);
    for (let t = i; t < j; t++) r = (r * r) % modulus;
    r = (r * table[(window - 1) >> 1]!) % modulus;
    i = j;
  }
  return r;
}

/** 2^exponent mod modulus: squarings and doublings only (the cheap first Miller–Rabin round). */
function pow2Mod(exponent: bigint, modulus: bigint): bigint {
  const bits = exponent.toString(2);
  let r = 1n;
  for (let i = 0; i < bits.length; i++) {
    r = (r * r) % modulus;
    if (bits.charCodeAt(i) === 49) {
      r <<= 1n;
      if (r >= modulus) r -= modulus;
    }
  }
  return r;
}

export function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** a^−1 mod m; throws when gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('modInverse: not invertible');
  return ((oldS % m) + m) % m;
}

/** Minimum Miller–Rabin rounds for RSA primes of this size, FIPS 186-4 Table C.3 (M-R tests only). */
export function millerRabinRounds(primeBits: number): number {
  if (primeBits >= 1536) return 4;
  if (primeBits >= 1024) return 5;
  if (primeBits >= 512) return 7;
  return 40;
}

/** One Miller–Rabin round with base a; n − 1 = d·2^s. */
function millerRabinRound(n: bigint, d: bigint, s: number, a: bigint): boolean {
  const nMinus1 = n - 1n;
  let x = a === 2n ? pow2Mod(d, n) : modPow(a, d, n);
  if (x === 1n || x === nMinus1) return true;
  for (let i = 1; i < s; i++) {
    x = (x * x) % n;
    if (x === nMinus1) return true;
    if (x === 1n) return false;
  }
  return false;
}

/** A base in [2, n − 2] drawn from the random source (FIPS 186-4 C.3.1 step 4.1). */
function randomBase(n: bigint, rng: RandomBytes): bigint {
  const bits = bitLength(n);
  const bytes = Math.ceil(bits / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const a = bytesToBigInt(rng.generate(bytes)) & mask;
    if (a >= 2n && a <= n - 2n) return a;
  }
}

/**
 * Probable-prime test: trial division by the small primes, a base-2 round, then `rounds` Miller–Rabin
 * rounds with random bases from `rng`.
 */
export function isProbablePrime(n: bigint, rounds: number, rng: RandomBytes): boolean {
  if (n < 2n) return false;
  for (const p of smallPrimes()) {
    const bp = BigInt(p);
    if (n === bp) return true;
    if (n % bp === 0n) return false;
  }
  if (n === 2n) return true;
  if ((n & 1n) === 0n) return false;
  return passesMillerRabin(n, rounds, rng);
}

function passesMillerRabin(n: bigint, rounds: number, rng: RandomBytes): boolean {
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  if (!millerRabinRound(n, d, s, 2n)) return false;
  for (let i = 0; i < rounds; i++) {
    if (!millerRabinRound(n, d, s, randomBase(n, rng))) return false;
  }
  return true;
}

/** Small odd primes used to sieve candidates: 3 .. 65521. */
const SIEVE_LIMIT = 1 << 16;
let SMALL_PRIMES: Uint32Array | undefined;

function smallPrimes(): Uint32Array {
  if (SMALL_PRIMES) return SMALL_PRIMES;
  const composite = new Uint8Array(SIEVE_LIMIT);
  const found: number[] = [];
  for (let i = 3; i < SIEVE_LIMIT; i += 2) {
    if (composite[i]) continue;
    found.push(i);
    for (let j = i * i; j < SIEVE_LIMIT; j += 2 * i) composite[j] = 1;
  }
  SMALL_PRIMES = Uint32Array.from(found);
  return SMALL_PRIMES;
}

/** Whether a 32-bit exponent is prime (trial division; e < 2^32 so its square root is below 2^16). */
export function isSmallPrime(e: number): boolean {
  if (!Number.isInteger(e) || e < 2) return false;
  if (e % 2 === 0) return e === 2;
  for (let d = 3; d * d <= e; d += 2) if (e % d === 0) return false;
  return true;
}

export interface PrimeSearchStats {
  /** Candidates that survived the sieve and reached Miller–Rabin (the expensive part). */
  candidates: number;
}

/** Candidates per sieve window (each step adds 2 to the candidate). */
const WINDOW = 4096;

/**
 * A probable prime of exactly `bits` bits (a multiple of 32) with its top two bits set and
 * p ≢ 1 (mod e), e prime, so that gcd(e, p − 1) = 1.
 */
export function generateProbablePrime(
  rng: RandomBytes,
  bits: number,
  e: number,
  stats: PrimeSearchStats,
): bigint {
  if (bits % 32 !== 0 || bits < 64) throw new RangeError(`prime size ${bits} must be a multiple of 32, ≥ 64`);
  if (!isSmallPrime(e)) throw new RangeError(`public exponent ${e} must be prime`);
  for (;;) {
    const start = rng.generate(bits / 8);
    start[0] = start[0]! | 0xc0;
    start[start.length - 1] = start[start.length - 1]! | 0x01;
    const p = searchUpFrom(start, bits, e, rng, stats);
    if (p !== undefined) return p;
  }
}

/** Walks odd numbers up from `startBytes` until a probable prime, or undefined past 2^bits. */
function searchUpFrom(
  startBytes: Uint8Array,
  bits: number,
  e: number,
  rng: RandomBytes,
  stats: PrimeSearchStats,
): bigint | undefined {
  const primes = smallPrimes();
  const start = bytesToBigInt(startBytes);
  const limit = 1n << BigInt(bits);
  const rounds = millerRabinRounds(bits);
  // start mod p for every small prime, from 32-bit words: r·2^32 + w < 2^16·2^32 + 2^32 < 2^53.
  const residues = new Float64Array(primes.length);
  const view = new DataView(startBytes.buffer, startBytes.byteOffset, startBytes.byteLength);
  for (let i = 0; i < primes.length; i++) {
    const p = primes[i]!;
    let r = 0;
    for (let off = 0; off < startBytes.length; off += 4) r = (r * 4294967296 + view.getUint32(off)) % p;
    residues[i] = r;
  }
  const bigE = BigInt(e);
  const startModE = start % bigE;
  const inv2ModE = (bigE + 1n) / 2n;
  const sieve = new Uint8Array(WINDOW);
  for (let base = 0; ; base += WINDOW) {
    sieve.fill(0);
    // Candidate k of this window is start + 2·(base + k); it is divisible by p when
    // r + 2·(base + k) ≡ 0 (mod p), i.e. k ≡ −(r + 2·base)·2^−1 (mod p).
    for (let i = 0; i < primes.length; i++) {
      const p = primes[i]!;
      const r = (residues[i]! + ((2 * base) % p)) % p;
      let k = (((p - r) % p) * ((p + 1) / 2)) % p;
      for (; k < WINDOW; k += p) sieve[k] = 1;
    }
    // Candidates ≡ 1 (mod e) would share the factor e with c − 1.
    const rE = (startModE + 2n * BigInt(base)) % bigE;
    const kE = (((1n - rE + bigE) % bigE) * inv2ModE) % bigE;
    for (let k = Number(kE); k < WINDOW; k += e) sieve[k] = 1;
    for (let k = 0; k < WINDOW; k++) {
      if (sieve[k]) continue;
      const candidate = start + BigInt(2 * (base + k));
      if (candidate >= limit) return undefined;
      stats.candidates++;
      if (passesMillerRabin(candidate, rounds, rng)) return candidate;
    }
  }
}

export interface RsaKeyPair {
  n: bigint;
  e: bigint;
  p: bigint;
  q: bigint;
  /** Prime candidates that reached Miller–Rabin while generating p and q. */
  candidates: number;
}

export const RSA_KEY_SIZES: readonly number[] = [1024, 2048, 3072];

/** An RSA key of exactly `keyBits` bits from the random source; `e` must be a prime ≥ 3. */
export function generateRsaKey(
  rng: RandomBytes,
  keyBits: number,
  e: number = RSA_DEFAULT_EXPONENT,
): RsaKeyPair {
  if (keyBits % 64 !== 0 || keyBits < 128) throw new RangeError(`RSA key size ${keyBits} is not supported`);
  const half = keyBits / 2;
  const stats: PrimeSearchStats = { candidates: 0 };
  const p = generateProbablePrime(rng, half, e, stats);
  // FIPS 186-4 B.3.3 step 5.4: |p − q| > 2^(nlen/2 − 100).
  const minDistance = 1n << BigInt(Math.max(0, half - 100));
  let q: bigint;
  do {
    q = generateProbablePrime(rng, half, e, stats);
  } while ((p > q ? p - q : q - p) <= minDistance);
  const n = p * q;
  if (bitLength(n) !== keyBits) throw new Error(`RSA modulus has ${bitLength(n)} bits, expected ${keyBits}`);
  return { n, e: BigInt(e), p, q, candidates: stats.candidates };
}

export interface RsaPrivateKey {
  n: bigint;
  e: bigint;
  d: bigint;
  p: bigint;
  q: bigint;
  dp: bigint;
  dq: bigint;
  qInv: bigint;
}

/**
 * The whole private key from the public modulus and exponent and one prime (what a loaded object keeps,
 * like the reference code's sensitive.rsa): d = e^−1 mod lcm(p − 1, q − 1) and the CRT values.
 */
export function rsaPrivateFromPrime(n: bigint, e: bigint, p: bigint): RsaPrivateKey {
  if (p <= 1n || n % p !== 0n) throw new RangeError('rsaPrivateFromPrime: p does not divide n');
  const q = n / p;
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const d = modInverse(e, lambda);
  return { n, e, d, p, q, dp: d % (p - 1n), dq: d % (q - 1n), qInv: modInverse(q, p) };
}
