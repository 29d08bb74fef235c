// `tislab savevm` and `tislab loadvm`, after QEMU's monitor commands, over snapshot files. savevm runs a
// machine to a cut (a scenario's scripted pause, or the stops given), stops it (vm_stop) and writes the
// snapshot file; loadvm loads a file into a destination with the same setup, as `qemu -incoming` started
// with the same command line, refuses it in QEMU's words when it does not fit, then resumes the guest and
// prints what it got and any hazard. A file can so be saved once and replayed, or shared with a bug report.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatConsoleLine } from '../core/guest';
import { NS_PER_S } from '../core/kernel';
import { MigrationLoadError } from '../core/migration/snapshot-file';
import { restoreMachine, saveMachineWithCut } from '../core/migration/migrate';
import { playActions } from '../core/scenarios/play';
import { findScenario, SCENARIOS } from '../core/scenarios/presets';
import { parseScenarioStop, type ScenarioStop } from '../core/scenarios/scenario';
import { createMachine, MachineConfigError, type Machine } from '../core/vm';
import { readConfigFile } from './config-file';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io';
import { parseUntil, runToEnd } from './run';
import { parseInflight, parseMmioFix } from './switches';

export const SAVEVM_USAGE =
  'tislab savevm (CONFIG.json | --scenario ID) --out FILE [--stop JSON]... [--mmio-fix on|off] [--inflight wait|drop|replay]';
export const SAVEVM_SUMMARY = 'run a machine to a cut, stop it and write its snapshot file';
export const LOADVM_USAGE =
  'tislab loadvm FILE (CONFIG.json | --scenario ID) [--mmio-fix on|off] [--until N-transactions] [--trace out.jsonl]';
export const LOADVM_SUMMARY = 'load a snapshot file into a machine of the same setup and run its guest on';

const SETUP_HELP = [
  "  CONFIG.json | --scenario ID   the machine: a config (as for tislab run), or a built-in scenario's",
  `                                (${SCENARIOS.map((s) => s.id).join(', ')})`,
  '  --mmio-fix on|off      complete a pending MMIO exit before vm_stop; default: the config or scenario',
];

export const SAVEVM_HELP = [
  '',
  'options:',
  ...SETUP_HELP,
  '  --out FILE             where the snapshot goes (TISLABVM format)',
  "  --stop JSON            run until this holds; repeat for a sequence. Default: the scenario's scripted",
  '                         pause. E.g. \'{"kind":"responseBytesRead","count":20}\', \'{"kind":"commandInFlight"}\',',
  '                         \'{"kind":"pendingMmio","register":"DATA_FIFO","isWrite":false,"phase":"handled"}\',',
  '                         \'{"kind":"backendPhase","phase":"executing","command":"CreatePrimary"}\'',
  '  --inflight STRATEGY    the TPM command in flight at the cut: wait (QEMU since 2.12), drop, replay;',
  "                         default: the scenario's, else wait",
];

export const LOADVM_HELP = [
  '',
  'options:',
  ...SETUP_HELP,
  '  --until N-transactions stop after N more transactions (needed when the guest loops forever)',
  "  --trace out.jsonl      write the destination's trace as JSON lines",
  '',
  "A file that is damaged, not a snapshot, or saved from another setup is refused: exit 1, QEMU's words",
  'on stderr. Hazards the load causes are printed after the guest console.',
];

interface Setup {
  config: unknown;
  /** For messages: the config file or the scenario. */
  what: string;
  stops: ScenarioStop[];
  inflight: 'wait' | 'drop' | 'replay';
}

/** The machine a command works on: from CONFIG.json or --scenario, with --mmio-fix applied. */
function resolveSetup(
  command: string,
  file: string | undefined,
  scenarioId: string | undefined,
  mmioFix: boolean | undefined,
  io: CliIo,
): Setup | null {
  if ((file === undefined) === (scenarioId === undefined)) {
    throw new UsageError(`tislab ${command}: give a CONFIG.json or --scenario ID (one of them)`);
  }
  let setup: Setup;
  if (scenarioId !== undefined) {
    const scenario = findScenario(scenarioId);
    if (!scenario) {
      throw new UsageError(
        `tislab ${command}: unknown scenario '${scenarioId}'; expected one of ${SCENARIOS.map((s) => s.id).join(', ')}`,
      );
    }
    setup = {
      config: scenario.config,
      what: `scenario ${scenario.id}`,
      stops: scenario.setup.flatMap((a) => (a.do === 'run' ? [a.until] : [])),
      inflight: scenario.settings.inflight,
    };
  } else {
    const config = readConfigFile(command, file!, io);
    if (config === null) return null;
    setup = { config, what: file!, stops: [], inflight: 'wait' };
  }
  if (mmioFix !== undefined && typeof setup.config === 'object' && setup.config !== null) {
    setup.config = { ...setup.config, completeMmioBeforeStop: mmioFix };
  }
  return setup;
}

