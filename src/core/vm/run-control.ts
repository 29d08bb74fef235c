// What run control can wait for, as plain data (the UI and scenarios send these over a Worker message and
// store them in scenario files), and how each becomes a predicate over the running machine.
import { isRecord, isSafeNonNegInt, show } from '../kernel/checks';

export type RunCondition =
  /** The driver has read at least `count` response bytes in the current transaction (retired FIFO reads). */
  | { kind: 'responseBytesRead'; count: number }
  /** A TPM command is in flight in the backend (delivered, response not yet through the bottom half). */
  | { kind: 'commandInFlight' }
  /** The TPM has answered and the response waits for the backend's bottom half. */
  | { kind: 'responseWaitingForBottomHalf' }
  /** At least `count` transactions have ended since boot ('transaction.end' marks). */
  | { kind: 'transactionsDone'; count: number }
  /** The guest has executed a mark with this name (counted from the start of the run). */
  | { kind: 'mark'; name: string };

export interface RunOptions {
  until?: RunCondition | (() => boolean);
  /** Stop once virtual time reaches this (absolute, ns). */
  limitNs?: number;
  maxEvents?: number;
}

/** 'condition': the condition held; 'halted': the guest program ended; the others as the Scheduler's. */
export type RunStop = 'condition' | 'halted' | 'idle' | 'limit' | 'maxEvents';

export interface RunOutcome {
  reason: RunStop;
  /** Scheduler events dispatched by this call. */
  dispatched: number;
  timeNs: number;
}

/** What the conditions look at. */
export interface RunProbe {
  readonly responseBytesRead: number;
  readonly transactionsDone: number;
  markCount(name: string): number;
  readonly commandInFlight: boolean;
  readonly responseWaitingForBottomHalf: boolean;
}

/** The predicate for a condition; relative conditions ('mark') count from the moment this is called. */
export function conditionPredicate(cond: RunCondition, probe: RunProbe): () => boolean {
  switch (cond.kind) {
    case 'responseBytesRead':
      return () => probe.responseBytesRead >= cond.count;
    case 'commandInFlight':
      return () => probe.commandInFlight;
    case 'responseWaitingForBottomHalf':
      return () => probe.responseWaitingForBottomHalf;
    case 'transactionsDone':
      return () => probe.transactionsDone >= cond.count;
    case 'mark': {
      const start = probe.markCount(cond.name);
      return () => probe.markCount(cond.name) > start;
    }
  }
}

/** Checks a condition that came from outside; the Error names what is wrong. */
export function parseRunCondition(raw: unknown): RunCondition {
  const bad = (what: string): never => {
    throw new Error(`run condition: ${what}`);
  };
  if (!isRecord(raw)) return bad(`expected an object with a kind, got ${show(raw)}`);
  const count = (): number =>
    isSafeNonNegInt(raw.count)
      ? raw.count
      : bad(`${String(raw.kind)}.count must be a non-negative integer, got ${show(raw.count)}`);
  switch (raw.kind) {
    case 'responseBytesRead':
      return { kind: 'responseBytesRead', count: count() };
    case 'transactionsDone':
      return { kind: 'transactionsDone', count: count() };
    case 'commandInFlight':
    case 'responseWaitingForBottomHalf':
      return { kind: raw.kind };
    case 'mark':
      if (typeof raw.name !== 'string') bad(`mark.name must be a string, got ${show(raw.name)}`);
      return { kind: 'mark', name: raw.name as string };
    default:
      return bad(
        `unknown kind ${show(raw.kind)}; expected responseBytesRead, commandInFlight, ` +
          'responseWaitingForBottomHalf, transactionsDone or mark',
      );
  }
}
