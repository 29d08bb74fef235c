// Node's native SHA-256 for the trace hash (see TraceLog.useSha256): the CLI and the benchmarks install
// it; the browser and the core's own tests use the portable @noble/hashes one. Same digest either way.
import { createHash } from 'node:crypto';
import type { Sha256StreamFactory } from '../core/kernel/trace';

export const nodeSha256Stream: Sha256StreamFactory = () => {
  const hash = createHash('sha256');
  return {
    update: (text) => {
      hash.update(text, 'utf8');
    },
    hexDigest: () => hash.copy().digest('hex'),
  };
};
