// `tislab sweep CONFIG.json`: for one guest transaction, migrate at every step boundary in turn and print
// what each cut does to the guest, as a table or as JSON (src/core/migration/sweep.ts does the work).
import { parseArgs } from 'node:util';
import { NS_PER_US } from '../core/kernel';
import { CUT_OUTCOMES, sweep, SweepError, type SweepRow } from '../core/migration/sweep';
import { MachineConfigError } from '../core/vm';
import { readConfigFile } from './config-file';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io';
import { parseInflight, parseMmioFix } from './switches';

export const SWEEP_USAGE =
  'tislab sweep CONFIG.json [--mmio-fix on|off] [--inflight wait|drop|replay] [--transaction N] [--following N] [--json]';
export const SWEEP_SUMMARY =
  'migrate at every step boundary of one transaction and classify what the guest gets';
export const SWEEP_HELP = [
  '',
  'options:',
  '  --mmio-fix on|off      complete a pending MMIO exit before vm_stop (QEMU since 2011); default: the config, else on',
  '  --inflight STRATEGY    the TPM command in flight at the cut: wait (QEMU since 2.12), drop, replay; default wait',
  '  --transaction N        which guest transaction to sweep, from 0 (default 0)',
  '  --following N          transactions the destination runs after it before its output is compared (default 0)',
  '  --json                 print the result as one JSON object instead of the table',
  '',
  'outcomes: ok, duplicated read, lost response, double execution, torn NVRAM write, load error, differs',
  '("differs": the guest output changed and no hazard explains it, which would be a TIS Lab bug).',
];

function count(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`tislab sweep: ${flag} takes a number, got '${text}'`);
  return Number(text);
}

export async function runSweep(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        'mmio-fix': { type: 'string' },
        inflight: { type: 'string' },
        transaction: { type: 'string' },
        following: { type: 'string' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`tislab sweep: ${(e as Error).message}`);
  }
  const v = parsed.values;
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new UsageError('tislab sweep: give exactly one CONFIG.json');
  const mmioFix = parseMmioFix('sweep', v['mmio-fix']);
  const inflight = parseInflight('sweep', v.inflight);
  const transaction = count('--transaction', v.transaction);
  const following = count('--following', v.following);
  const config = readConfigFile('sweep', file, io);
  if (config === null) return EXIT_FAILURE;

  let result;
  try {
    result = await sweep(config, {
      ...(mmioFix === undefined ? {} : { mmioFix }),
      ...(inflight === undefined ? {} : { inflight }),
      ...(transaction === undefined ? {} : { transaction }),
      ...(following === undefined ? {} : { following }),
    });
  } catch (e) {
    if (e instanceof MachineConfigError) throw new UsageError(`tislab sweep: ${file}: ${e.message}`);
    if (e instanceof SweepError) {
      io.err(`tislab sweep: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
  if (v.json) {
    io.out(JSON.stringify(result));
    return EXIT_OK;
  }
  io.out(
    `transaction ${result.transaction}, MMIO fix ${result.mmioFix ? 'on' : 'off'}, in-flight ${result.inflight}: ` +
      `${result.rows.length} cut points`,
  );
  io.out('');
  io.out(`${'#'.padStart(5)}  ${'t (µs)'.padStart(11)}  ${'outcome'.padEnd(16)}  cut`);
  for (const row of result.rows) printRow(row, io);
  io.out('');
  const summary = CUT_OUTCOMES.filter((o) => result.counts[o] > 0).map((o) => `${o} ${result.counts[o]}`);
  io.out(`summary: ${summary.join(', ')}`);
  return EXIT_OK;
}

function printRow(row: SweepRow, io: CliIo): void {
  const t = (row.timeNs / NS_PER_US).toFixed(3);
  io.out(`${String(row.index).padStart(5)}  ${t.padStart(11)}  ${row.outcome.padEnd(16)}  ${row.cut}`);
  if (row.outcome === 'ok') return;
  const pad = ' '.repeat(5 + 2 + 11 + 2 + 16 + 2);
  if (row.detail) io.out(`${pad}${row.detail}`);
  for (const line of row.guest) io.out(`${pad}guest: ${line}`);
}
