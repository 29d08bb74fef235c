// `tislab run CONFIG.json`: builds the machine a config describes, runs it headless and prints the guest
// console as dmesg shows it, then the trace hash. A run is a pure function of (config, seed), so the hash
// identifies it: two runs of the same config and seed print the same one.
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatConsoleLine } from '../core/guest';
import { NS_PER_S, TraceLog } from '../core/kernel';
import { createMachine, MachineConfigError, type Machine } from '../core/vm';
import { readConfigFile } from './config-file';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io';

export const RUN_USAGE = 'tislab run CONFIG.json [--until N-transactions] [--trace out.jsonl] [--seed S]';
export const RUN_SUMMARY = 'run a machine headless (guest driver + workload) and print the guest console';

/** Trace lines are written in chunks of about this many characters. */
const TRACE_CHUNK_CHARS = 1 << 16;

export function parseUntil(command: string, text: string): number {
  const m = /^(\d+)(?:-transactions?)?$/.exec(text);
  if (!m)
    throw new UsageError(
      `tislab ${command}: --until takes N-transactions (e.g. 3-transactions), got '${text}'`,
    );
  return Number(m[1]);
}

/** Streams every trace event to a JSONL file as it is appended; the file's SHA-256 is the trace hash. */
function traceWriter(trace: TraceLog, path: string): () => void {
  const fd = openSync(path, 'w');
  // The events of the machine's construction (backend init) came before this; the window still has them.
  let pending = trace
    .window()
    .map((e) => `${TraceLog.toJsonLine(e)}\n`)
    .join('');
  const flush = () => {
    if (pending.length > 0) writeSync(fd, pending);
    pending = '';
  };
  const unsubscribe = trace.subscribe((e) => {
    pending += `${TraceLog.toJsonLine(e)}\n`;
    if (pending.length >= TRACE_CHUNK_CHARS) flush();
  });
  return () => {
    unsubscribe();
    try {
      flush();
    } finally {
      closeSync(fd);
    }
  };
}

export async function runRun(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { until: { type: 'string' }, trace: { type: 'string' }, seed: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`tislab run: ${(e as Error).message}`);
  }
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new UsageError('tislab run: give exactly one CONFIG.json');
  const until = parsed.values.until === undefined ? undefined : parseUntil('run', parsed.values.until);
  let config = readConfigFile('run', file, io);
  if (config === null) return EXIT_FAILURE;
  if (parsed.values.seed !== undefined && typeof config === 'object' && config !== null) {
    config = { ...config, seed: parsed.values.seed };
  }
  let machine;
  try {
    machine = await createMachine(config);
  } catch (e) {
    if (e instanceof MachineConfigError) throw new UsageError(`tislab run: ${file}: ${e.message}`);
    throw e;
  }
  return runToEnd(machine, { until, tracePath: parsed.values.trace, what: `tislab run: ${file}` }, io);
}

export interface RunToEndOptions {
  /** Stop after this many transactions (else the guest runs until it halts). */
  until: number | undefined;
  /** Stream the trace here as JSONL. */
  tracePath: string | undefined;
  /** For messages: "tislab run: machine.json". */
  what: string;
  /** Prints more lines between the console and the trace hash line. */
  beforeSummary?: () => void;
}

/**
 * Runs the machine until its guest halts, or through `until` transactions, printing its console; then
 * the trace hash line. Shared by `run` and `loadvm` (a loaded machine goes on as a booted one does).
 */
export async function runToEnd(machine: Machine, opts: RunToEndOptions, io: CliIo): Promise<number> {
  const { until } = opts;
  if (until === undefined && machine.config.guest.iterations === undefined) {
    throw new UsageError(
      `${opts.what}: the guest runs forever (guest.iterations is not set); give --until N-transactions or set it`,
    );
  }
  machine.onConsole((line) => io.out(formatConsoleLine(line.ns, line.text)));
  const closeTrace = opts.tracePath === undefined ? null : traceWriter(machine.trace, opts.tracePath);
  let outcome;
  try {
    if (until === undefined) outcome = await machine.run();
    else {
      outcome = await machine.run({ until: { kind: 'transactionsDone', count: until } });
      // Let the workload print what it got from the last one: stop where the next transaction begins.
      if (outcome.reason === 'condition')
        outcome = await machine.run({ until: { kind: 'mark', name: 'transaction.start' } });
    }
  } finally {
    closeTrace?.();
  }
  if (until !== undefined && machine.transactionsDone < until) {
    io.err(`${opts.what}: the guest halted after ${machine.transactionsDone} of ${until} transactions`);
  }
  opts.beforeSummary?.();
  io.out(
    `trace sha256 ${machine.trace.traceHash()} (${machine.trace.totalCount} events, ` +
      `${machine.transactionsDone} transactions, ${(outcome.timeNs / NS_PER_S).toFixed(6)} s virtual, stopped: ${outcome.reason})`,
  );
  return EXIT_OK;
}
