import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTislab } from './cli-test-kit';

const run = runTislab;

function configFile(config: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), 'tislab-sweep-')), 'machine.json');
  writeFileSync(p, typeof config === 'string' ? config : JSON.stringify(config));
  return p;
}

const GET_RANDOM = { seed: 'cli', guest: { driver: 'linux-2.6.37', workload: 'getrandom', iterations: 2 } };

describe('tislab sweep', () => {
  it('prints one row per cut point and a summary; non-ok rows say what the guest got', async () => {
    const r = await run(['sweep', configFile(GET_RANDOM), '--mmio-fix', 'off']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^transaction 0, MMIO fix off, in-flight wait: \d+ cut points$/);
    expect(r.out.at(-1)).toMatch(/^summary: ok \d+, duplicated read 88$/);
    const dup = r.out.findIndex((l) => /\d+ {2}duplicated read {3}between the exit and the re-entry/.test(l));
    expect(dup).toBeGreaterThan(0);
    expect(r.out[dup + 1]).toMatch(/ran again on the destination/);
    expect(r.out.some((l) => /^ +guest: getrandom #0: /.test(l))).toBe(true);
  }, 60_000);

  it('--json prints the result as one object', async () => {
    const r = await run(['sweep', configFile(GET_RANDOM), '--inflight', 'drop', '--json']);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    const result = JSON.parse(r.out[0]!) as {
      inflight: string;
      counts: Record<string, number>;
      rows: unknown[];
    };
    expect(result.inflight).toBe('drop');
    expect(result.counts['lost response']).toBeGreaterThan(0);
    expect(result.counts.ok! + result.counts['lost response']!).toBe(result.rows.length);
  }, 60_000);

  it('refuses bad options and configs with exit 2, naming what is wrong', async () => {
    const file = configFile(GET_RANDOM);
    for (const [args, message] of [
      [['--mmio-fix', 'maybe'], /--mmio-fix takes on or off, got 'maybe'/],
      [['--inflight', 'later'], /--inflight takes wait, drop or replay/],
      [['--transaction', 'x'], /--transaction takes a number/],
    ] as const) {
      const r = await run(['sweep', file, ...args]);
      expect(r.code).toBe(2);
      expect(r.err.join('\n')).toMatch(message);
    }
    const bad = await run([
      'sweep',
      configFile({ seed: 'x', guest: { driver: 'windows', workload: 'keygen' } }),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err.join('\n')).toMatch(/driver/);
    const notJson = await run(['sweep', configFile('{ nope')]);
    expect(notJson.code).toBe(2);
    expect(notJson.err.join('\n')).toMatch(/is not JSON/);
  });

  it('a transaction the guest never reaches is a failure, exit 1', async () => {
    const r = await run(['sweep', configFile(GET_RANDOM), '--transaction', '7']);
    expect(r.code).toBe(1);
    expect(r.err).toEqual(['tislab sweep: the guest ended before transaction 7 (it ran 2)']);
  });
});
