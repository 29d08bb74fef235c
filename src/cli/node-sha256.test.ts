import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { TraceLog, nobleSha256Stream } from '../core/kernel/trace';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { nodeSha256, nodeSha256Stream } from './node-sha256';

describe("Node's SHA-256 for the trace hash", () => {
  afterEach(() => TraceLog.useSha256(nobleSha256Stream));

  it('gives the same trace hash as the portable one, for any stream (non-ASCII text included)', () => {
    const rowArb = fc.record({
      dt: fc.nat({ max: 1000 }),
      kind: fc.string(),
      data: fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string(), fc.boolean())),
    });
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 400 }), (rows) => {
        const hashes = [nobleSha256Stream, nodeSha256Stream].map((factory) => {
          TraceLog.useSha256(factory);
          const log = new TraceLog();
          let t = 0;
          for (const r of rows) log.append((t += r.dt), 'src', `${r.kind}é`, r.data);
          const midway = log.traceHash();
          log.append(t, 'end', 'end');
          return [midway, log.traceHash()];
        });
        expect(hashes[1]).toEqual(hashes[0]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('nodeSha256', () => {
  it('gives the same digest as @noble/hashes for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
        expect(nodeSha256(data)).toEqual(nobleSha256(data));
      }),
    );
  });
});
