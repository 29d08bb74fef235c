// SHA-256 of bytes for the core's integrity checks (snapshot files, TPM state blobs): @noble/hashes by
// default, which runs everywhere; the CLI and the benchmarks install Node's native one (src/cli/node-sha256.ts),
// several times faster on the kilobytes a snapshot hashes. Same digest either way (property-tested).
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

export type Sha256Bytes = (data: Uint8Array) => Uint8Array;

let implementation: Sha256Bytes = (data) => nobleSha256(data);

export function sha256Bytes(data: Uint8Array): Uint8Array {
  return implementation(data);
}

/** Replaces the implementation for the whole process (same digest, faster where the platform has one). */
export function useSha256Bytes(fn: Sha256Bytes): void {
  implementation = fn;
}
