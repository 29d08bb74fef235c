// What a workload is made of (shared by workloads.ts and the workload specs): its name, config and data,
// the transaction it wants next, what came of it, and the console verdict on a response.
import type { JsonValue } from '../kernel';
import { describeRc } from '../tpm2/rc';
import type { TransmitResult } from './driver';
import { errnoName } from './errno';
import { headerSize } from './tis-regs';
import { toHex, viewResponse, type ResponseView } from './workload-commands';

export const WORKLOAD_NAMES = ['keygen', 'pcr-extend', 'getrandom', 'nv-counter'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface WorkloadConfig {
  /** How many iterations to run; undefined runs forever. */
  iterations?: number;
}

export type WorkloadData = { [k: string]: JsonValue };

export interface Transaction {
  /** The command's name for the console ('CreatePrimary'). */
  name: string;
  command: Uint8Array;
}

export interface Outcome {
  lines: { text: string; level?: 'info' | 'warn' | 'err' }[];
  /** The iteration is complete after this transaction. */
  iterationDone: boolean;
}

/** One workload: which command comes next, and what its result means. Both may update `data`. */
export interface WorkloadSpec<D extends WorkloadData = WorkloadData> {
  name: WorkloadName;
  initialData(): D;
  parseData(value: JsonValue): D;
  next(data: D, iteration: number): Transaction;
  handle(data: D, iteration: number, tx: Transaction, result: TransmitResult): Outcome;
}

/**
 * What a transaction gave, for the console: the response when it is whole and rc 0, otherwise a line
 * saying what went wrong (driver error, TPM error, or bytes that are not a response).
 */
export function judge(
  label: string,
  tx: Transaction,
  result: TransmitResult,
): { ok: ResponseView } | { error: string } {
  if (result.rc < 0 || !result.response) {
    return { error: `${label}: ${tx.name} failed: error ${result.rc} (${errnoName(result.rc)})` };
  }
  const view = viewResponse(result.response);
  if (view === null) {
    const b = result.response;
    const said = b.length >= 6 ? `, header says ${headerSize(b)}` : '';
    return { error: `${label}: ${tx.name}: bad response of ${b.length} bytes${said}: ${toHex(b, ' ')}` };
  }
  if (view.rc !== 0) {
    return {
      error: `${label}: ${tx.name}: TPM error 0x${view.rc.toString(16).padStart(8, '0')} (${describeRc(view.rc)})`,
    };
  }
  return { ok: view };
}
