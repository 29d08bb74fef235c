// The command-line face of `tislab tpm-server`: flags in, a running server, exit status out.
import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError, type CliIo } from './io';
import { describeTornWrite } from '../core/nvram';
import { BlobStateStore } from '../core/swtpm/blob-state-store';
import {
  DEFAULT_SEED,
  isValidPort,
  startTpmServer,
  TPM_SERVER_HOST,
  type TpmServerOptions,
} from './tpm-server';

export const TPM_SERVER_SUMMARY = 'serve a swtpm-compatible TPM 2.0 on TCP (commands on P, control on P+1)';
export const TPM_SERVER_USAGE =
  'tislab tpm-server --port P [--seed S] [--state-dir D | --nvram FILE] [--speed X]';

/** What `tislab tpm-server --help` explains after the usage line. */
export const TPM_SERVER_HELP: readonly string[] = [
  '',
  'options:',
  '  --port P          TPM commands on 127.0.0.1:P, swtpm’s control channel on P+1 (required)',
  '  --seed S          seed of the TPM’s keys and random bytes (default tislab)',
  '  --state-dir D     keep the TPM’s state in swtpm’s files in directory D (created if missing)',
  '  --nvram FILE      keep the TPM’s state on an NVRAM drive in FILE: created at its size (3 MiB,',
  '                    sparse) if missing; a file of another size, or one that does not hold',
  '                    a TIS Lab NVRAM for this TPM, is refused and left untouched (exit status 1)',
  '  --speed X         TPM speed relative to the cost model’s reference machine (default 1)',
  '',
  'Without --state-dir or --nvram the state lives in memory and a restart forgets it. Either way an',
  'NV index or a persistent key survives a restart. Stop the server with CMD_SHUTDOWN on the control',
  'channel, SIGINT or SIGTERM (exit status 0).',
];

export function parseTpmServerArgs(args: string[]): TpmServerOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        seed: { type: 'string' },
        'state-dir': { type: 'string' },
        nvram: { type: 'string' },
        speed: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new UsageError(`tislab tpm-server: ${(e as Error).message}`);
  }
  if (values.port === undefined) throw new UsageError('tislab tpm-server: --port is required');
  const port = /^\d+$/.test(values.port) ? Number(values.port) : NaN;
  if (!isValidPort(port)) {
    throw new UsageError(
      `tislab tpm-server: --port must be an integer in 1..65534 (P+1 is the control port), got '${values.port}'`,
    );
  }
  const opts: TpmServerOptions = { port, seed: values.seed ?? DEFAULT_SEED };
  if (values['state-dir'] !== undefined) {
    if (values['state-dir'] === '') throw new UsageError('tislab tpm-server: --state-dir needs a directory');
    opts.stateDir = values['state-dir'];
  }
  if (values.nvram !== undefined) {
    if (values.nvram === '') throw new UsageError('tislab tpm-server: --nvram needs a file');
    if (opts.stateDir !== undefined) {
      throw new UsageError('tislab tpm-server: give --state-dir or --nvram, not both');
    }
    opts.nvramFile = values.nvram;
  }
  if (values.speed !== undefined) {
    const speed = Number(values.speed);
    if (values.speed.trim() === '' || !Number.isFinite(speed) || speed <= 0) {
      throw new UsageError(`tislab tpm-server: --speed must be a positive number, got '${values.speed}'`);
    }
    opts.speed = speed;
  }
  return opts;
}

/** Runs until CMD_SHUTDOWN on the control channel, SIGINT or SIGTERM; all three exit 0. */
export async function runTpmServer(args: string[], io: CliIo): Promise<number> {
  const opts = parseTpmServerArgs(args);
  opts.onFailureMode = (reason) => io.err(`tislab tpm-server: ${reason}`);
  const server = await startTpmServer(opts);
  const onSignal = () => void server.close();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    io.out(
      `tislab tpm-server: TPM 2.0 on ${TPM_SERVER_HOST}:${server.port} (commands), ` +
        `${TPM_SERVER_HOST}:${server.ctrlPort} (control), seed ${String(server.seed)}` +
        (opts.nvramFile === undefined ? '' : `, NVRAM ${opts.nvramFile}`),
    );
    if (server.device.inFailureMode) io.err(`tislab tpm-server: ${server.device.failureReason ?? ''}`);
    const store = server.device.store;
    if (store instanceof BlobStateStore) {
      for (const t of store.nvram.tornWrites) io.err(`tislab tpm-server: ${describeTornWrite(t)}`);
    }
    await server.stopped;
    return EXIT_OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
