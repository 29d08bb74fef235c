// The device side of the machine without a vCPU: QEMU's TIS in front of the emulator backend and an
// in-process swtpm-like TPM, on one scheduler and one trace. Used by `tislab replay` and the benchmarks;
// the full machine (issue 5) adds the vCPU and the guest in front of it.
import { EmulatorBackend } from '../backend/emulator-backend';
import { InProcessTransport } from '../backend/transport';
import { Scheduler, TraceLog } from '../kernel';
import { SwtpmDevice } from '../swtpm';
import { TisDevice } from '../tis/tis-device';
import type { TraceData } from '../tis/tis-logic';

export interface TisRig {
  scheduler: Scheduler;
  trace: TraceLog;
  backend: EmulatorBackend;
  tis: TisDevice;
}

export interface TisRigOptions {
  seed: string | number;
  /** Send TPM2_Startup(CLEAR) when the TPM starts, as firmware would have (swtpm --flags startup-clear). */
  startupClear?: boolean;
  speed?: number;
  traceWindow?: number;
  /** TisDevice's foldAccesses (default true). */
  foldAccesses?: boolean;
  /** False: the TIS's trace events go nowhere (the backend's still reach the trace). For measuring the
   * model without the trace sink's formatting and hashing. Default true. */
  traceTis?: boolean;
}

export async function createTisRig(opts: TisRigOptions): Promise<TisRig> {
  const scheduler = new Scheduler();
  const trace = new TraceLog({ windowSize: opts.traceWindow ?? 10_000 });
  const device = new SwtpmDevice({
    seed: opts.seed,
    startupClear: opts.startupClear ?? true,
    ...(opts.speed === undefined ? {} : { speed: opts.speed }),
  });
  const backend = new EmulatorBackend({ scheduler, trace, transport: new InProcessTransport(device) });
  await backend.init();
  const tis = new TisDevice(backend, {
    ...(opts.traceTis === false
      ? {}
      : { trace: (kind: string, data: TraceData) => trace.append(scheduler.nowNs, 'tis', kind, data) }),
    foldAccesses: opts.foldAccesses ?? true,
  });
  backend.setFrontend(tis);
  return { scheduler, trace, backend, tis };
}
