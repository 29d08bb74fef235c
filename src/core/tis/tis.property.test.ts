// Random MMIO sequences (with backend completions in between) never throw, and after every event the
// machine's regions agree with the register file: so each region moved only along a transition the
// machine defines, i.e. one QEMU's tpm_tis_common.c can make. Also: at most one active locality, and
// rw_offset within the buffer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REG_ACCESS, REG_DATA_FIFO, REG_STS } from './registers';
import { invariantViolations, newTis, reg } from './tis-test-kit';

type Op =
  | { op: 'r'; addr: number; size: number }
  | { op: 'w'; addr: number; size: number; value: number }
  | { op: 'complete'; selftest: boolean }
  | { op: 'reset' };

// Offsets where something happens, plus any offset at all.
const offsetArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0x00, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x19, 0x1a, 0x1b, 0x24, 0x25) },
  { weight: 2, arbitrary: fc.constantFrom(0x26, 0x27, 0x30, 0x80, 0x83, 0xbc, 0xf00, 0xf04) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xfff }) },
);
const addrArb = fc.tuple(fc.integer({ min: 0, max: 4 }), offsetArb).map(([l, o]) => (l << 12) + o);
// Command bits, access bits, header bytes and anything else.
const valueArb = fc.oneof(
  fc.constantFrom(0x02, 0x08, 0x10, 0x20, 0x40, 0x60, 0x01000000, 0x02000000, 0x80000087, 0x80, 0x0c, 0x00),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('r' as const), addr: addrArb, size: fc.constantFrom(1, 2, 4) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('w' as const),
      addr: addrArb,
      size: fc.constantFrom(1, 2, 4),
      value: valueArb,
    }),
  },
  // A driver-like burst, so that commands actually get sent.
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 0, max: 3 })
      .chain((l) => fc.constant({ op: 'w' as const, addr: reg(l, REG_ACCESS), size: 1, value: 0x02 })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 0, max: 3 })
      .map((l) => ({ op: 'w' as const, addr: reg(l, REG_STS), size: 1, value: 0x20 })),
  },
  // The driver's other moves: command ready, release, a FIFO byte, seize.
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom([REG_STS, 0x40], [REG_ACCESS, 0x20], [REG_DATA_FIFO, 0x00], [REG_ACCESS, 0x08]),
      )
      .map(([l, [offset, value]]) => ({
        op: 'w' as const,
        addr: reg(l, offset ?? 0),
        size: 1,
        value: value ?? 0,
      })),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('complete' as const), selftest: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
);

/** A command (header size 12) written to a locality, so that random sequences reach EXECUTION often. */
function sendCommand(tis: ReturnType<typeof newTis>['tis'], l: number): void {
  tis.write(reg(l, REG_STS), 1, 0x40);
  for (const b of [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, 0]) tis.write(reg(l, REG_DATA_FIFO), 1, b);
  tis.write(reg(l, REG_STS), 1, 0x20);
}

type AnyOp = Op | { op: 'send'; l: number } | { op: 'look' };

function apply(t: ReturnType<typeof newTis>, o: AnyOp): void {
  const { tis, be } = t;
  if (o.op === 'r') tis.read(o.addr, o.size);
  else if (o.op === 'w') tis.write(o.addr, o.size, o.value);
  else if (o.op === 'send') sendCommand(tis, o.l);
  else if (o.op === 'complete') {
    if (be.pending !== null) be.complete(tis, RESPONSE, o.selftest);
  } else if (o.op === 'reset') tis.reset();
}

/** The machine's snapshot as plain data, its buffer copied. */
function view(tis: ReturnType<typeof newTis>['tis']): unknown {
  const snap = tis.machineSnapshot;
  return { value: snap.value, regs: { ...snap.context.regs, buffer: [...snap.context.regs.buffer] } };
}

const RESPONSE = Uint8Array.from([0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00]);

describe('TIS model under random MMIO', () => {
  it('never throws and keeps its invariants after every event', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            opArb,
            fc.integer({ min: 0, max: 3 }).map((l) => ({ op: 'send' as const, l })),
          ),
          { maxLength: 120 },
        ),
        (ops) => {
          const t = newTis();
          const { tis } = t;
          for (const o of ops) {
            apply(t, o);
            const bad = invariantViolations(tis.machineSnapshot);
            if (bad.length > 0) throw new Error(`after ${JSON.stringify(o)}: ${bad.join('; ')}`);
            const actives = tis.snapshot().localities.filter((l) => l.access & 0x20).length;
            expect(actives).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('folding accesses that move no state', () => {
  it('gives the snapshot that sending every access through the machine gives, whenever it is read', () => {
    const lookArb = fc.constant({ op: 'look' as const });
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { weight: 10, arbitrary: opArb as fc.Arbitrary<AnyOp> },
            {
              weight: 2,
              arbitrary: fc.integer({ min: 0, max: 3 }).map((l): AnyOp => ({ op: 'send', l })),
            },
            { weight: 2, arbitrary: lookArb },
          ),
          { maxLength: 150 },
        ),
        (ops) => {
          const folded = newTis(4096, true);
          const every = newTis(4096, false);
          for (const o of ops) {
            apply(folded, o);
            apply(every, o);
            if (o.op === 'look') expect(view(folded.tis)).toEqual(view(every.tis));
          }
          expect(view(folded.tis)).toEqual(view(every.tis));
          expect(folded.trace).toEqual(every.trace);
          expect(folded.tis.machineEventCount).toBeLessThanOrEqual(every.tis.machineEventCount);
        },
      ),
      { numRuns: 300 },
    );
  });
});
