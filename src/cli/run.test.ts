import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTislab } from './cli-test-kit';

const run = runTislab;

const dir = () => mkdtempSync(join(tmpdir(), 'tislab-run-'));

function configFile(config: unknown): string {
  const p = join(dir(), 'machine.json');
  writeFileSync(p, typeof config === 'string' ? config : JSON.stringify(config));
  return p;
}

const KEYGEN = { seed: 'cli', guest: { driver: 'linux', workload: 'keygen', iterations: 2 } };
const hashOf = (out: string[]) => /^trace sha256 ([0-9a-f]{64}) /.exec(out.at(-1) ?? '')?.[1];

describe('tislab run', () => {
  it('runs the guest headless, prints its console with dmesg timestamps, then the trace hash', async () => {
    const r = await run(['run', configFile(KEYGEN)]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out[0]).toMatch(/^\[ {4}0\.\d{6}\] tpm_tis .*2\.0 TPM/);
    expect(r.out.filter((l) => /keygen #\d: CreatePrimary/.test(l))).toHaveLength(2);
    expect(r.out.at(-2)).toMatch(/keygen: done after 2 iterations$/);
    expect(r.out.at(-1)).toMatch(
      /^trace sha256 [0-9a-f]{64} \(\d+ events, 4 transactions, .* stopped: halted\)$/,
    );
  });

  it('a run is a pure function of (config, seed): the same hash twice, another with --seed', async () => {
    const file = configFile(KEYGEN);
    const a = hashOf((await run(['run', file])).out);
    const b = hashOf((await run(['run', file])).out);
    const c = hashOf((await run(['run', file, '--seed', 'other'])).out);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('--until N-transactions stops there; --trace writes the whole trace as JSONL, whose SHA-256 is the hash', async () => {
    const config = { seed: 'cli', guest: { driver: 'linux-2.6.37', workload: 'getrandom' } }; // runs forever
    const tracePath = join(dir(), 'trace.jsonl');
    const r = await run(['run', configFile(config), '--until', '3-transactions', '--trace', tracePath]);
    expect(r.code).toBe(0);
    expect(r.out.filter((l) => /getrandom #\d: 32 bytes/.test(l))).toHaveLength(3);
    const jsonl = readFileSync(tracePath, 'utf8');
    const lines = jsonl.trimEnd().split('\n');
    expect(r.out.at(-1)).toContain(`(${lines.length} events, 3 transactions`);
    expect(JSON.parse(lines[0]!)).toMatchObject({ seq: 0 });
    expect(createHash('sha256').update(jsonl).digest('hex')).toBe(hashOf(r.out));
  });

  it('malformed input exits 2 naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [[configFile('{"seed": 1,')], /is not JSON/],
      [
        [configFile({ seed: 1, guest: { driver: 'linux', workload: 'mine' } })],
        /field 'guest'.*'workload' must be one of/,
      ],
      [
        [configFile({ seed: 1, guest: { driver: 'linux', workload: 'keygen' }, steps: { exitNs: -1 } })],
        /'steps/,
      ],
      [[configFile({ seed: 1, guest: { driver: 'linux', workload: 'keygen' } })], /runs forever.*--until/],
      [[configFile(KEYGEN), '--until', 'three'], /--until takes N-transactions/],
      [[configFile(KEYGEN), '--bogus'], /Unknown option '--bogus'/],
      [[], /give exactly one CONFIG.json/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['run', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err[0]).toMatch(message);
      expect(r.err[1]).toMatch(/^usage: tislab run CONFIG.json/);
    }
    const missing = await run(['run', join(dir(), 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.err[0]).toMatch(/cannot read/);
  });

  it('runs every example config the README shows, to the end of its iterations', async () => {
    const examples = join(__dirname, '..', '..', 'examples');
    for (const name of ['keygen-2.6.37.json', 'nv-counter.json']) {
      const r = await run(['run', join(examples, name)]);
      expect(r.code, name).toBe(0);
      expect(r.out.at(-2), name).toMatch(/done after \d+ iterations$/);
      expect(r.out.join('\n'), name).not.toMatch(/error|skipped/i);
    }
  });
});