function parseStop(text: string): ScenarioStop {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`tislab savevm: --stop takes a JSON object, got '${text}'`);
  }
  try {
    return parseScenarioStop(raw);
  } catch (e) {
    throw new UsageError(`tislab savevm: --stop: ${(e as Error).message}`);
  }
}

function parse(command: string, args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`tislab ${command}: ${(e as Error).message}`);
  }
}

async function build(command: string, setup: Setup, build: () => Promise<Machine>): Promise<Machine> {
  try {
    return await build();
  } catch (e) {
    if (e instanceof MachineConfigError)
      throw new UsageError(`tislab ${command}: ${setup.what}: ${e.message}`);
    throw e;
  }
}

export async function runSavevm(args: string[], io: CliIo): Promise<number> {
  const parsed = parse('savevm', args, {
    scenario: { type: 'string' },
    out: { type: 'string' },
    stop: { type: 'string', multiple: true },
    'mmio-fix': { type: 'string' },
    inflight: { type: 'string' },
  });
  const v = parsed.values as Record<string, string | string[] | undefined>;
  const [file, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new UsageError('tislab savevm: give at most one CONFIG.json');
  const out = v.out as string | undefined;
  if (out === undefined) throw new UsageError('tislab savevm: --out FILE is needed');
  const stops = ((v.stop as string[] | undefined) ?? []).map(parseStop);
  const mmioFix = parseMmioFix('savevm', v['mmio-fix'] as string | undefined);
  const inflight = parseInflight('savevm', v.inflight as string | undefined);
  const setup = resolveSetup('savevm', file, v.scenario as string | undefined, mmioFix, io);
  if (setup === null) return EXIT_FAILURE;
  if (stops.length > 0) setup.stops = stops;
  if (setup.stops.length === 0) {
    throw new UsageError('tislab savevm: where to cut? give --stop JSON (or a --scenario, which has one)');
  }

  const machine = await build('savevm', setup, () => createMachine(setup.config));
  machine.onConsole((line) => io.out(formatConsoleLine(line.ns, line.text)));
  try {
    await playActions(
      machine,
      setup.stops.map((until) => ({ do: 'run', until })),
    );
  } catch (e) {
    io.err(`tislab savevm: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  const { bytes, cut } = await saveMachineWithCut(machine, { inflight: inflight ?? setup.inflight });
  try {
    writeFileSync(out, bytes);
  } catch (e) {
    io.err(`tislab savevm: cannot write ${out}: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  io.out(
    `savevm: wrote ${out} (${bytes.length} bytes) at t = ${seconds(cut.timeNs)}; ` +
      `in-flight ${inflight ?? setup.inflight}; cut: ${cut.description}`,
  );
  return EXIT_OK;
}

export async function runLoadvm(args: string[], io: CliIo): Promise<number> {
  const parsed = parse('loadvm', args, {
    scenario: { type: 'string' },
    'mmio-fix': { type: 'string' },
    until: { type: 'string' },
    trace: { type: 'string' },
  });
  const v = parsed.values as Record<string, string | undefined>;
  const [snapshotFile, file, ...extra] = parsed.positionals;
  if (snapshotFile === undefined || extra.length > 0) {
    throw new UsageError('tislab loadvm: give the snapshot FILE, then a CONFIG.json or --scenario ID');
  }
  const until = v.until === undefined ? undefined : parseUntil('loadvm', v.until);
  const mmioFix = parseMmioFix('loadvm', v['mmio-fix']);
  const setup = resolveSetup('loadvm', file, v.scenario, mmioFix, io);
  if (setup === null) return EXIT_FAILURE;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(snapshotFile);
  } catch (e) {
    io.err(`tislab loadvm: cannot read ${snapshotFile}: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  let machine: Machine;
  try {
    machine = await build('loadvm', setup, () => restoreMachine(bytes, setup.config));
  } catch (e) {
    if (!(e instanceof MigrationLoadError)) throw e;
    for (const line of e.message.split('\n')) io.err(`tislab loadvm: ${snapshotFile}: ${line}`);
    return EXIT_FAILURE;
  }
  const cut = machine.loadedCut?.description ?? 'not recorded';
  io.out(`loadvm: ${snapshotFile} loaded at t = ${seconds(machine.scheduler.nowNs)}; cut: ${cut}; resuming`);
  const printHazards = () => {
    for (const h of machine.hazards) {
      io.out(`hazard: ${h.title} at t = ${seconds(h.atNs)}: ${h.detail} (cut: ${h.cut.description})`);
    }
  };
  const what = `tislab loadvm: ${setup.what}`;
  return runToEnd(machine, { until, tracePath: v.trace, what, beforeSummary: printHazards }, io);
}

function seconds(ns: number): string {
  return `${(ns / NS_PER_S).toFixed(6)} s`;
}
