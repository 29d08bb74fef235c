// The guest's user-space test programs: loops of TPM commands through a driver, printing what comes back,
// as the programs that found the migration bugs did. Each is a GuestProgramFactory (program.ts): before
// every transaction it yields a checkpoint with its whole state (driver state included), so a snapshot can
// restore it by replay. Transactions are framed by 'transaction.start' / 'transaction.end' marks.
import { cloneJson, type JsonValue } from '../kernel';
import { isRecord } from '../kernel/checks';
import type { GuestDriver } from './driver';
import { mark, print } from './ops';
import type { GuestProgram, GuestProgramFactory } from './program';
import { headerCode } from './tis-regs';
import { toHex } from './workload-commands';
import {
  WORKLOAD_NAMES,
  type WorkloadConfig,
  type WorkloadData,
  type WorkloadName,
  type WorkloadSpec,
} from './workload-kit';
import { getrandomWorkload, keygenWorkload, nvCounterWorkload, pcrExtendWorkload } from './workload-specs';

/** A workload program's checkpoint state. */
export type WorkloadState = {
  workload: WorkloadName;
  driverName: string;
  /** Iterations completed. */
  iteration: number;
  driver: JsonValue;
  data: WorkloadData;
};

export const WORKLOADS: { [K in WorkloadName]: WorkloadSpec } = {
  keygen: keygenWorkload,
  'pcr-extend': pcrExtendWorkload,
  getrandom: getrandomWorkload,
  'nv-counter': nvCounterWorkload,
};

/** The factory for `workload` over `driver`; the driver is probed once, on a fresh start. */
export function createWorkloadProgram<S extends JsonValue>(
  workload: WorkloadName,
  driver: GuestDriver<S>,
  config: WorkloadConfig = {},
): GuestProgramFactory {
  const spec = WORKLOADS[workload];
  // A checkpoint state is checked when the program is made, so a bad one fails before anything runs.
  return (resume) =>
    runWorkload(spec, driver, config, resume === null ? null : parseState(spec, driver, resume));
}

function* runWorkload<S extends JsonValue>(
  spec: WorkloadSpec,
  driver: GuestDriver<S>,
  config: WorkloadConfig,
  resume: WorkloadState | null,
): GuestProgram {
  const fresh = resume === null;
  const state = resume ?? freshState(spec, driver);
  const driverState = driver.parseState(state.driver);
  if (fresh) yield* driver.probe(driverState);
  // A program rebuilt from a checkpoint continues right after it, so it does not yield it again.
  let skipCheckpoint = !fresh;
  while (config.iterations === undefined || state.iteration < config.iterations) {
    if (!skipCheckpoint) {
      state.driver = cloneJson(driverState);
      yield { op: 'checkpoint', state: cloneJson(state) };
    }
    skipCheckpoint = false;
    const tx = spec.next(state.data, state.iteration);
    const code = headerCode(tx.command);
    yield* mark('transaction.start', { code, name: tx.name });
    const result = yield* driver.transmit(driverState, tx.command);
    yield* mark('transaction.end', {
      code,
      name: tx.name,
      rc: result.rc,
      responseHex: result.response ? toHex(result.response) : null,
    });
    const outcome = spec.handle(state.data, state.iteration, tx, result);
    for (const line of outcome.lines) yield* print(line.text, line.level ?? 'info');
    if (outcome.iterationDone) state.iteration++;
  }
  yield* print(`${spec.name}: done after ${state.iteration} iterations`);
}

function freshState<S extends JsonValue>(spec: WorkloadSpec, driver: GuestDriver<S>): WorkloadState {
  return {
    workload: spec.name,
    driverName: driver.name,
    iteration: 0,
    driver: driver.initialState(),
    data: spec.initialData(),
  };
}

function parseState<S extends JsonValue>(
  spec: WorkloadSpec,
  driver: GuestDriver<S>,
  value: JsonValue,
): WorkloadState {
  const v = cloneJson(value);
  if (!isRecord(v) || v.workload !== spec.name || v.driverName !== driver.name) {
    throw new Error(
      `${spec.name} workload: the checkpoint state is not one of this program's ` +
        `(expected workload '${spec.name}' over driver '${driver.name}')`,
    );
  }
  if (typeof v.iteration !== 'number' || !Number.isSafeInteger(v.iteration) || v.iteration < 0) {
    throw new Error(`${spec.name} workload: checkpoint field 'iteration' must be a non-negative integer`);
  }
  return {
    workload: spec.name,
    driverName: driver.name,
    iteration: v.iteration,
    driver: driver.parseState(v.driver ?? null),
    data: spec.parseData(v.data ?? null),
  };
}

export { WORKLOAD_NAMES };
export type { WorkloadConfig, WorkloadName };
