// The message protocol between the page and the simulation Worker (sim.worker.ts). The page sends intents;
// the Worker answers with views (at most one per animation frame while it runs), trace batches for the
// Lanes, snapshot files, and errors. Everything is structured-clone data.
import type { TraceEvent } from '../core/kernel';
import type { InflightStrategy } from '../core/migration/tpm-emulator-vmstate';
import type { CutPoint } from '../core/vm/hazards';
import type { MachineView } from '../core/vm/machine';
import type { StateTransition, TisDetail, TransactionDetail } from '../core/vm/machine-details';

/** Virtual nanoseconds per wall-clock second; 0 runs as fast as the Worker can. */
export type RunSpeed = number;

export const RUN_SPEEDS: readonly { value: RunSpeed; label: string }[] = [
  { value: 0, label: 'Full speed' },
  { value: 100_000_000, label: '100 ms per second' },
  { value: 1_000_000, label: '1 ms per second' },
  { value: 50_000, label: '50 µs per second' },
];

export type SimIntent =
  | { type: 'run' }
  | { type: 'pause' }
  | { type: 'stepKvm' }
  | { type: 'stepInstruction' }
  | { type: 'stepDriverOp' }
  | { type: 'snapshot' }
  | { type: 'migrate' }
  | { type: 'resume' }
  | { type: 'reset' }
  | { type: 'setSpeed'; speed: RunSpeed }
  | { type: 'setCompleteMmio'; on: boolean }
  | { type: 'setInflight'; strategy: InflightStrategy }
  | { type: 'loadScenario'; id: string }
  /** A snapshot file the user chose (`name` is its file name, for messages). */
  | { type: 'loadSnapshot'; bytes: Uint8Array; name: string };

export type SimIntentType = SimIntent['type'];

export interface SimSettings {
  speed: RunSpeed;
  completeMmioBeforeStop: boolean;
  inflight: InflightStrategy;
}

export interface SimMarker {
  t: number;
  label: string;
}

export interface SimView {
  /** False until the first machine is up. */
  ready: boolean;
  /** The Worker's run loop is going (Run or Resume pressed and not yet paused or ended). */
  running: boolean;
  /** An intent in progress that takes a while ("Migrating…"), or null. */
  busy: string | null;
  machine: MachineView | null;
  /** 'destination' after a migration: the Worker now hosts the machine the snapshot was loaded into. */
  role: 'source' | 'destination';
  migrations: number;
  scenarioId: string | null;
  /** The guest: driver and workload, for the header. */
  guest: { driver: string; workload: string };
  settings: SimSettings;
  tis: TisDetail | null;
  /** The TIS machine's active states as region.state paths ('locality.l0', 'cmd0.reception'). */
  tisActive: string[];
  lastTransition: StateTransition | null;
  /** The transaction the Guest view shows: the last one that went wrong, else the latest. */
  transaction: TransactionDetail | null;
  /** How the last run or step ended ('condition', 'halted', ...), or null. */
  lastStop: string | null;
  /** The last snapshot taken (its bytes came in a 'snapshot' message). */
  snapshot: { sizeBytes: number; atNs: number } | null;
  /** Where the last migration cut the source. */
  cut: CutPoint | null;
  markers: SimMarker[];
  /** The last intent that failed, in words, or null. */
  error: string | null;
  /**
   * SHA-256 of the machine's whole trace while the run loop is idle (null while it runs): the same
   * scenario and seed give the same hash here as `tislab run` gives in Node.
   */
  traceHash: string | null;
}

export type SimMessage =
  | { type: 'view'; view: SimView }
  /** New trace events since the last batch; reset: a new machine (boot, scenario), start over. */
  | { type: 'trace'; events: TraceEvent[]; reset: boolean }
  | { type: 'snapshot'; bytes: Uint8Array; atNs: number }
  | { type: 'error'; message: string };

/** Page → Worker. */
export type SimRequest =
  /** The two TPM Workers' ports: the source's and a migration destination's (swtpm on each host). */
  | { type: 'init'; tpmPorts: MessagePort[] }
  | { type: 'intent'; intent: SimIntent }
  /** The page has drawn the views it got: the Worker may send the next one (flow control). */
  | { type: 'ack' };

const INTENT_TYPES: readonly SimIntentType[] = [
  'run',
  'pause',
  'stepKvm',
  'stepInstruction',
  'stepDriverOp',
  'snapshot',
  'migrate',
  'resume',
  'reset',
  'setSpeed',
  'setCompleteMmio',
  'setInflight',
  'loadScenario',
  'loadSnapshot',
];

/** Checks an intent from the page; the Error says what is wrong with it. */
export function parseIntent(raw: unknown): SimIntent {
  if (typeof raw !== 'object' || raw === null) throw new Error('an intent must be an object with a type');
  const r = raw as Record<string, unknown>;
  const type = r.type;
  if (typeof type !== 'string' || !(INTENT_TYPES as readonly string[]).includes(type)) {
    throw new Error(`unknown intent ${JSON.stringify(type)}; expected one of ${INTENT_TYPES.join(', ')}`);
  }
  switch (type) {
    case 'setSpeed':
      if (typeof r.speed !== 'number' || !Number.isFinite(r.speed) || r.speed < 0) {
        throw new Error('setSpeed needs speed: virtual ns per second (0 for full speed)');
      }
      return { type, speed: r.speed };
    case 'setCompleteMmio':
      if (typeof r.on !== 'boolean') throw new Error('setCompleteMmio needs on: true or false');
      return { type, on: r.on };
    case 'setInflight':
      if (r.strategy !== 'wait' && r.strategy !== 'drop' && r.strategy !== 'replay') {
        throw new Error("setInflight needs strategy: 'wait', 'drop' or 'replay'");
      }
      return { type, strategy: r.strategy };
    case 'loadScenario':
      if (typeof r.id !== 'string') throw new Error('loadScenario needs the scenario id');
      return { type, id: r.id };
    case 'loadSnapshot':
      if (!(r.bytes instanceof Uint8Array)) {
        throw new Error("loadSnapshot needs bytes: the file's contents as a Uint8Array");
      }
      return { type, bytes: r.bytes, name: typeof r.name === 'string' ? r.name : 'the snapshot' };
    default:
      return { type } as SimIntent;
  }
}
