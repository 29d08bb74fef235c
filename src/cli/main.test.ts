import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runTislab } from './cli-test-kit';
import { USAGE_LINE } from './main';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const run = runTislab;

describe('tislab CLI', () => {
  it('--help lists the commands and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/^\s+version\s+print the TIS Lab version$/m);
    expect(r.err).toEqual([]);
  });

  it('version prints the package version', async () => {
    expect((await run(['version'])).out).toEqual([`tislab ${pkg.version}`]);
    expect((await run(['--version'])).out).toEqual([`tislab ${pkg.version}`]);
  });

  it('an unknown command exits 2 with a usage line', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(["tislab: unknown command 'frobnicate'", USAGE_LINE]);
    expect(r.out).toEqual([]);
  });

  it('a bad flag exits 2 with a usage line, at top level and on a command', async () => {
    const top = await run(['--frobnicate']);
    expect(top.code).toBe(2);
    expect(top.err[0]).toBe("tislab: unknown option '--frobnicate'");
    const sub = await run(['version', '--json']);
    expect(sub.code).toBe(2);
    expect(sub.err[0]).toMatch(/^tislab version: Unknown option '--json'/);
    expect(sub.err[1]).toBe('usage: tislab version');
  });

  it('--help after a command prints the usage of that command and exits 0', async () => {
    const r = await run(['tpm-server', '--help']);
    expect(r.code).toBe(0);
    expect(r.out[1]).toMatch(/^usage: tislab tpm-server --port P/);
  });

  it('no command at all exits 2 with the usage line', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([USAGE_LINE]);
  });
});

describe('the tislab bin', () => {
  const bin = new URL('../../bin/tislab.mjs', import.meta.url).pathname;
  const exec = promisify(execFile);

  it('runs the TypeScript CLI through node and reports exit codes', async () => {
    const ok = await exec(process.execPath, [bin, 'version']);
    expect(ok.stdout).toBe(`tislab ${pkg.version}\n`);
    await expect(exec(process.execPath, [bin, 'nope'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown command 'nope'"),
    });
  }, 30_000);

  it('a reader that goes away ends the output quietly (tislab run ... | head)', async () => {
    const child = spawn(process.execPath, [bin, 'run', 'examples/keygen-2.6.37.json'], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Like head -1: read the first chunk, then close the pipe.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});
