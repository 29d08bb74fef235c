// The `tislab` command line over the same core the browser runs: one entry in COMMANDS per command.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type CliIo } from './io';
import { REPLAY_USAGE, runReplay } from './replay';
import { RUN_SUMMARY, RUN_USAGE, runRun } from './run';
import {
  LOADVM_HELP,
  LOADVM_SUMMARY,
  LOADVM_USAGE,
  runLoadvm,
  runSavevm,
  SAVEVM_HELP,
  SAVEVM_SUMMARY,
  SAVEVM_USAGE,
} from './savevm';
import { runSweep, SWEEP_HELP, SWEEP_SUMMARY, SWEEP_USAGE } from './sweep';
import { runTpmServer, TPM_SERVER_HELP, TPM_SERVER_SUMMARY, TPM_SERVER_USAGE } from './tpm-server-cli';
import { readVersion } from './version';
import { TraceLog } from '../core/kernel/trace';
import { useSha256Bytes } from '../core/kernel/sha256';
import { nodeSha256, nodeSha256Stream } from './node-sha256';

interface Command {
  name: string;
  summary: string;
  usage: string;
  /** More lines for `tislab NAME --help`, after the usage line. */
  help?: readonly string[];
  run(args: string[], io: CliIo): Promise<number> | number;
}

export const USAGE_LINE = 'usage: tislab <command> [options]   (tislab --help lists the commands)';

function noOptions(command: string, args: string[]): void {
  try {
    parseArgs({ args, options: {}, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`tislab ${command}: ${(e as Error).message}`);
  }
}

const COMMANDS: Command[] = [
  {
    name: 'version',
    summary: 'print the TIS Lab version',
    usage: 'tislab version',
    run(args, io) {
      noOptions('version', args);
      const v = readVersion();
      io.out(`${v.name} ${v.version}`);
      return EXIT_OK;
    },
  },
  {
    name: 'tpm-server',
    summary: TPM_SERVER_SUMMARY,
    usage: TPM_SERVER_USAGE,
    help: TPM_SERVER_HELP,
    run: runTpmServer,
  },
  {
    name: 'replay',
    summary: 'replay TIS register accesses (JSON or a QEMU trace) and print what the model returns',
    usage: REPLAY_USAGE,
    run: runReplay,
  },
  {
    name: 'run',
    summary: RUN_SUMMARY,
    usage: RUN_USAGE,
    run: runRun,
  },
  {
    name: 'sweep',
    summary: SWEEP_SUMMARY,
    usage: SWEEP_USAGE,
    help: SWEEP_HELP,
    run: runSweep,
  },
  {
    name: 'savevm',
    summary: SAVEVM_SUMMARY,
    usage: SAVEVM_USAGE,
    help: SAVEVM_HELP,
    run: runSavevm,
  },
  {
    name: 'loadvm',
    summary: LOADVM_SUMMARY,
    usage: LOADVM_USAGE,
    help: LOADVM_HELP,
    run: runLoadvm,
  },
  {
    name: 'help',
    summary: 'show this help',
    usage: 'tislab help',
    run(args, io) {
      noOptions('help', args);
      printHelp(io);
      return EXIT_OK;
    },
  },
];

function printHelp(io: CliIo): void {
  io.out('TIS Lab: a virtual TPM behind QEMU’s TIS interface, from the command line.');
  io.out('');
  io.out('usage: tislab <command> [options]');
  io.out('');
  io.out('commands:');
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  for (const c of COMMANDS) io.out(`  ${c.name.padEnd(width)}  ${c.summary}`);
  io.out('');
  io.out('options:');
  io.out('  -h, --help     show this help');
  io.out('  -V, --version  print the version');
  io.out('');
  io.out('exit status: 0 success, 1 the command failed, 2 the command line was wrong.');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  TraceLog.useSha256(nodeSha256Stream);
  useSha256Bytes(nodeSha256);
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    if (first === undefined) {
      io.err(USAGE_LINE);
      return EXIT_USAGE;
    }
    printHelp(io);
    return EXIT_OK;
  }
  if (first === '--version' || first === '-V') return COMMANDS[0]!.run(rest, io);
  if (first.startsWith('-')) {
    io.err(`tislab: unknown option '${first}'`);
    io.err(USAGE_LINE);
    return EXIT_USAGE;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(`tislab: unknown command '${first}'`);
    io.err(USAGE_LINE);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`tislab ${command.name}: ${command.summary}`);
    io.out(`usage: ${command.usage}`);
    for (const line of command.help ?? []) io.out(line);
    return EXIT_OK;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(e.message);
      io.err(`usage: ${command.usage}`);
      return EXIT_USAGE;
    }
    // A failure is reported as a sentence, not a stack trace.
    io.err(`tislab ${command.name}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_FAILURE;
  }
}
