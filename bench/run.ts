// Runs every benchmark, prints a table and writes docs/benchmarks.md. Usage: npm run bench
// `npx tsx bench/run.ts tis` runs only the named groups (scheduler, tpm, tis, machine, migration, ui) and prints their
// table without writing docs/benchmarks.md.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchMachine } from './machine.bench';
import { benchMigration } from './migration.bench';
import { benchScheduler } from './scheduler.bench';
import { benchTis } from './tis.bench';
import { benchTpm } from './tpm.bench';
import { benchUi } from './ui.bench';
import type { BenchResult } from './types';

function formatValue(r: BenchResult): string {
  return `${r.value.toLocaleString('en-US')} ${r.unit}`;
}

function formatMet(r: BenchResult): string {
  if (r.met === undefined) return '—';
  return r.met ? 'yes' : 'NO';
}

const GROUPS: Record<string, () => Promise<BenchResult[]>> = {
  scheduler: benchScheduler,
  tpm: benchTpm,
  tis: benchTis,
  machine: benchMachine,
  migration: benchMigration,
  ui: benchUi,
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !(name in GROUPS));
  if (unknown.length > 0) throw new Error(`unknown benchmark group(s): ${unknown.join(', ')}`);
  const results: BenchResult[] = [];
  for (const [name, run] of Object.entries(GROUPS)) {
    if (only.length === 0 || only.includes(name)) results.push(...(await run()));
  }

  const rows = results.map((r) => [r.name, formatValue(r), r.target ?? '—', formatMet(r)]);
  const header = ['benchmark', 'result', 'target', 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  for (const r of results) if (r.note !== undefined) console.log(`- ${r.name}: ${r.note}`);
  if (only.length > 0) {
    if (results.some((r) => r.met === false)) process.exitCode = 1;
    return;
  }

  const cpus = os.cpus();
  const cpu = cpus[0]?.model.trim() ?? 'unknown CPU';
  const md = [
    '# Benchmarks',
    '',
    'Figures written by `npm run bench` (bench/run.ts); rerun it to refresh them. They depend on the machine.',
    '',
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version}`,
    `- cpu: ${cpu}, ${cpus.length} cores`,
    '',
    '| benchmark | result | target | met? |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    ...results.filter((r) => r.note !== undefined).map((r) => `- ${r.name}: ${r.note}`),
    '',
  ].join('\n');
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), md);
  console.log('\nwrote docs/benchmarks.md');
  if (results.some((r) => r.met === false)) process.exitCode = 1;
}

await main();
