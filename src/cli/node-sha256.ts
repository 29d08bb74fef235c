// Node's native SHA-256 for the trace hash (see TraceLog.useSha256) and snapshot files (useSnapshotSha256): the CLI and the benchmarks install
// it; the browser and the core's own tests use the portable @noble/hashes one. Same digest either way.
import { createHash } from 'node:crypto';
import type { Sha256StreamFactory } from '../core/kernel/trace';
import type { Sha256Bytes } from '../core/migration/snapshot-file';

export const nodeSha256Stream: Sha256StreamFactory = () => {
  const hash = createHash('sha256');
  return {
    update: (text) => {
      hash.update(text, 'utf8');
    },
    hexDigest: () => hash.copy().digest('hex'),
  };
};

/** Node's native SHA-256 of bytes, for snapshot files (see useSnapshotSha256). */
export const nodeSha256: Sha256Bytes = (data) => new Uint8Array(createHash('sha256').update(data).digest());
