// Seeded, fast, non-cryptographic randomness for the simulation (jitter, workload choices, fault injection).
// Cryptographic randomness inside the TPM model comes from the HMAC_DRBG in drbg.ts instead.
//
// Algorithm: xoshiro128** 1.1 by David Blackman and Sebastiano Vigna, "Scrambled Linear Pseudorandom Number
// Generators", ACM TOMS 47(4), 2021; reference code https://prng.di.unimi.it/xoshiro128starstar.c . It has a
// 128-bit state, period 2^128 - 1, passes BigCrush, and needs only 32-bit operations, which JS does natively.
// Its one forbidden state is all zeros. The state is seeded with a splitmix32-style mixer (the splitmix
// construction of Steele, Lea and Flood, OOPSLA 2014, with the 32-bit finaliser constants 0x21f0aaad and
// 0x735a2d97 found by Chris Wellons' hash-prospector).
import { isRecord, isU32, show } from './checks';

export interface PrngState {
  s: [number, number, number, number];
}

const GOLDEN = 0x9e3779b9; // 2^32 / phi, the splitmix increment
const TAG_NUMBER = 0x6e756d31; // 'num1'
const TAG_STRING = 0x73747231; // 'str1'
const TAG_FORK = 0x666f726b; // 'fork'
const TWO_POW_32 = 0x1_0000_0000;

export class Prng {
  // Four plain fields rather than an array: V8 keeps them as untagged-int-friendly properties.
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator seeded from a safe integer or a string. Equal seeds give equal streams. */
  constructor(seed: number | string) {
    const s = deriveState(seedWords(seed));
    this.a = s[0];
    this.b = s[1];
    this.c = s[2];
    this.d = s[3];
  }

  /** The next 32 random bits as an integer in [0, 2^32). */
  nextU32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c ^ a;
    const d = this.d ^ b;
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    this.a = a ^ d;
    this.b = b ^ c;
    this.c = c ^ (b << 9);
    this.d = rotl(d, 11);
    return result;
  }

  /** A float in [0, 1) with 32 random bits (so a multiple of 2^-32). */
  nextFloat(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /**
   * A uniform integer in [minInclusive, maxExclusive); the range may be at most 2^32. No modulo bias: it
   * masks a draw to the smallest power of two covering the range and redraws values beyond it (on average
   * fewer than 2 draws). No division either, which matters because this sits in hot simulation loops.
   */
  nextInt(minInclusive: number, maxExclusive: number): number {
    const span = maxExclusive - minInclusive - 1; // the largest offset that may be returned
    const valid =
      Number.isSafeInteger(minInclusive) &&
      Number.isSafeInteger(maxExclusive) &&
      span >= 0 &&
      span <= 0xffff_ffff;
    if (!valid) {
      throw new RangeError(
        `Prng.nextInt: need safe integers min < max with max - min <= 2^32, got [${show(minInclusive)}, ${show(maxExclusive)})`,
      );
    }
    const mask = span === 0 ? 0 : -1 >>> Math.clz32(span);
    let x = (this.nextU32() & mask) >>> 0;
    while (x > span) x = (this.nextU32() & mask) >>> 0;
    return minInclusive + x;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(array: readonly T[]): T {
    if (array.length === 0) throw new RangeError('Prng.pick: the array is empty');
    return array[this.nextInt(0, array.length)] as T;
  }

  /**
   * A new generator for a named consumer, derived from this generator's current state and the label. It does
   * not advance this generator, so adding a fork for a new device never shifts the numbers other devices
   * see. The same label at the same state gives the same stream; use a distinct label per consumer.
   */
  fork(label: string): Prng {
    if (typeof label !== 'string') {
      throw new TypeError(`Prng.fork: label must be a string, got ${show(label)}`);
    }
    const words = [TAG_FORK, this.a, this.b, this.c, this.d, ...stringWords(label)];
    return Prng.fromState(deriveState(words));
  }

  save(): PrngState {
    return { s: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0] };
  }

  static restore(state: unknown): Prng {
    const s = isRecord(state) ? state.s : undefined;
    if (!Array.isArray(s) || s.length !== 4 || !s.every(isU32)) {
      throw new TypeError(`Prng.restore: expected { s: [u32, u32, u32, u32] }, got s = ${show(s)}`);
    }
    const [a, b, c, d] = s as [number, number, number, number];
    if ((a | b | c | d) === 0) {
      throw new TypeError('Prng.restore: the all-zero state is invalid for xoshiro128**');
    }
    return Prng.fromState([a, b, c, d]);
  }

  private static fromState(s: readonly [number, number, number, number]): Prng {
    const prng = new Prng(0);
    prng.a = s[0] | 0;
    prng.b = s[1] | 0;
    prng.c = s[2] | 0;
    prng.d = s[3] | 0;
    return prng;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The splitmix32 output function: a bijective avalanche mix of 32 bits. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

/**
 * Absorbs 32-bit words into a 128-bit state. Each of the four lanes is its own splitmix32 chain over all the
 * words (started from a different point), so the state has no 32-bit bottleneck and every word affects every
 * lane.
 */
function deriveState(words: readonly number[]): [number, number, number, number] {
  const s: [number, number, number, number] = [0, 0, 0, 0];
  for (let lane = 0; lane < 4; lane++) {
    let x = mix32(Math.imul(lane + 1, GOLDEN));
    for (const w of words) x = mix32(((x + GOLDEN) | 0) ^ w);
    s[lane] = mix32(((x + GOLDEN) | 0) ^ words.length);
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = GOLDEN; // never the forbidden all-zero state
  return s;
}

function seedWords(seed: number | string): number[] {
  if (typeof seed === 'string') return [TAG_STRING, ...stringWords(seed)];
  if (typeof seed === 'number' && Number.isSafeInteger(seed)) {
    // Low and high halves, so every safe integer (negative ones too) is a distinct seed.
    return [TAG_NUMBER, seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
  }
  throw new TypeError(`Prng: seed must be a safe integer or a string, got ${show(seed)}`);
}

function stringWords(text: string): number[] {
  const words = [text.length];
  for (let i = 0; i < text.length; i++) words.push(text.charCodeAt(i));
  return words;
}
