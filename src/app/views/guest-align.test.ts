import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createPrimaryEcc } from '../../core/guest/workload-commands';
import { buildCommand } from '../../core/tpm2/build';
import { CC, SU } from '../../core/tpm2/constants';
import { Tpm2Engine } from '../../core/tpm2/engine';
import { alignBytes, type AlignKind } from './guest-align';

function createPrimaryResponse(): number[] {
  const tpm = new Tpm2Engine({ seed: 'guest-view' });
  tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) }));
  return Array.from(tpm.execute(createPrimaryEcc()).response);
}

/** The 2011 report: the FIFO read of byte k ran twice, so the guest got b0..bk-1, bk+1..bn, then `fill`. */
const lostByte = (truth: number[], k: number, fill: number) => [
  ...truth.slice(0, k),
  ...truth.slice(k + 1),
  fill,
];

const kinds = (a: ReturnType<typeof alignBytes>) => a.cells.map((c) => c.kind);

describe('alignBytes', () => {
  const truth = createPrimaryResponse();

  it('the 2011 case with a trailing 0xff: one missing byte, everything after it still lined up, one trailing', () => {
    // A byte past the header whose neighbours differ from it, so the gap has one place to go.
    const k = truth.findIndex((b, i) => i > 10 && truth[i - 1] !== b && truth[i + 1] !== b);
    const a = alignBytes(lostByte(truth, k, 0xff), truth);
    expect(a.counts).toMatchObject({ missing: 1, trailing: 1, duplicated: 0, extra: 0, changed: 0 });
    expect(a.counts.same).toBe(truth.length - 1);
    const missing = a.cells.find((c) => c.kind === 'missing');
    expect(missing).toEqual({
      kind: 'missing',
      truthIndex: k,
      truth: truth[k],
      receivedIndex: null,
      received: null,
    });
    expect(a.cells.at(-1)).toEqual({
      kind: 'trailing',
      truthIndex: null,
      truth: null,
      receivedIndex: truth.length - 1,
      received: 0xff,
    });
    expect(a.firstDifference).toBe(k);
    expect(a.summary).toBe(
      `The guest received ${truth.length} bytes, the TPM sent ${truth.length}: missing byte ${k} (0x${truth[k]!.toString(16).padStart(2, '0')}); 1 trailing byte (0xff) past the end of the response.`,
    );
  });

  it('the 2011 case with a trailing 0x00, for a byte lost at any position of the response', () => {
    for (let k = 0; k < truth.length; k++) {
      const received = lostByte(truth, k, 0x00);
      const a = alignBytes(received, truth);
      // Losing a byte of the final run of zeros and reading 0x00 past the end gives the same bytes back.
      if (received.every((b, i) => b === truth[i])) {
        expect(a.firstDifference).toBeNull();
        continue;
      }
      expect(a.counts.missing + a.counts.changed).toBe(1);
      // A lost byte equal to the trailing fill can line up either way; otherwise the gap is where it was lost.
      if (a.counts.missing === 1) {
        const missing = a.cells.find((c) => c.kind === 'missing')!;
        expect(missing.truth).toBe(truth[k]);
        // Inside a run of equal bytes any of the run is "the" lost one.
        const run = truth.slice(Math.min(k, missing.truthIndex!), Math.max(k, missing.truthIndex!) + 1);
        expect(new Set(run).size).toBe(1);
        expect(a.counts.trailing + a.counts.same).toBe(truth.length);
      }
      expect(a.positional).toBe(false);
    }
  });

  it('names a byte the guest got twice as duplicated and a cut-short read as missing at the end', () => {
    const sent = [0x80, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00];
    const twice = [0x80, 0x01, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00];
    expect(kinds(alignBytes(twice, sent))).toEqual([
      'same',
      'same',
      'duplicated',
      'same',
      'same',
      'same',
      'same',
      'same',
      'same',
    ]);
    const short = alignBytes(sent.slice(0, 6), sent);
    expect(kinds(short).slice(-3)).toEqual(['same', 'unread', 'unread']);
    expect(alignBytes(sent, sent).summary).toBe('The guest received exactly the 8 bytes the TPM sent.');
  });

  it('mid-read, the bytes not read yet are unread, not missing', () => {
    const midRead = alignBytes(truth.slice(0, 6), truth);
    expect(midRead.counts).toMatchObject({ same: 6, unread: truth.length - 6, missing: 0 });
    expect(midRead.firstDifference).toBeNull();
    expect(midRead.summary).toBe(
      `The guest has read 6 of the ${truth.length} bytes the TPM sent, all as sent; ${truth.length - 6} bytes not read (yet).`,
    );
    // A byte lost early, then the pause: one missing, the rest unread.
    const lostThenPaused = alignBytes([...truth.slice(0, 3), ...truth.slice(4, 10)], truth);
    expect(lostThenPaused.counts).toMatchObject({ missing: 1, unread: truth.length - 10 });
    expect(lostThenPaused.summary).toContain(
      `missing byte 3 (0x00); ${truth.length - 10} bytes not read (yet)`,
    );
  });

  it('names a changed byte in place, and compares position by position when the two have little in common', () => {
    expect(kinds(alignBytes([1, 9, 3], [1, 2, 3]))).toEqual(['same', 'changed', 'same']);
    const a = Array.from({ length: 300 }, (_, i) => i & 0xff);
    const b = Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);
    const far = alignBytes(b, a);
    expect(far.positional).toBe(true);
    expect(far.cells).toHaveLength(300);
  });

  it('every byte of both sides appears once, in order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(3), { maxLength: 60 }),
        fc.array(fc.nat(3), { maxLength: 60 }),
        (received, sent) => {
          const a = alignBytes(received, sent);
          const t = a.cells.filter((c) => c.truthIndex !== null);
          const r = a.cells.filter((c) => c.receivedIndex !== null);
          expect(t.map((c) => c.truthIndex)).toEqual(sent.map((_, i) => i));
          expect(r.map((c) => c.receivedIndex)).toEqual(received.map((_, i) => i));
          expect(t.map((c) => c.truth)).toEqual(sent);
          expect(r.map((c) => c.received)).toEqual(received);
          for (const c of a.cells) {
            const expected: AlignKind[] =
              c.truthIndex === null
                ? ['duplicated', 'extra', 'trailing']
                : c.receivedIndex === null
                  ? ['missing', 'unread']
                  : c.truth === c.received
                    ? ['same']
                    : ['changed'];
            expect(expected).toContain(c.kind);
          }
          if (received.length === sent.length && received.every((x, i) => x === sent[i]))
            expect(a.firstDifference).toBeNull();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
