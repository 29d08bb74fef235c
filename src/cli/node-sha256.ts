// Node's native SHA-256 for the trace hash (see TraceLog.useSha256) and the integrity hashes of snapshot files and state blobs (useSha256Bytes): the CLI and the benchmarks install
// it; the browser and the core's own tests use the portable @noble/hashes one. Same digest either way.
import { createHash } from 'node:crypto';
import type { Sha256StreamFactory } from '../core/kernel/trace';
import type { Sha256Bytes } from '../core/kernel/sha256';

export const nodeSha256Stream: Sha256StreamFactory = () => {
  const hash = createHash('sha256');
  return {
    update: (text) => {
      hash.update(text, 'utf8');
    },
    hexDigest: () => hash.copy().digest('hex'),
  };
};

/** Node's native SHA-256 of bytes, for snapshot files and state blobs (see useSha256Bytes). */
export const nodeSha256: Sha256Bytes = (data) => new Uint8Array(createHash('sha256').update(data).digest());
