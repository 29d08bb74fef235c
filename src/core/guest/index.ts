// The guest side of the machine: which driver runs which workload. `createGuestProgram` turns a plain,
// JSON-serialisable config (what scenarios, the UI and the CLI hold) into a GuestProgramFactory.
import { isRecord, show } from '../kernel/checks';
import { DRIVER_NAMES, type DriverName, type GuestDriver } from './driver';
import { linuxDriver } from './linux';
import { linux2637Driver } from './linux-2-6-37';
import type { GuestProgramFactory } from './program';
import { createWorkloadProgram, WORKLOAD_NAMES, type WorkloadName } from './workloads';

export { DRIVER_NAMES, WORKLOAD_NAMES };
export type { DriverName, WorkloadName };
export type { GuestDriver, TransmitResult } from './driver';
export type { GuestOp, GuestInput, GuestProgram, GuestProgramFactory, MmioSize } from './program';
export { formatConsoleLine, type ConsoleLine } from './console';

export type GuestConfig = {
  driver: DriverName;
  workload: WorkloadName;
  /** Iterations of the workload; absent runs forever. */
  iterations?: number;
};

/** What the UI and the CLI offer, with a line each. */
export const DRIVER_DESCRIPTIONS: { [K in DriverName]: string } = {
  linux: "today's tpm_tis (6.6+): locality per command, 32-bit burst reads, responseRetry on -EIO",
  'linux-2.6.37': 'the 2.6.37 tpm_tis: locality kept, byte-wise burst count, no retry',
};

export const WORKLOAD_DESCRIPTIONS: { [K in WorkloadName]: string } = {
  keygen: 'CreatePrimary (ECC P-256, owner) then FlushContext, responses dumped in hex',
  'pcr-extend': 'PCR_Extend of PCR 16 (sha256), digest printed',
  getrandom: 'GetRandom(32), bytes printed',
  'nv-counter': 'NV_Increment then NV_Read of a counter index, skipped counts reported',
};

const DRIVERS: { [K in DriverName]: GuestDriver } = {
  linux: linuxDriver,
  'linux-2.6.37': linux2637Driver,
};

/** Checks a config; throws an Error naming the bad field and what it may be. */
export function parseGuestConfig(value: unknown): GuestConfig {
  if (!isRecord(value)) throw new Error('guest config: expected an object {driver, workload, iterations?}');
  for (const key of Object.keys(value)) {
    if (key !== 'driver' && key !== 'workload' && key !== 'iterations') {
      throw new Error(`guest config: unknown field '${key}'; the fields are driver, workload and iterations`);
    }
  }
  const { driver, workload, iterations } = value;
  if (typeof driver !== 'string' || !(DRIVER_NAMES as readonly string[]).includes(driver)) {
    throw new Error(
      `guest config: field 'driver' must be one of ${DRIVER_NAMES.join(', ')}; got ${show(driver)}`,
    );
  }
  if (typeof workload !== 'string' || !(WORKLOAD_NAMES as readonly string[]).includes(workload)) {
    throw new Error(
      `guest config: field 'workload' must be one of ${WORKLOAD_NAMES.join(', ')}; got ${show(workload)}`,
    );
  }
  if (iterations !== undefined && !(Number.isSafeInteger(iterations) && (iterations as number) >= 0)) {
    throw new Error(
      `guest config: field 'iterations' must be a non-negative integer, or absent to run forever; got ${show(iterations)}`,
    );
  }
  const config: GuestConfig = { driver: driver as DriverName, workload: workload as WorkloadName };
  if (iterations !== undefined) config.iterations = iterations as number;
  return config;
}

export function createGuestProgram(config: GuestConfig): GuestProgramFactory {
  const c = parseGuestConfig(config);
  return createWorkloadProgram(c.workload, DRIVERS[c.driver], { iterations: c.iterations });
}
