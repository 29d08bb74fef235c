// The workload programs through both drivers against QEMU's TIS model and the TPM engine: what the
// console shows, the transaction marks and the checkpoints a snapshot restores from.
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../kernel';
import { CC } from '../tpm2/constants';
import { createTisRig } from '../vm/tis-rig';
import { DirectRunner, type MmioDevice } from './direct-runner';
import { duplicatedFifoRead } from './guest-test-kit';
import { createGuestProgram, DRIVER_NAMES, type GuestConfig } from './index';
import type { GuestOp } from './program';
import { headerCode, headerSize } from './tis-regs';

async function run(config: GuestConfig, wrap?: (tis: MmioDevice) => MmioDevice) {
  const rig = await createTisRig({ seed: 'workloads' });
  const runner = new DirectRunner(rig, createGuestProgram(config)(null), {
    record: true,
    ...(wrap ? { device: wrap(rig.tis) } : {}),
  });
  expect(runner.run()).toBe('done');
  const ops = runner.trace.map((e) => e.op);
  const ends = ops.flatMap((op) => (op.op === 'mark' && op.name === 'transaction.end' ? [op.data] : [])) as {
    code: number;
    rc: number;
    responseHex: string | null;
  }[];
  return { runner, ops, ends, text: runner.lines.map((l) => l.text) };
}

const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

describe.each(DRIVER_NAMES)('workloads over the %s driver', (driver) => {
  it('keygen: CreatePrimary then FlushContext, every response whole and rc 0, dumped in hex', async () => {
    const { ends, text, runner } = await run({ driver, workload: 'keygen', iterations: 3 });
    expect(ends.map((e) => e.code)).toEqual([
      CC.CreatePrimary,
      CC.FlushContext,
      CC.CreatePrimary,
      CC.FlushContext,
      CC.CreatePrimary,
      CC.FlushContext,
    ]);
    for (const e of ends) {
      expect(e.rc).toBe(0);
      const response = fromHex(e.responseHex!);
      expect(headerSize(response)).toBe(response.length);
      expect(headerCode(response)).toBe(0);
    }
    expect(runner.lines.filter((l) => l.level !== 'info')).toEqual([]);
    const creates = text.filter((t) => t.includes('CreatePrimary'));
    expect(creates).toHaveLength(3);
    expect(creates[0]).toMatch(/^keygen #0: CreatePrimary handle 0x80000000 \(\d+ bytes\): 80 02 00 00 /);
    expect(text.at(-1)).toBe('keygen: done after 3 iterations');
  });

  it('nv-counter: defines the counter once, then reads 1, 2, 3', async () => {
    const { ends, text } = await run({ driver, workload: 'nv-counter', iterations: 3 });
    expect(ends.map((e) => e.code)).toEqual([
      CC.NV_DefineSpace,
      ...[1, 2, 3].flatMap(() => [CC.NV_Increment, CC.NV_Read]),
    ]);
    expect(text.filter((t) => t.includes('counter ='))).toEqual([
      'nv-counter #0: counter = 1',
      'nv-counter #1: counter = 2',
      'nv-counter #2: counter = 3',
    ]);
  });

  it('getrandom and pcr-extend print what they got and what they extended', async () => {
    const random = await run({ driver, workload: 'getrandom', iterations: 2 });
    expect(random.text.filter((t) => t.startsWith('getrandom #'))).toEqual([
      expect.stringMatching(/^getrandom #0: 32 bytes [0-9a-f]{64}$/),
      expect.stringMatching(/^getrandom #1: 32 bytes [0-9a-f]{64}$/),
    ]);
    const pcr = await run({ driver, workload: 'pcr-extend', iterations: 2 });
    expect(pcr.ends.map((e) => [e.code, e.rc])).toEqual([
      [CC.PCR_Extend, 0],
      [CC.PCR_Extend, 0],
    ]);
    expect(pcr.text[1]).toMatch(/^pcr-extend #0: PCR16 sha256 extended with [0-9a-f]{64}$/);
  });

  it('yields a checkpoint with its whole state before every transaction', async () => {
    const { ops } = await run({ driver, workload: 'keygen', iterations: 2 });
    const kinds = ops.flatMap((op) =>
      op.op === 'checkpoint'
        ? ['checkpoint']
        : op.op === 'mark' && op.name.startsWith('transaction')
          ? [op.name]
          : [],
    );
    expect(kinds).toEqual(Array(4).fill(['checkpoint', 'transaction.start', 'transaction.end']).flat());
    const second = ops.filter(
      (op): op is Extract<GuestOp, { op: 'checkpoint' }> => op.op === 'checkpoint',
    )[1];
    expect(second?.state).toMatchObject({
      workload: 'keygen',
      driverName: driver,
      iteration: 0,
      data: { step: 'flush', handle: 0x80000000 },
    });
  });

  it('ends at once with 0 iterations, after probing the driver', async () => {
    const { ends, text } = await run({ driver, workload: 'getrandom', iterations: 0 });
    expect(ends).toEqual([]);
    expect(text).toHaveLength(2);
    expect(text[1]).toBe('getrandom: done after 0 iterations');
  });
});

describe('console lines for the hazards', () => {
  it('keygen prints a TPM response with one byte lost and a trailing ff as it got it', async () => {
    // FIFO read 30 falls in the body of the first CreatePrimary response.
    const { text, ends } = await run({ driver: 'linux', workload: 'keygen', iterations: 1 }, (tis) =>
      duplicatedFifoRead(tis, 30),
    );
    expect(ends[0]?.rc).toBe(0);
    expect(ends[0]?.responseHex?.endsWith('ff')).toBe(true);
    expect(text[1]).toMatch(/ ff$/);
  });

  it('nv-counter says so when a counter moves by more than one', async () => {
    // Run the counter twice over one TPM: the second program defines nothing new and starts from 2.
    const rig = await createTisRig({ seed: 'workloads' });
    const factory = createGuestProgram({ driver: 'linux', workload: 'nv-counter', iterations: 2 });
    const first = new DirectRunner(rig, factory(null));
    first.run();
    // A restored program whose checkpoint remembers the counter at 1: the TPM has moved on to 2 since.
    const state = {
      workload: 'nv-counter',
      driverName: 'linux',
      iteration: 1,
      driver: { locality: 0, localityCount: 0, chipLocality: -1, invalidStatusReported: false },
      data: { defined: true, step: 'increment', incremented: null, lastCounter: 1 },
    } satisfies JsonValue;
    const second = new DirectRunner(rig, factory(state));
    second.run();
    expect(second.lines.map((l) => l.text)).toEqual([
      'nv-counter #1: counter = 3',
      'nv-counter #1: counter moved by 2 (from 1 to 3) where 1 was expected: 1 count(s) skipped, an NV_Increment was executed twice',
      'nv-counter: done after 2 iterations',
    ]);
  });
});
