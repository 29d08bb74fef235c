import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTislab } from './cli-test-kit';

const tislab = runTislab;

const dir = () => mkdtempSync(join(tmpdir(), 'tislab-savevm-'));
const SCENARIO_2011 = ['--scenario', 'duplicated-mmio-read-2011'];

describe('tislab savevm and loadvm', () => {
  it('the 2011 cut saved to a file, then loaded: the read runs again and the guest loses a byte', async () => {
    const file = join(dir(), 'mid-read.tislabvm');
    const saved = await tislab(['savevm', ...SCENARIO_2011, '--out', file]);
    expect(saved.code).toBe(0);
    expect(saved.err).toEqual([]);
    expect(saved.out.at(-1)).toMatch(
      /^savevm: wrote .*mid-read\.tislabvm \(\d+ bytes\) at t = 0\.\d{6} s; in-flight wait; cut: between the exit and the re-entry of a 1-byte read of DATA_FIFO of locality 0$/,
    );
    expect(new TextDecoder().decode(readFileSync(file).subarray(0, 8))).toBe('TISLABVM');

    const loaded = await tislab(['loadvm', file, ...SCENARIO_2011]);
    expect(loaded.code).toBe(0);
    expect(loaded.out[0]).toMatch(
      /^loadvm: .* loaded at t = 0\.\d{6} s; cut: between the exit and the re-entry of a 1-byte read of DATA_FIFO of locality 0; resuming$/,
    );
    // The first response as the guest got it: one byte short, then a trailing ff.
    expect(loaded.out.find((l) => l.includes('keygen #0: CreatePrimary'))).toMatch(/ 00 00 ff$/);
    expect(loaded.out.at(-2)).toMatch(/^hazard: Duplicated MMIO read at t = .*rw_offset moved 21 → 22/);
    expect(loaded.out.at(-1)).toMatch(/^trace sha256 [0-9a-f]{64} \(.* stopped: halted\)$/);
  });

  it('with --mmio-fix on, vm_stop retires the read before the save and nothing is lost', async () => {
    const file = join(dir(), 'fixed.tislabvm');
    const saved = await tislab(['savevm', ...SCENARIO_2011, '--mmio-fix', 'on', '--out', file]);
    expect(saved.out.at(-1)).toContain('vm_stop completed the access first');
    const loaded = await tislab(['loadvm', file, ...SCENARIO_2011]);
    expect(loaded.code).toBe(0);
    expect(loaded.out.some((l) => l.startsWith('hazard:'))).toBe(false);
    expect(loaded.out.find((l) => l.includes('keygen #0: CreatePrimary'))).toMatch(/ 00 00$/);
  });

  it('a config and --stop JSON choose the cut; --inflight drop loses the response in flight', async () => {
    const d = dir();
    const config = join(d, 'nv.json');
    writeFileSync(
      config,
      JSON.stringify({ seed: 's', guest: { driver: 'linux-2.6.37', workload: 'nv-counter', iterations: 2 } }),
    );
    const file = join(d, 'inflight.tislabvm');
    const stop = JSON.stringify({ kind: 'backendPhase', phase: 'executing', command: 'NV_Increment' });
    const saved = await tislab(['savevm', config, '--stop', stop, '--inflight', 'drop', '--out', file]);
    expect(saved.code).toBe(0);
    expect(saved.out.at(-1)).toContain('in-flight drop');
    const loaded = await tislab(['loadvm', file, config]);
    expect(loaded.code).toBe(0);
    expect(loaded.out.some((l) => /^hazard: Lost response/.test(l))).toBe(true);
  });

  it('refuses a damaged, a foreign and an other-setup file in QEMU words, exit 1', async () => {
    const d = dir();
    const file = join(d, 'good.tislabvm');
    await tislab(['savevm', ...SCENARIO_2011, '--out', file]);
    const bytes = readFileSync(file);
    bytes[40] = bytes[40]! ^ 1;
    const damaged = join(d, 'damaged.tislabvm');
    writeFileSync(damaged, bytes);
    const r1 = await tislab(['loadvm', damaged, ...SCENARIO_2011]);
    expect(r1).toMatchObject({ code: 1, out: [] });
    expect(r1.err).toEqual([
      `tislab loadvm: ${damaged}: the snapshot is corrupt: its SHA-256 does not match its contents`,
    ]);
    const foreign = join(d, 'notes.txt');
    writeFileSync(foreign, 'hello');
    expect((await tislab(['loadvm', foreign, ...SCENARIO_2011])).err[0]).toMatch(/not a TIS Lab snapshot/);
    const todays = join(d, 'todays-driver.json');
    writeFileSync(todays, JSON.stringify({ seed: '2011', guest: { driver: 'linux', workload: 'keygen' } }));
    const other = await tislab(['loadvm', file, todays]);
    expect(other.code).toBe(1);
    expect(other.err.at(-2)).toBe(
      `tislab loadvm: ${file}: error while loading state for instance 0x0 of device 'tislab/guest'`,
    );
    expect(other.err.at(-1)).toBe(`tislab loadvm: ${file}: load of migration failed: Input/output error`);
    const missing = await tislab(['loadvm', join(d, 'none.tislabvm'), ...SCENARIO_2011]);
    expect(missing.code).toBe(1);
    expect(missing.err[0]).toMatch(/cannot read .*none\.tislabvm/);
  });

  it('bad command lines exit 2 naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['savevm', ...SCENARIO_2011], /--out FILE is needed/],
      [['savevm', '--out', 'x'], /give a CONFIG\.json or --scenario ID/],
      [
        ['savevm', '--scenario', 'nope', '--out', 'x'],
        /unknown scenario 'nope'; expected one of duplicated-mmio-read-2011/,
      ],
      [['savevm', ...SCENARIO_2011, '--out', 'x', '--stop', '{'], /--stop takes a JSON object/],
      [
        ['savevm', ...SCENARIO_2011, '--out', 'x', '--stop', '{"kind":"pendingMmio"}'],
        /--stop: .*register must be one of/,
      ],
      [
        ['savevm', ...SCENARIO_2011, '--out', 'x', '--inflight', 'later'],
        /--inflight takes wait, drop or replay/,
      ],
      [['loadvm'], /give the snapshot FILE/],
      [['loadvm', 'f', ...SCENARIO_2011, '--until', 'soon'], /--until takes N-transactions/],
      [['loadvm', 'f', ...SCENARIO_2011, '--mmio-fix', 'maybe'], /--mmio-fix takes on or off/],
    ];
    for (const [argv, message] of cases) {
      const r = await tislab(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.join('\n'), argv.join(' ')).toMatch(message);
    }
    const config = join(dir(), 'c.json');
    writeFileSync(config, JSON.stringify({ seed: 1, guest: { driver: 'linux', workload: 'getrandom' } }));
    expect((await tislab(['savevm', config, '--out', 'x'])).err.join('\n')).toMatch(/where to cut\?/);
  });

  it('a cut the guest never reaches is a failure, exit 1, and writes nothing', async () => {
    const d = dir();
    const config = join(d, 'c.json');
    writeFileSync(
      config,
      JSON.stringify({ seed: 1, guest: { driver: 'linux', workload: 'getrandom', iterations: 1 } }),
    );
    const out = join(d, 'never.tislabvm');
    const stop = JSON.stringify({ kind: 'transactionsDone', count: 5 });
    const r = await tislab(['savevm', config, '--stop', stop, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/^tislab savevm: scenario: the run to .* ended \(halted\)/);
    expect(() => readFileSync(out)).toThrow();
  });
});
