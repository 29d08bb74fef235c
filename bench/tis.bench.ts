// MMIO accesses per second through the XState TIS model with QEMU's backend and the in-process TPM
// (whole transactions as Linux's tpm_tis makes them: locality request, status polls, FIFO writes, go,
// polls until dataAvail, FIFO reads, commandReady, release), beside the bare actor.send rate of a trivial
// XState machine measured in the same run. Target (issue 4): at least half of the bare rate, for the model,
// the backend and the engine, which is what the issue names; the trace sink (formatting every event as a
// JSON line and hashing it) costs about as much again and has its own row.
import { performance } from 'node:perf_hooks';
import { assign, createActor, setup } from 'xstate';
import { buildCommand } from '../src/core/tpm2/build';
import { CC } from '../src/core/tpm2/constants';
import { TraceLog } from '../src/core/kernel/trace';
import { nodeSha256Stream } from '../src/cli/node-sha256';
import { createTisRig } from '../src/core/vm/tis-rig';
import type { BenchResult } from './types';

const ACCESS = 0x00;
const STS = 0x18;
const FIFO = 0x24;

function bareSendRate(events: number): number {
  const machine = setup({
    types: { context: {} as { n: number }, events: {} as { type: 'tick' } },
  }).createMachine({
    context: { n: 0 },
    on: { tick: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
  });
  const actor = createActor(machine).start();
  const start = performance.now();
  for (let i = 0; i < events; i++) actor.send({ type: 'tick' });
  return events / ((performance.now() - start) / 1000);
}

interface TisRate {
  accessesPerS: number;
  machineEventsPerAccess: number;
}

async function tisRate(
  transactions: number,
  { foldAccesses = true, traceTis = true } = {},
): Promise<TisRate> {
  const rig = await createTisRig({ seed: 'bench-tis', foldAccesses, traceTis });
  const { tis, scheduler } = rig;
  const command = buildCommand({ code: CC.GetRandom, params: (w) => w.u16(8) });
  let accesses = 0;
  const read = (addr: number, size: number) => {
    accesses++;
    return tis.read(addr, size);
  };
  const write = (addr: number, size: number, value: number) => {
    accesses++;
    tis.write(addr, size, value);
  };
  const eventsBefore = tis.machineEventCount;
  const start = performance.now();
  for (let t = 0; t < transactions; t++) {
    write(ACCESS, 1, 0x02);
    read(ACCESS, 1);
    write(STS, 1, 0x40);
    read(STS, 4);
    for (const b of command) write(FIFO, 1, b);
    read(STS, 1);
    write(STS, 1, 0x20);
    // Poll STS every 20 µs of virtual time until dataAvail, as the driver's wait_for_tpm_stat does.
    while ((read(STS, 1) & 0x90) !== 0x90) scheduler.runUntil(scheduler.nowNs + 20_000);
    const burst = (read(STS, 4) >>> 8) & 0xffff;
    for (let i = 0; i < burst; i++) read(FIFO, 1);
    read(STS, 1);
    write(STS, 1, 0x40);
    write(ACCESS, 1, 0x20);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    accessesPerS: accesses / seconds,
    machineEventsPerAccess: (tis.machineEventCount - eventsBefore) / accesses,
  };
}

export async function benchTis(): Promise<BenchResult[]> {
  // As the CLI does: the trace hash through Node's native SHA-256.
  TraceLog.useSha256(nodeSha256Stream);
  // Warm up all paths, then take the best of three.
  bareSendRate(50_000);
  await tisRate(200);
  await tisRate(200, { traceTis: false });
  await tisRate(200, { foldAccesses: false });
  let bare = 0;
  let model: TisRate = { accessesPerS: 0, machineEventsPerAccess: 0 };
  let traced = 0;
  let unfolded = 0;
  for (let i = 0; i < 3; i++) {
    bare = Math.max(bare, bareSendRate(500_000));
    const r = await tisRate(3_000, { traceTis: false });
    if (r.accessesPerS > model.accessesPerS) model = r;
    traced = Math.max(traced, (await tisRate(3_000)).accessesPerS);
    unfolded = Math.max(unfolded, (await tisRate(1_000, { foldAccesses: false })).accessesPerS);
  }
  const percentOfBare = (rate: number) => `${((100 * rate) / bare).toFixed(0)}% of the bare actor.send rate`;
  return [
    { name: 'xstate bare actor.send (trivial machine)', value: Math.round(bare), unit: 'events/s' },
    {
      name: 'TIS MMIO accesses with backend + TPM (GetRandom transactions)',
      value: Math.round(model.accessesPerS),
      unit: 'accesses/s',
      target: '>= 50% of bare actor.send',
      met: model.accessesPerS >= bare / 2,
      note:
        `${percentOfBare(model.accessesPerS)}: the XState model, QEMU's backend and the in-process TPM, as ` +
        `issue 4 asks, with the TIS's trace events made but not recorded (the next row records them); ` +
        `${model.machineEventsPerAccess.toFixed(2)} machine events per access (accesses that move no ` +
        'state folded); best of 3',
    },
    {
      name: 'TIS MMIO accesses, the same with the trace recorded and hashed',
      value: Math.round(traced),
      unit: 'accesses/s',
      note:
        `${percentOfBare(traced)}: every QEMU-named trace event (about two per access) appended to the ` +
        'trace log and hashed with SHA-256, as the simulator does',
    },
    {
      name: 'TIS MMIO accesses, every access through the machine',
      value: Math.round(unfolded),
      unit: 'accesses/s',
      note: 'with the trace, and with folding off (foldAccesses: false), for comparison',
    },
  ];
}
