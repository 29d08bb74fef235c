// The hash algorithms the engine implements (sha1, sha256, sha384), from @noble/hashes.
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import type { CHash } from '@noble/hashes/utils.js';
import { ALG } from './constants';

export type HashAlgName = 'sha1' | 'sha256' | 'sha384';

export interface HashAlg {
  name: HashAlgName;
  alg: number;
  digestSize: number;
  blockSize: number;
  fn: CHash;
}

export const HASH_ALGS: readonly HashAlg[] = [
  { name: 'sha1', alg: ALG.SHA1, digestSize: 20, blockSize: 64, fn: sha1 },
  { name: 'sha256', alg: ALG.SHA256, digestSize: 32, blockSize: 64, fn: sha256 },
  { name: 'sha384', alg: ALG.SHA384, digestSize: 48, blockSize: 128, fn: sha384 },
];

const BY_ALG = new Map(HASH_ALGS.map((h) => [h.alg, h]));
const BY_NAME = new Map(HASH_ALGS.map((h) => [h.name, h]));

export function hashByAlg(alg: number): HashAlg | undefined {
  return BY_ALG.get(alg);
}

export function hashByName(name: HashAlgName): HashAlg {
  return BY_NAME.get(name)!;
}

export function digest(alg: HashAlg, ...parts: Uint8Array[]): Uint8Array {
  const h = alg.fn.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmacDigest(alg: HashAlg, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = hmac.create(alg.fn, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The largest digest the engine produces (sha384), the capacity of TPM2B_DIGEST. */
export const MAX_DIGEST_SIZE = 48;
