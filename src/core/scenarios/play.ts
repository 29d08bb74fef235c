// Plays a scenario's actions on a machine: the scenario buttons in the UI and headless replays in tests.
import { migrate, type InflightStrategy } from '../migration/migrate';
import { CC } from '../tpm2/constants';
import { TIS_ADDR_BASE } from '../tis/registers';
import type { Machine, MachineOptions } from '../vm/machine';
import { conditionPredicate, type RunOutcome } from '../vm/run-control';
import { STOP_REGISTERS, type ScenarioAction, type ScenarioStop } from './scenario';

/** The predicate for a stop; relative conditions count from the moment this is called. */
export function stopPredicate(stop: ScenarioStop, machine: Machine): () => boolean {
  switch (stop.kind) {
    case 'pendingMmio': {
      const addr = TIS_ADDR_BASE + STOP_REGISTERS[stop.register];
      return () => {
        const e = machine.vcpu.view.pendingExit;
        return e !== null && e.addr === addr && e.isWrite === stop.isWrite && e.phase === stop.phase;
      };
    }
    case 'backendPhase': {
      const code = stop.command === undefined ? null : CC[stop.command];
      return () => {
        if (machine.backend.phase !== stop.phase) return false;
        if (code === null) return true;
        const input = machine.backend.inFlightCommand?.input;
        return input !== undefined && input.length >= 10 && readU32(input, 6) === code;
      };
    }
    default:
      return conditionPredicate(stop, machine);
  }
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export interface PlayOptions {
  inflight?: InflightStrategy;
  /** Options for a migration's destination (its TPM transport in the browser). */
  destination?: () => MachineOptions;
  /** Virtual-time budget of each run action, from its start (default 600 s): a stop that never comes ends. */
  runBudgetNs?: number;
}

export interface PlayResult {
  /** The machine the actions end on: a migration's destination after 'migrate'. */
  machine: Machine;
  /** How the last 'run' or 'resume' ended. */
  outcome: RunOutcome | null;
}

/**
 * Plays the actions in order. A run that ends without its stop holding (the guest halted, the budget ran
 * out) throws: the scenario did not reach its scripted pause, which the user must hear about.
 */
export async function playActions(
  start: Machine,
  actions: readonly ScenarioAction[],
  opts: PlayOptions = {},
): Promise<PlayResult> {
  let machine = start;
  let outcome: RunOutcome | null = null;
  const budget = opts.runBudgetNs ?? 600_000_000_000;
  for (const action of actions) {
    switch (action.do) {
      case 'run': {
        const until = stopPredicate(action.until, machine);
        outcome = await machine.run({ until, limitNs: machine.scheduler.nowNs + budget });
        if (outcome.reason !== 'condition') {
          throw new Error(
            `scenario: the run to ${describeStop(action.until)} ended (${outcome.reason}) before it got there`,
          );
        }
        break;
      }
      case 'pause':
        await machine.pause();
        break;
      case 'migrate': {
        const r = await migrate(machine, machine.config, {
          ...(opts.destination?.() ?? {}),
          ...(opts.inflight === undefined ? {} : { inflight: opts.inflight }),
        });
        machine = r.destination;
        break;
      }
      case 'resume':
        outcome = await machine.run({ limitNs: machine.scheduler.nowNs + budget });
        break;
    }
  }
  return { machine, outcome };
}

/** A stop in words, for messages. */
export function describeStop(stop: ScenarioStop): string {
  switch (stop.kind) {
    case 'pendingMmio':
      return `a ${stop.isWrite ? 'write to' : 'read of'} ${stop.register} ${stop.phase === 'handled' ? 'handled by QEMU, not yet re-entered' : 'exited to QEMU'}`;
    case 'backendPhase':
      return `the backend ${stop.phase}${stop.command ? ` with ${stop.command}` : ''}`;
    case 'responseBytesRead':
      return `${stop.count} response bytes read`;
    case 'transactionsDone':
      return `${stop.count} transactions done`;
    case 'mark':
      return `the guest mark '${stop.name}'`;
    default:
      return stop.kind;
  }
}
