// Runs every benchmark, prints a table and writes docs/benchmarks.md. Usage: npm run bench
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchMachine } from './machine.bench';
import { benchScheduler } from './scheduler.bench';
import { benchTis } from './tis.bench';
import { benchTpm } from './tpm.bench';
import type { BenchResult } from './types';

function formatValue(r: BenchResult): string {
  return `${r.value.toLocaleString('en-US')} ${r.unit}`;
}

function formatMet(r: BenchResult): string {
  if (r.met === undefined) return '—';
  return r.met ? 'yes' : 'NO';
}

async function main(): Promise<void> {
  const results: BenchResult[] = [
    ...(await benchScheduler()),
    ...(await benchTpm()),
    ...(await benchTis()),
    ...(await benchMachine()),
  ];

  const rows = results.map((r) => [r.name, formatValue(r), r.target ?? '—', formatMet(r)]);
  const header = ['benchmark', 'result', 'target', 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));

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
