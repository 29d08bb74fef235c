// A scenario as plain data: the machine config, the settings the demo starts with, the actions a scenario
// button plays (run to the scripted pause) and the actions the user is expected to take next (migrate,
// resume). Everything is JSON, so scenarios can live in files and travel in Worker messages.
import type { BackendPhase } from '../backend/emulator-backend';
import { isRecord, show } from '../kernel/checks';
import type { InflightStrategy } from '../migration/tpm-emulator-vmstate';
import { CC } from '../tpm2/constants';
import { parseRunCondition, type RunCondition } from '../vm/run-control';

/** Where the vCPU stands in an MMIO access: exited (KVM returned) or handled (QEMU did the access). */
export type MmioPhase = 'exited' | 'handled';

/** Register names a pendingMmio stop may name (per locality, QEMU's offsets). */
export const STOP_REGISTERS = { ACCESS: 0x00, STS: 0x18, DATA_FIFO: 0x24 } as const;
export type StopRegister = keyof typeof STOP_REGISTERS;

export type ScenarioStop =
  | RunCondition
  /** The vCPU has an MMIO exit of this register pending, in this phase (locality 0). */
  | { kind: 'pendingMmio'; register: StopRegister; isWrite: boolean; phase: MmioPhase }
  /** The backend is in this phase, optionally with this command (by its TPM2_CC name, e.g. 'CreatePrimary'). */
  | { kind: 'backendPhase'; phase: BackendPhase; command?: keyof typeof CC };

export type ScenarioAction =
  /** Run until the stop holds (a breakpoint: the VM stays in the running state, nothing is completed). */
  | { do: 'run'; until: ScenarioStop }
  /** vm_stop, honouring completeMmioBeforeStop. */
  | { do: 'pause' }
  /** Migrate to a destination with the same config; the destination comes up paused. */
  | { do: 'migrate' }
  /** vm_start on the (destination) machine and run until the guest ends. */
  | { do: 'resume' };

export interface ScenarioSettings {
  completeMmioBeforeStop: boolean;
  inflight: InflightStrategy;
}

export interface Scenario {
  id: string;
  /** The button's name. */
  title: string;
  /** What happened, in two or three sentences. */
  summary: string;
  /** What the user does after the button, one instruction per line. */
  instructions: string[];
  /** A machine config (src/core/vm/machine-config.ts). */
  config: Record<string, unknown>;
  /** The fix switches the scenario starts with (the bug shows; switch the fix on to see it not happen). */
  settings: ScenarioSettings;
  /** Played by the scenario button: up to the scripted pause. */
  setup: ScenarioAction[];
  /** What the user is expected to do next, for headless replays and tests. */
  next: ScenarioAction[];
}

const BACKEND_PHASES: readonly BackendPhase[] = ['idle', 'transmitting', 'executing', 'bottomHalfPending'];

/** Checks a stop from outside; the Error names what is wrong. */
export function parseScenarioStop(raw: unknown): ScenarioStop {
  const bad = (what: string): never => {
    throw new Error(`scenario stop: ${what}`);
  };
  if (!isRecord(raw)) return bad(`expected an object with a kind, got ${show(raw)}`);
  if (raw.kind === 'pendingMmio') {
    if (typeof raw.register !== 'string' || !(raw.register in STOP_REGISTERS)) {
      bad(
        `pendingMmio.register must be one of ${Object.keys(STOP_REGISTERS).join(', ')}, got ${show(raw.register)}`,
      );
    }
    if (typeof raw.isWrite !== 'boolean')
      bad(`pendingMmio.isWrite must be a boolean, got ${show(raw.isWrite)}`);
    if (raw.phase !== 'exited' && raw.phase !== 'handled') {
      bad(`pendingMmio.phase must be 'exited' or 'handled', got ${show(raw.phase)}`);
    }
    return {
      kind: 'pendingMmio',
      register: raw.register as StopRegister,
      isWrite: raw.isWrite as boolean,
      phase: raw.phase as MmioPhase,
    };
  }
  if (raw.kind === 'backendPhase') {
    if (!BACKEND_PHASES.includes(raw.phase as BackendPhase)) {
      bad(`backendPhase.phase must be one of ${BACKEND_PHASES.join(', ')}, got ${show(raw.phase)}`);
    }
    if (raw.command !== undefined && !(typeof raw.command === 'string' && raw.command in CC)) {
      bad(`backendPhase.command must be a TPM2_CC name such as 'CreatePrimary', got ${show(raw.command)}`);
    }
    return raw.command === undefined
      ? { kind: 'backendPhase', phase: raw.phase as BackendPhase }
      : { kind: 'backendPhase', phase: raw.phase as BackendPhase, command: raw.command as keyof typeof CC };
  }
  return parseRunCondition(raw);
}

/** Checks an action from outside. */
export function parseScenarioAction(raw: unknown): ScenarioAction {
  if (!isRecord(raw)) throw new Error(`scenario action: expected an object with 'do', got ${show(raw)}`);
  switch (raw.do) {
    case 'run':
      return { do: 'run', until: parseScenarioStop(raw.until) };
    case 'pause':
    case 'migrate':
    case 'resume':
      return { do: raw.do };
    default:
      throw new Error(
        `scenario action: unknown 'do' ${show(raw.do)}; expected run, pause, migrate or resume`,
      );
  }
}
