// Migration figures (issue 6): snapshot + restore of an idle machine (median time and file size), the
// size as the TPM's NV usage grows, and the cut-point sweep's cost per cut divided by one straight run
// (a fresh machine run through the same transaction without migration: what a replay from the start
// would cost per cut). Targets: idle ≤ 1 ms and ≤ 64 KiB; sweep ratio ≤ 1.5.
import { performance } from 'node:perf_hooks';
import { nodeSha256, nodeSha256Stream } from '../src/cli/node-sha256';
import { useSha256Bytes } from '../src/core/kernel/sha256';
import { InProcessTransport } from '../src/core/backend/transport';
import { TraceLog } from '../src/core/kernel/trace';
import { prepareIncoming, restoreMachine, saveMachine } from '../src/core/migration/migrate';
import { sweep } from '../src/core/migration/sweep';
import { SwtpmDevice } from '../src/core/swtpm';
import { buildCommand, pwSession } from '../src/core/tpm2/build';
import { CC, RH } from '../src/core/tpm2/constants';
import { createMachine } from '../src/core/vm/machine';
import type { BenchResult } from './types';

const IDLE = { seed: 'bench-migration', guest: { driver: 'linux', workload: 'getrandom', iterations: 1 } };
const NV_INDEX_SIZE = 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/**
 * An idle machine: the guest between two transactions (nothing in flight, the program just past its
 * checkpoint). Times saveMachine + the load into a destination started beforehand, as `qemu -incoming`
 * waits for the stream (the migration's cost, which the target is about), and separately the whole
 * restoreMachine that also builds the destination.
 */
async function idleRoundTrip(runs: number): Promise<{ ms: number; withBuildMs: number; bytes: number }> {
  const config = { ...IDLE, guest: { ...IDLE.guest, iterations: 3 } };
  const m = await createMachine(config);
  await m.run({ until: () => m.markCount('transaction.start') >= 2 });
  await m.pause();
  const times: number[] = [];
  const withBuild: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const incoming = await prepareIncoming(config);
    const t0 = performance.now();
    const file = await saveMachine(m);
    const saved = performance.now();
    await incoming.load(file);
    const t1 = performance.now();
    await restoreMachine(file, config);
    times.push(t1 - t0);
    withBuild.push(saved - t0 + (performance.now() - t1));
    bytes = file.length;
  }
  return { ms: median(times), withBuildMs: median(withBuild), bytes };
}

/** A machine whose TPM holds `count` NV indices of 1 KiB, each written in full. */
async function snapshotSizeWithNv(count: number): Promise<number> {
  const device = new SwtpmDevice({ seed: IDLE.seed, startupClear: true });
  for (let i = 0; i < count; i++) {
    const index = 0x01500000 + i;
    const define = buildCommand({
      code: CC.NV_DefineSpace,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => w.u16(0).u16(14).u32(index).u16(0x000b).u32(0x00060006).u16(0).u16(NV_INDEX_SIZE),
    });
    const write = buildCommand({
      code: CC.NV_Write,
      handles: [index, index],
      sessions: [pwSession()],
      params: (w) => w.tpm2b(new Uint8Array(NV_INDEX_SIZE).fill(i & 0xff)).u16(0),
    });
    for (const cmd of [define, write]) {
      const rc = new DataView(device.handleCommand(cmd).response.buffer).getUint32(6);
      if (rc !== 0)
        throw new Error(`bench: NV setup command failed with rc 0x${rc.toString(16)} at index ${i}`);
    }
  }
  const m = await createMachine(IDLE, { transport: new InProcessTransport(device) });
  await m.run();
  return (await saveMachine(m)).length;
}

async function sweepRatio(): Promise<{ ratio: number; cuts: number; perCutMs: number; straightMs: number }> {
  const config = { seed: 'bench-sweep', guest: { driver: 'linux', workload: 'getrandom', iterations: 2 } };
  const straight: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const m = await createMachine(config);
    await m.run({ until: () => m.markCount('transaction.start') >= 2 });
    straight.push(performance.now() - t0);
  }
  const t0 = performance.now();
  const r = await sweep(config, { inflight: 'wait' });
  const total = performance.now() - t0;
  const perCutMs = total / r.rows.length;
  const straightMs = median(straight);
  return { ratio: perCutMs / straightMs, cuts: r.rows.length, perCutMs, straightMs };
}

export async function benchMigration(): Promise<BenchResult[]> {
  TraceLog.useSha256(nodeSha256Stream);
  useSha256Bytes(nodeSha256);
  await idleRoundTrip(10); // warm up
  const idle = await idleRoundTrip(100);
  const sizes: string[] = [];
  for (const count of [0, 8, 32])
    sizes.push(`${count} × 1 KiB NV: ${(await snapshotSizeWithNv(count)).toLocaleString('en-US')} bytes`);
  const s = await sweepRatio();
  return [
    {
      name: 'migration: idle machine snapshot + restore (median)',
      value: Number(idle.ms.toFixed(3)),
      unit: 'ms',
      target: '<= 1 ms',
      met: idle.ms <= 1,
      note:
        'saveMachine (vm_stop, pre_save with GET_STATEBLOB ×3, the stream and its SHA-256) + the load into a ' +
        'destination started beforehand as with qemu -incoming (every section checked, post_load STOP, ' +
        `SET_STATEBLOB ×2, INIT), guest idle between two transactions; median of 100. With the destination ` +
        `built inside the timing (restoreMachine): ${idle.withBuildMs.toFixed(3)} ms`,
    },
    {
      name: 'migration: idle machine snapshot size',
      value: idle.bytes,
      unit: 'bytes',
      target: '<= 65,536 bytes',
      met: idle.bytes <= 65_536,
      note: `snapshot size as the TPM's NV usage grows: ${sizes.join('; ')}`,
    },
    {
      name: 'migration: sweep cost per cut / one straight run',
      value: Number(s.ratio.toFixed(2)),
      unit: '×',
      target: '<= 1.5',
      met: s.ratio <= 1.5,
      note: `GetRandom(32) transaction through the linux driver, ${s.cuts} cut points, ${s.perCutMs.toFixed(2)} ms per cut (fork, migrate, run to the end of the transaction) vs ${s.straightMs.toFixed(2)} ms for a fresh machine run through it`,
    },
  ];
}
