// The cut-point sweep: for one guest transaction, migrate at every step boundary in turn (every KVM step of
// every MMIO access, every backend event, every one-step guest operation), resume on a destination, run
// to the end of the transaction and say what the guest got. One forward run of the source: at each
// boundary the machine is forked (fork.ts) and the copy is migrated, so a cut costs one migration and the
// rest of one transaction, not a replay from the start.
import type { JsonValue } from '../kernel';
import { InProcessTransport } from '../backend/transport';
import { SwtpmDevice } from '../swtpm';
import { createMachine, defaultTpmOptions, type Machine } from '../vm/machine';
import { parseMachineConfig } from '../vm/machine-config';
import type { HazardKind } from '../vm/hazards';
import { forkMachine } from './fork';
import { migrate, type InflightStrategy } from './migrate';
import { MigrationLoadError } from './snapshot-file';

export type CutOutcome =
  | 'ok'
  | 'duplicated read'
  | 'lost response'
  | 'double execution'
  | 'torn NVRAM write'
  | 'load error'
  /** The guest's output differs from the run without migration and no hazard explains it (a bug). */
  | 'differs';

export const CUT_OUTCOMES: readonly CutOutcome[] = [
  'ok',
  'duplicated read',
  'lost response',
  'double execution',
  'torn NVRAM write',
  'load error',
  'differs',
];

const OUTCOME_OF: Record<HazardKind, CutOutcome> = {
  'duplicated-mmio-read': 'duplicated read',
  'lost-response': 'lost response',
  'double-execution': 'double execution',
  'torn-nvram-write': 'torn NVRAM write',
};

export interface SweepRow {
  /** The boundary's number, from the transaction's first step. */
  index: number;
  /** Virtual time of the source at the boundary. */
  timeNs: number;
  /** Where the source stood when it was stopped and saved. */
  cut: string;
  outcome: CutOutcome;
  /** The hazard's detail, the load error, or the first line that differs; empty when ok. */
  detail: string;
  /** The destination's console lines that differ from the run without migration (what the guest saw). */
  guest: string[];
}

export interface SweepOptions {
  /** completeMmioBeforeStop on the source (default: the config's, else on). */
  mmioFix?: boolean;
  inflight?: InflightStrategy;
  /** Which guest transaction (0-based, default 0). */
  transaction?: number;
  /**
   * How many more transactions the destination runs before its output is compared (default 0). A
   * workload that prints a result only after a later command (the NV counter reads after it increments)
   * needs 1.
   */
  following?: number;
  /** Called with each row as soon as it is known. */
  onRow?: (row: SweepRow) => void;
  /** Virtual time a destination may run to finish the transaction (default 300 s: the kernel's timeouts). */
  limitNs?: number;
}

export interface SweepResult {
  transaction: number;
  mmioFix: boolean;
  inflight: InflightStrategy;
  rows: SweepRow[];
  counts: Record<CutOutcome, number>;
  /** The guest's console to the end of the transaction, without migration. */
  reference: string[];
}

export class SweepError extends Error {
  override name = 'SweepError';
}

const DEFAULT_LIMIT_NS = 300_000_000_000;

export async function sweep(rawConfig: unknown, opts: SweepOptions = {}): Promise<SweepResult> {
  const parsed = parseMachineConfig(rawConfig);
  const mmioFix = opts.mmioFix ?? parsed.completeMmioBeforeStop ?? true;
  const config = { ...(rawConfig as Record<string, JsonValue>), completeMmioBeforeStop: mmioFix };
  const inflight = opts.inflight ?? 'wait';
  const n = opts.transaction ?? 0;
  const limitNs = opts.limitNs ?? DEFAULT_LIMIT_NS;

  // Run on until the next transaction starts (or the guest ends), so the lines printed after it count.
  const last = n + 1 + (opts.following ?? 0);
  const pastTransaction = (m: Machine) => () => m.markCount('transaction.start') >= last + 1;
  const finish = async (m: Machine) => {
    await m.run({ until: pastTransaction(m), limitNs: m.scheduler.nowNs + limitNs });
    return m.consoleLines.map((l) => l.text);
  };

  // A destination's TPM is a new swtpm started as the source's was (as libvirt starts one for the incoming
  // side), so every destination starts with the same TPM: a swtpm just started from the config, its TPM
  // manufactured from the seed and TPM2_Startup sent. Starting one is most of building a machine; start it
  // once and give each destination a copy of it as it was then (the load then sends it CMD_STOP,
  // SET_STATEBLOB ×3 and CMD_INIT as ever).
  const freshTpm = new SwtpmDevice(defaultTpmOptions(parsed));
  const reference = await finish(await createMachine(config));
  const source = await createMachine(config);
  await source.run({ until: () => source.markCount('transaction.start') >= n + 1 });
  if (source.markCount('transaction.start') < n + 1) {
    throw new SweepError(`the guest ended before transaction ${n} (it ran ${source.transactionsDone})`);
  }

  const rows: SweepRow[] = [];
  const counts = Object.fromEntries(CUT_OUTCOMES.map((o) => [o, 0])) as Record<CutOutcome, number>;
  for (let index = 0; source.markCount('transaction.end') < n + 1 && !source.vcpu.isHalted; index++) {
    const timeNs = source.scheduler.nowNs;
    const copy = await forkMachine(source);
    let row: SweepRow;
    try {
      const { destination, cut } = await migrate(copy, config, {
        inflight,
        cutIndex: index,
        transport: new InProcessTransport(freshTpm.clone()),
      });
      const out = await finish(destination);
      const hazard = destination.hazards[0];
      const guest = out.filter((line, i) => line !== reference[i]);
      const base = { index, timeNs, cut: cut.description, guest };
      if (hazard) row = { ...base, outcome: OUTCOME_OF[hazard.kind], detail: hazard.detail };
      else {
        const diff = firstDifference(reference, out);
        row = { ...base, outcome: diff === null ? 'ok' : 'differs', detail: diff ?? '' };
      }
    } catch (e) {
      if (!(e instanceof MigrationLoadError)) throw e;
      row = { index, timeNs, cut: '', outcome: 'load error', detail: e.lines.join(' / '), guest: [] };
    }
    rows.push(row);
    counts[row.outcome]++;
    opts.onRow?.(row);
    await source.run({ maxEvents: 1 });
  }
  return { transaction: n, mmioFix, inflight, rows, counts, reference };
}

function firstDifference(want: string[], got: string[]): string | null {
  const len = Math.max(want.length, got.length);
  for (let i = 0; i < len; i++) {
    if (want[i] !== got[i])
      return `console line ${i + 1}: expected ${JSON.stringify(want[i] ?? '(nothing)')}, got ${JSON.stringify(got[i] ?? '(nothing)')}`;
  }
  return null;
}
