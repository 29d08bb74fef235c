// Restore by replay (program.ts, "Snapshots"): a program rebuilt from its last checkpoint state and fed
// the inputs given since reaches the same point and goes on with the same operations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../kernel';
import { createTisRig } from '../vm/tis-rig';
import { DirectRunner, type MmioDevice, type TraceEntry } from './direct-runner';
import { duplicatedFifoRead } from './guest-test-kit';
import { createGuestProgram, type GuestConfig } from './index';
import type { GuestProgramFactory } from './program';

async function record(config: GuestConfig, wrap?: (tis: MmioDevice) => MmioDevice): Promise<TraceEntry[]> {
  const rig = await createTisRig({ seed: 'replay' });
  const runner = new DirectRunner(rig, createGuestProgram(config)(null), {
    record: true,
    ...(wrap ? { device: wrap(rig.tis) } : {}),
  });
  runner.run();
  return runner.trace;
}

/** Rebuilds the program as it stood after `cut` ops and returns the next `count` ops it yields. */
function opsAfterRestore(
  factory: GuestProgramFactory,
  trace: readonly TraceEntry[],
  cut: number,
  count: number,
) {
  let checkpointAt = -1;
  for (let i = 0; i < cut; i++) if (trace[i]?.op.op === 'checkpoint') checkpointAt = i;
  const entry = trace[checkpointAt];
  const state: JsonValue | null = entry?.op.op === 'checkpoint' ? entry.op.state : null;
  const program = factory(state);
  let next = program.next();
  for (let i = checkpointAt + 1; i < cut; i++) next = program.next(trace[i]!.input);
  const ops = [];
  for (let i = cut; i < cut + count && !next.done; i++) {
    ops.push(next.value);
    next = program.next(trace[i]!.input);
  }
  return ops;
}

const CASES: [string, GuestConfig, ((tis: MmioDevice) => MmioDevice)?][] = [
  ['keygen over linux', { driver: 'linux', workload: 'keygen', iterations: 3 }],
  ['nv-counter over linux-2.6.37', { driver: 'linux-2.6.37', workload: 'nv-counter', iterations: 3 }],
  // A responseRetry in the middle, so the driver's state and path differ from the plain run.
  [
    'getrandom over linux with a skipped header byte',
    { driver: 'linux', workload: 'getrandom', iterations: 3 },
    (tis) => duplicatedFifoRead(tis, 2),
  ],
  [
    'pcr-extend over linux-2.6.37 with a skipped byte',
    { driver: 'linux-2.6.37', workload: 'pcr-extend', iterations: 3 },
    (tis) => duplicatedFifoRead(tis, 9),
  ],
];

describe.each(CASES)('replay of %s', (_name, config, wrap) => {
  it('reproduces the next operations from any cut point', async () => {
    const trace = await record(config, wrap);
    const factory = createGuestProgram(config);
    expect(trace.filter((e) => e.op.op === 'checkpoint').length).toBeGreaterThanOrEqual(3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: trace.length - 1 }), (cut) => {
        const expected = trace.slice(cut, cut + 40).map((e) => e.op);
        expect(opsAfterRestore(factory, trace, cut, 40)).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });
});

describe('DirectRunner.restore', () => {
  it('continues a program rebuilt mid-transaction to the same console output as an uninterrupted run', async () => {
    const config: GuestConfig = { driver: 'linux', workload: 'nv-counter', iterations: 4 };
    const whole = new DirectRunner(await createTisRig({ seed: 'replay' }), createGuestProgram(config)(null));
    whole.run();

    const rig = await createTisRig({ seed: 'replay' });
    const first = new DirectRunner(rig, createGuestProgram(config)(null));
    // Stop in the middle of the third transaction's response, as a snapshot would.
    let transactions = 0;
    first.run({
      until: (op) => op.op === 'mark' && op.name === 'transaction.start' && ++transactions === 3,
    });
    first.run({ until: (op) => op.op === 'read' && (op.addr & 0xfff) === 0x24 });
    expect(first.lastCheckpoint).not.toBeNull();
    const restored = DirectRunner.restore(
      rig,
      createGuestProgram(config),
      first.lastCheckpoint!,
      first.inputsSinceCheckpoint,
    );
    expect(restored.pendingOp).toEqual(first.pendingOp);
    restored.run();
    expect([...first.consoleText(), ...restored.consoleText()]).toEqual(whole.consoleText());
  });
});
