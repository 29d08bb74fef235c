// QEMU's backend in front of the TPM Worker: a whole TIS transaction gives the same trace (hash) and the
// same response bytes whether the TPM answers in-process or from a worker_threads Worker, because every
// answer is consumed by a scheduler event at a virtual time that does not depend on when it arrived.
import { afterEach, describe, expect, it } from 'vitest';
import { EmulatorBackend } from '../core/backend/emulator-backend';
import { InProcessTransport, type TpmTransport } from '../core/backend/transport';
import { Scheduler, TraceLog } from '../core/kernel';
import { buildCommand } from '../core/tpm2/build';
import { CC } from '../core/tpm2/constants';
import { TisDevice } from '../core/tis/tis-device';
import { startNodeTpmWorker, type NodeTpmWorker } from './node-tpm-worker';

const ACCESS = 0x00;
const STS = 0x18;
const FIFO = 0x24;

/** Linux-like GetRandom(8) through the TIS; returns the response bytes and the trace hash. */
async function transaction(transport: TpmTransport): Promise<{ response: number[]; traceHash: string }> {
  const scheduler = new Scheduler();
  const trace = new TraceLog();
  const backend = new EmulatorBackend({ scheduler, trace, transport });
  await backend.init();
  const tis = new TisDevice(backend, {
    trace: (kind, data) => trace.append(scheduler.nowNs, 'tis', kind, { ...data }),
  });
  backend.setFrontend(tis);
  tis.write(ACCESS, 1, 0x02);
  tis.write(STS, 1, 0x40);
  for (const b of buildCommand({ code: CC.GetRandom, params: (w) => w.u16(8) })) tis.write(FIFO, 1, b);
  tis.write(STS, 1, 0x20);
  await backend.run({ until: () => (tis.read(STS, 1) & 0x90) === 0x90 });
  const burst = (tis.read(STS, 4) >>> 8) & 0xffff;
  const response = Array.from({ length: burst }, () => tis.read(FIFO, 1));
  return { response, traceHash: trace.traceHash() };
}

let worker: NodeTpmWorker | undefined;
afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
});

describe('EmulatorBackend over the TPM Worker', () => {
  it('gives the same response and the same trace as the in-process TPM', async () => {
    worker = await startNodeTpmWorker({ seed: 'backend-worker', startupClear: true });
    const viaWorker = await transaction(worker.transport);
    const inProcess = await transaction(
      new InProcessTransport({ seed: 'backend-worker', startupClear: true }),
    );
    expect(viaWorker.response.slice(0, 10)).toEqual([0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0, 0]);
    expect(viaWorker).toEqual(inProcess);
  }, 20_000);
});
