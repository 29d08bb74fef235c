// The Worker path and the in-process path must give the same answers, byte for byte and with the same
// virtual durations, including across a migration done through swtpm's control channel.
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessTransport, type TpmTransport } from '../core/backend/transport';
import { buildCommand, parseResponse, pwSession } from '../core/tpm2/build';
import { ALG, CC, SU } from '../core/tpm2/constants';
import { startNodeTpmWorker, type NodeTpmWorker } from './node-tpm-worker';

const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const ctrl = (cmd: number, ...body: number[]) => Uint8Array.from([...u32(cmd), ...body]);
const CMD_INIT = 0x02;
const CMD_GET_STATEBLOB = 0x0c;
const CMD_SET_STATEBLOB = 0x0d;
const CMD_STOP = 0x0e;

const script = [
  buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) }),
  buildCommand({ code: CC.GetRandom, params: (w) => w.u16(16) }),
  buildCommand({
    code: CC.PCR_Extend,
    handles: [16],
    sessions: [pwSession()],
    params: (w) => w.u32(1).u16(ALG.SHA256).bytes(new Uint8Array(32).fill(3)),
  }),
  buildCommand({ code: CC.PCR_Read, params: (w) => w.u32(1).u16(ALG.SHA256).u8(3).u8(0).u8(0).u8(1) }),
];

async function run(t: TpmTransport, commands: Uint8Array[]) {
  const out = [];
  let now = 0;
  for (const c of commands) {
    const r = await t.command(c, now);
    now += r.durationNs;
    out.push(r);
  }
  return out;
}

/** GET_STATEBLOB of one type at offset 0, returning the blob bytes (QEMU's tpm_emulator_get_state_blob). */
async function getBlob(t: TpmTransport, type: number): Promise<{ flags: number; blob: Uint8Array }> {
  const r = await t.control(ctrl(CMD_GET_STATEBLOB, ...u32(1), ...u32(type), ...u32(0)));
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const result = v.getUint32(0);
  expect(result & ~0x800).toBe(0);
  const flags = v.getUint32(4);
  const length = v.getUint32(12);
  return { flags, blob: r.slice(16, 16 + length) };
}

let worker: NodeTpmWorker | undefined;
afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
});

describe('TPM worker (worker_threads)', () => {
  it('answers exactly like the in-process device', async () => {
    worker = await startNodeTpmWorker({ seed: 'worker' });
    const viaWorker = await run(worker.transport, script);
    const inProcess = await run(new InProcessTransport({ seed: 'worker' }), script);
    expect(viaWorker.map((r) => parseResponse(r.response).rc)).toEqual([0, 0, 0, 0]);
    expect(viaWorker).toEqual(inProcess);
  }, 20_000);

  it('migrates from an in-process source into the worker with QEMU’s control sequence', async () => {
    const source = new InProcessTransport({ seed: 'migrate' });
    await run(source, script.slice(0, 3));
    const permanent = await getBlob(source, 1);
    const volatile = await getBlob(source, 2);

    worker = await startNodeTpmWorker({ seed: 'another seed entirely' });
    const dest = worker.transport;
    expect(Array.from(await dest.control(ctrl(CMD_STOP)))).toEqual([0, 0, 0, 0]);
    for (const [type, b] of [
      [1, permanent],
      [2, volatile],
    ] as const) {
      const set = ctrl(CMD_SET_STATEBLOB, ...u32(b.flags), ...u32(type), ...u32(b.blob.length), ...b.blob);
      expect(Array.from(await dest.control(set))).toEqual([0, 0, 0, 0]);
    }
    expect(Array.from(await dest.control(ctrl(CMD_INIT, ...u32(1))))).toEqual([0, 0, 0, 0]);

    const next = [buildCommand({ code: CC.GetRandom, params: (w) => w.u16(16) }), script[3]!];
    expect(await run(dest, next)).toEqual(await run(source, next));
  }, 20_000);

  it('reports a request it cannot serve as an error, not a crash', async () => {
    worker = await startNodeTpmWorker({ seed: 1 });
    await expect(worker.transport.command(undefined as unknown as Uint8Array)).rejects.toThrow(/Uint8Array/);
    const r = await worker.transport.command(buildCommand({ code: CC.GetRandom, params: (w) => w.u16(4) }));
    expect(parseResponse(r.response).rc).toBe(0x100); // still alive: TPM_RC_INITIALIZE before Startup
  }, 20_000);
});
