// KDFa: the TPM's key derivation function, NIST SP 800-108 in counter mode with HMAC as the PRF
// (TPM 2.0 Part 1 §11.4.10.2):
//
//   K(i) = HMAC_hashAlg(key, [i]32 || Label || 0x00 || ContextU || ContextV || [bits]32)
//   KDFa = the first `bits` bits of K(1) || K(2) || ...
//
// The label is a string whose terminating NUL is part of the input: a label that does not already end in
// a zero octet gets one appended, as the reference code's CryptKDFa does. When `bits` is not a multiple
// of 8, the surplus high-order bits of the first octet are cleared (the result is a big-endian number of
// exactly `bits` bits).
import { hmac } from '@noble/hashes/hmac.js';
import type { HashAlg } from '../hash';

const encoder = new TextEncoder();

function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** A KDFa label as bytes, with its terminating zero octet. */
export function kdfLabel(label: string | Uint8Array): Uint8Array {
  const bytes = typeof label === 'string' ? encoder.encode(label) : label;
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The largest output the 32-bit counter and length fields allow here (and far more than a TPM needs). */
const MAX_KDF_BITS = 0x7fffffff;

export function kdfa(
  hash: HashAlg,
  key: Uint8Array,
  label: string | Uint8Array,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_KDF_BITS) {
    throw new RangeError(`KDFa: bits must be an integer in [0, ${MAX_KDF_BITS}], got ${bits}`);
  }
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(bytes);
  const labelBytes = kdfLabel(label);
  const lengthField = u32(bits);
  const keyed = hmac.create(hash.fn, key);
  for (let counter = 1, off = 0; off < bytes; counter++, off += hash.digestSize) {
    const block = keyed
      .clone()
      .update(u32(counter))
      .update(labelBytes)
      .update(contextU)
      .update(contextV)
      .update(lengthField)
      .digest();
    out.set(block.subarray(0, Math.min(hash.digestSize, bytes - off)), off);
  }
  keyed.destroy();
  if (bits % 8 !== 0) out[0] = out[0]! & ((1 << (bits % 8)) - 1);
  return out;
}
