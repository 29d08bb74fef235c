// Fuzzing the command processor: random bytes and mutations of valid commands never make the engine
// throw, never put it into TPM_RC_FAILURE, and always produce a well-formed response. `npm run fuzz`
// runs the same properties with FUZZ_RUNS=1000000.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseResponse } from './build';
import { ST } from './constants';
import { exampleCommands } from './corpus';
import { Tpm2Engine } from './engine';
import { RC } from './rc';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const CORPUS = exampleCommands();
/** Generous per-test time so `npm run fuzz` (a million runs, minutes) is not cut off by Vitest's 5 s default. */
const TIMEOUT_MS = Math.max(30_000, RUNS * 5);

function assertWellFormed(response: Uint8Array): void {
  expect(response.length).toBeGreaterThanOrEqual(10);
  const p = parseResponse(response);
  expect(p.size).toBe(response.length);
  expect([ST.NO_SESSIONS, ST.SESSIONS]).toContain(p.tag);
  expect(p.rc).not.toBe(RC.FAILURE);
  if (p.rc !== RC.SUCCESS) {
    expect(response.length).toBe(10);
    expect(p.tag).toBe(ST.NO_SESSIONS);
  }
}

/** A mutation of a corpus command: byte flips, truncation, extension, a rewritten size field. */
const mutated = fc
  .record({
    base: fc.constantFrom(...CORPUS),
    flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 8 }),
    fixSize: fc.boolean(),
  })
  .map(({ base, flips, cut, extra, fixSize }) => {
    let bytes = Uint8Array.from(base);
    for (const f of flips) bytes[f.at % bytes.length] = f.value;
    if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
    bytes = Uint8Array.from([...bytes, ...extra]);
    if (fixSize && bytes.length >= 6) new DataView(bytes.buffer).setUint32(2, bytes.length);
    return bytes;
  });

const anyCommand = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 4, arbitrary: mutated },
  { weight: 2, arbitrary: fc.constantFrom(...CORPUS) },
);

describe('engine fuzzing', () => {
  it(
    'sequences of random and mutated commands always get well-formed answers',
    () => {
      fc.assert(
        fc.property(fc.array(anyCommand, { minLength: 1, maxLength: 12 }), (commands) => {
          const tpm = new Tpm2Engine({ seed: 'fuzz' });
          for (const c of commands) assertWellFormed(tpm.execute(c).response);
        }),
        { numRuns: Math.max(1, Math.floor(RUNS / 6)) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'single random commands on a started TPM always get well-formed answers',
    () => {
      const tpm = new Tpm2Engine({ seed: 'fuzz-single' });
      tpm.execute(CORPUS[0]!);
      fc.assert(
        fc.property(anyCommand, (c) => assertWellFormed(tpm.execute(c).response)),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});
