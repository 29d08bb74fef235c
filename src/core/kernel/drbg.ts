// HMAC_DRBG with SHA-256, NIST SP 800-90A Rev. 1 §10.1.2 (no prediction resistance, no derivation function).
// The virtual TPM draws all its "random" bytes from this, seeded deterministically, so key generation and
// nonces replay identically and the DRBG's working state (Key, V, counter) can go into a snapshot.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { isRecord, isSafeNonNegInt, show } from './checks';

export interface DrbgState {
  /** Key, 32 bytes as lowercase hex. */
  k: string;
  /** V, 32 bytes as lowercase hex. */
  v: string;
  reseedCounter: number;
}

export interface Drbg {
  generate(nBytes: number, additionalInput?: Uint8Array): Uint8Array;
  reseed(entropy: Uint8Array, additionalInput?: Uint8Array): void;
  save(): DrbgState;
}

const OUTLEN = 32; // SHA-256 output, bytes
/** max_number_of_bits_per_request = 2^19 bits (SP 800-90A Table 2). */
export const DRBG_MAX_BYTES_PER_REQUEST = 65536;
/** reseed_interval = 2^48 requests (SP 800-90A Table 2). */
export const DRBG_RESEED_INTERVAL = 2 ** 48;
/** security_strength 256 bits: entropy input at least that, nonce at least half (SP 800-90A §8.6.7, §10.1). */
const MIN_ENTROPY_BYTES = 32;
const MIN_NONCE_BYTES = 16;

const EMPTY = new Uint8Array(0);
const HEX32 = /^[0-9a-f]{64}$/;

export class HmacDrbg implements Drbg {
  private constructor(
    private key: Uint8Array,
    private v: Uint8Array,
    private reseedCounter: number,
  ) {}

  /** HMAC_DRBG_Instantiate_algorithm (§10.1.2.3). */
  static instantiate(entropy: Uint8Array, nonce: Uint8Array, personalization: Uint8Array = EMPTY): HmacDrbg {
    checkBytes('entropy', entropy, MIN_ENTROPY_BYTES);
    checkBytes('nonce', nonce, MIN_NONCE_BYTES);
    checkBytes('personalization', personalization, 0);
    const drbg = new HmacDrbg(new Uint8Array(OUTLEN), new Uint8Array(OUTLEN).fill(1), 1);
    drbg.update(entropy, nonce, personalization);
    return drbg;
  }

  /**
   * A deterministic instance for the simulation: entropy and nonce are SHA-256 of the seed under distinct
   * domain-separation labels. The seed is type-tagged so that "1" and 1 are different seeds.
   */
  static fromSeed(seed: string | number | Uint8Array, personalization?: string): HmacDrbg {
    let encoded: Uint8Array;
    if (typeof seed === 'string') {
      encoded = concat(utf8ToBytes('s:'), utf8ToBytes(seed));
    } else if (typeof seed === 'number' && Number.isSafeInteger(seed)) {
      encoded = utf8ToBytes(`n:${seed}`);
    } else if (seed instanceof Uint8Array) {
      encoded = concat(utf8ToBytes('b:'), seed);
    } else {
      throw new TypeError(
        `HmacDrbg.fromSeed: seed must be a string, a safe integer or bytes, got ${show(seed)}`,
      );
    }
    const entropy = sha256(concat(utf8ToBytes('tislab/hmac-drbg/entropy\0'), encoded));
    const nonce = sha256(concat(utf8ToBytes('tislab/hmac-drbg/nonce\0'), encoded)).subarray(
      0,
      MIN_NONCE_BYTES,
    );
    return HmacDrbg.instantiate(
      entropy,
      nonce,
      personalization === undefined ? EMPTY : utf8ToBytes(personalization),
    );
  }

  static restore(state: unknown): HmacDrbg {
    const fail = (what: string): never => {
      throw new TypeError(`HmacDrbg.restore: malformed state: ${what}`);
    };
    if (!isRecord(state)) return fail(`expected an object, got ${show(state)}`);
    const { k, v, reseedCounter } = state;
    if (typeof k !== 'string' || !HEX32.test(k)) return fail('k must be 64 lowercase hex digits');
    if (typeof v !== 'string' || !HEX32.test(v)) return fail('v must be 64 lowercase hex digits');
    if (!isSafeNonNegInt(reseedCounter) || reseedCounter < 1 || reseedCounter > DRBG_RESEED_INTERVAL + 1) {
      return fail(`reseedCounter must be an integer in [1, 2^48 + 1], got ${show(reseedCounter)}`);
    }
    return new HmacDrbg(hexToBytes(k), hexToBytes(v), reseedCounter);
  }

  /** HMAC_DRBG_Reseed_algorithm (§10.1.2.4). */
  reseed(entropy: Uint8Array, additionalInput: Uint8Array = EMPTY): void {
    checkBytes('entropy', entropy, MIN_ENTROPY_BYTES);
    checkBytes('additionalInput', additionalInput, 0);
    this.update(entropy, additionalInput);
    this.reseedCounter = 1;
  }

  /** HMAC_DRBG_Generate_algorithm (§10.1.2.5). */
  generate(nBytes: number, additionalInput: Uint8Array = EMPTY): Uint8Array {
    if (!isSafeNonNegInt(nBytes) || nBytes > DRBG_MAX_BYTES_PER_REQUEST) {
      throw new RangeError(
        `HmacDrbg.generate: nBytes must be an integer in [0, ${DRBG_MAX_BYTES_PER_REQUEST}] (2^19 bits per request), got ${show(nBytes)}`,
      );
    }
    checkBytes('additionalInput', additionalInput, 0);
    if (this.reseedCounter > DRBG_RESEED_INTERVAL) {
      throw new Error(
        'HmacDrbg.generate: reseed required (2^48 requests since the last (re)seed); call reseed()',
      );
    }
    if (additionalInput.length > 0) this.update(additionalInput);
    const out = new Uint8Array(nBytes);
    const keyed = hmac.create(sha256, this.key); // Key is fixed during the loop: key the HMAC once
    let v = this.v;
    for (let off = 0; off < nBytes; off += OUTLEN) {
      v = keyed.clone().update(v).digest();
      out.set(nBytes - off >= OUTLEN ? v : v.subarray(0, nBytes - off), off);
    }
    keyed.destroy();
    this.v = v;
    this.update(additionalInput);
    this.reseedCounter++;
    return out;
  }

  /** An independent instance in the same working state: both produce the same bytes from here on. */
  clone(): HmacDrbg {
    return new HmacDrbg(this.key.slice(), this.v.slice(), this.reseedCounter);
  }

  save(): DrbgState {
    return { k: bytesToHex(this.key), v: bytesToHex(this.v), reseedCounter: this.reseedCounter };
  }

  /** HMAC_DRBG_Update (§10.1.2.2); provided_data is the concatenation of the parts. */
  private update(...providedData: Uint8Array[]): void {
    const empty = providedData.every((p) => p.length === 0);
    for (const round of empty ? [0x00] : [0x00, 0x01]) {
      const mac = hmac.create(sha256, this.key).update(this.v).update(Uint8Array.of(round));
      for (const p of providedData) mac.update(p);
      this.key = mac.digest();
      this.v = hmac(sha256, this.key, this.v);
    }
  }
}

function checkBytes(name: string, bytes: unknown, minLength: number): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`HmacDrbg: ${name} must be a Uint8Array, got ${show(bytes)}`);
  }
  if (bytes.length < minLength) {
    throw new RangeError(
      `HmacDrbg: ${name} must be at least ${minLength} bytes (256-bit security strength), got ${bytes.length}`,
    );
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
