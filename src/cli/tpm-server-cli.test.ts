// `tislab tpm-server` as a user runs it: flags, exit status, the listening line, the ways it stops.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CMD, ctrlRequest } from '../core/swtpm';
import { hex } from '../core/tpm2/marshal';
import { runTislab } from './cli-test-kit';
import { main } from './main';
import { randomPort, ctrlOnce, tpmOnce } from './tpm-test-utils';

const STARTUP_CLEAR = Uint8Array.of(0x80, 1, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, 0);
const USAGE = 'usage: tislab tpm-server --port P [--seed S] [--state-dir D | --nvram FILE] [--speed X]';

const run = runTislab;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
});

describe('tislab tpm-server: the command line', () => {
  it('is listed by --help', async () => {
    const r = await run(['--help']);
    expect(r.out.join('\n')).toMatch(/^\s+tpm-server\s+serve a swtpm-compatible TPM 2\.0 on TCP/m);
  });

  it.each([
    [[], '--port is required'],
    [['--port'], "Option '--port <value>' argument missing"],
    [['--port', '0'], "got '0'"],
    [['--port', '65535'], "got '65535'"], // P+1 would not be a port
    [['--port', '2321.5'], "got '2321.5'"],
    [['--port', 'x2321'], "got 'x2321'"],
    [['--port', '2321', '--bogus'], "Unknown option '--bogus'"],
    [['--port', '2321', 'extra'], "Unexpected argument 'extra'"],
    [['--port', '2321', '--speed', '0'], "--speed must be a positive number, got '0'"],
    [['--port', '2321', '--speed', 'fast'], "--speed must be a positive number, got 'fast'"],
  ])('%j exits 2 with a usage line', async (args, message) => {
    const r = await run(['tpm-server', ...args]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^tislab tpm-server: /);
    expect(r.err[0]).toContain(message);
    expect(r.err[1]).toBe(USAGE);
    expect(r.out).toEqual([]);
  });

  it('a port in use exits 1 and says which', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    cleanups.push(() => blocker.close());
    const r = await run(['tpm-server', '--port', String(port)]);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(new RegExp(`^tislab tpm-server: port ${port} is in use: .*EADDRINUSE`));
  });

  it('prints where it listens, serves, and exits 0 after CMD_SHUTDOWN', async () => {
    let port = 0;
    let outcome: { code: number; out: string[]; err: string[] } | undefined;
    for (let attempt = 0; attempt < 20 && !outcome?.out.length; attempt++) {
      port = randomPort();
      const out: string[] = [];
      const err: string[] = [];
      let code: number | undefined;
      const done = main(['tpm-server', '--port', String(port), '--seed', '7'], {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      }).then((c) => (code = c));
      while (code === undefined && out.length === 0) await new Promise((r) => setTimeout(r, 5));
      if (out.length === 0) continue; // that port was taken: try another
      // Should an expectation fail, stop the server anyway.
      cleanups.push(() => ctrlOnce(port + 1, ctrlRequest.bare(CMD.SHUTDOWN)).catch(() => undefined));
      expect(out).toEqual([
        `tislab tpm-server: TPM 2.0 on 127.0.0.1:${port} (commands), 127.0.0.1:${port + 1} (control), seed 7`,
      ]);
      expect(hex(await tpmOnce(port, STARTUP_CLEAR))).toBe('80010000000a00000000');
      expect(hex(await ctrlOnce(port + 1, ctrlRequest.bare(CMD.SHUTDOWN)))).toBe('00000000');
      await done;
      outcome = { code: code!, out, err };
    }
    expect(outcome).toEqual({ code: 0, out: [expect.stringContaining(`:${port} `)], err: [] });
  });

  it('the bin runs until SIGTERM and then exits 0', async () => {
    let server: Spawned | undefined;
    for (let attempt = 0; attempt < 10 && !server?.stdout; attempt++)
      server = await spawnServer(randomPort());
    const { port, child, exited } = server!;
    expect(server!.stdout).toBe(
      `tislab tpm-server: TPM 2.0 on 127.0.0.1:${port} (commands), 127.0.0.1:${port + 1} (control), seed tislab\n`,
    );
    expect(hex(await tpmOnce(port, STARTUP_CLEAR))).toBe('80010000000a00000000');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(server!.stderr()).toBe('');
  }, 60_000);
});

interface Spawned {
  port: number;
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  /** The first line on stdout; empty when the process ended without one (its port was taken). */
  stdout: string;
  stderr(): string;
}

/** Runs `bin/tislab.mjs tpm-server --port P` until its first line or its end; killed after 20 s. */
async function spawnServer(port: number): Promise<Spawned> {
  const bin = new URL('../../bin/tislab.mjs', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, 'tpm-server', '--port', String(port)], { stdio: 'pipe' });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  cleanups.push(() => {
    clearTimeout(killer);
    child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) resolve();
    });
    void exited.then(() => resolve());
  });
  return { port, child, exited, stdout, stderr: () => stderr };
}
