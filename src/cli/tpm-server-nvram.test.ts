// `tislab tpm-server --nvram FILE`: the TPM's permanent state on an NVRAM drive in one file (FileDrive +
// BlobStateStore), over real sockets and with the real tpm2-tools 5.4 (-T swtpm:...), across restarts of
// the server; files that are not such a drive are refused with a sentence and exit status 1, untouched.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STATE_DRIVE_SIZE, type BlobStateStore } from '../core/swtpm/blob-state-store';
import { STARTUP_CLEAR, nvDefine, nvRead, nvWrite } from '../core/swtpm/nv-test-commands';
import { parseResponse } from '../core/tpm2/build';
import type { FileDrive } from './file-drive';
import { runTislab } from './cli-test-kit';
import { NvramFileError, type TpmServer } from './tpm-server';
import { startOnFreePort, startOnSystemPorts, tpmOnce } from './tpm-test-utils';

const servers: TpmServer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tislab-nvram-'));
  dirs.push(d);
  return d;
}

/** A server on the file; `pair`: on swtpm's port pair P, P+1, as the swtpm TCTI of tpm2-tools needs. */
async function server(nvramFile: string, pair = false): Promise<TpmServer> {
  const opts = { seed: 'nvram', nvramFile };
  const s = await (pair ? startOnFreePort(opts) : startOnSystemPorts(opts));
  servers.push(s);
  return s;
}

/** Stops a server as `tpm-server` stops on SIGTERM (what it wrote is on the drive), starts another. */
async function restart(s: TpmServer, nvramFile: string, pair = false): Promise<TpmServer> {
  servers.splice(servers.indexOf(s), 1);
  await s.close();
  return server(nvramFile, pair);
}

const rcOf = (r: Uint8Array) => parseResponse(r).rc;

async function nvData(port: number): Promise<string | undefined> {
  const r = parseResponse(await tpmOnce(port, nvRead()));
  if (r.rc !== 0) return undefined;
  r.body.u32();
  return new TextDecoder().decode(r.body.tpm2b(1024));
}

const run = runTislab;

function tool(port: number, name: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      name,
      ['-T', `swtpm:host=127.0.0.1,port=${port}`, ...args],
      { timeout: 15_000, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error, stdout) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout }),
    );
  });
}

describe('tislab tpm-server --nvram FILE', () => {
  it('keeps an NV index across a restart, in a drive file made on first use', async () => {
    const file = join(tempDir(), 'tpm.nvram');
    const first = await server(file);
    expect(statSync(file).size).toBe(STATE_DRIVE_SIZE);
    expect(readFileSync(file).subarray(0, 8).toString('latin1')).toBe('TISNVRAM');
    expect(rcOf(await tpmOnce(first.port, STARTUP_CLEAR))).toBe(0);
    expect(rcOf(await tpmOnce(first.port, nvDefine()))).toBe(0);
    expect(rcOf(await tpmOnce(first.port, nvWrite()))).toBe(0);

    const again = await restart(first, file);
    expect(rcOf(await tpmOnce(again.port, STARTUP_CLEAR))).toBe(0);
    expect(await nvData(again.port)).toBe('kept across restarts');
  });

  it('tpm2-tools: an NV index and an NV counter survive a restart of the server', async () => {
    const file = join(tempDir(), 'tpm.nvram');
    const first = await server(file, true);
    const attrs = 'ownerwrite|authwrite|ownerread|authread';
    for (const [name, ...args] of [
      ['tpm2_startup', '-c'],
      ['tpm2_nvdefine', '0x1500016', '-C', 'o', '-s', '8', '-a', attrs],
      ['tpm2_nvdefine', '0x1500017', '-C', 'o', '-s', '8', '-a', `${attrs}|nt=counter`],
      ['tpm2_nvincrement', '0x1500017', '-C', 'o'],
      ['tpm2_nvincrement', '0x1500017', '-C', 'o'],
    ]) {
      expect(await tool(first.port, name!, ...args), `${name} ${args.join(' ')}`).toMatchObject({ code: 0 });
    }
    const again = await restart(first, file, true);
    expect(await tool(again.port, 'tpm2_startup', '-c')).toMatchObject({ code: 0 });
    expect((await tool(again.port, 'tpm2_getcap', 'handles-nv-index')).stdout).toBe(
      '- 0x1500016\n- 0x1500017\n',
    );
    const counter = await tool(again.port, 'tpm2_nvread', '0x1500017', '-C', 'o', '-s', '8');
    expect(Buffer.from(counter.stdout, 'latin1').toString('hex')).toBe('0000000000000002');
  }, 60_000);

  it('a second file is a second TPM', async () => {
    const dir = tempDir();
    const a = await server(join(dir, 'a.nvram'));
    await tpmOnce(a.port, STARTUP_CLEAR);
    expect(rcOf(await tpmOnce(a.port, nvDefine()))).toBe(0);
    const b = await server(join(dir, 'b.nvram'));
    await tpmOnce(b.port, STARTUP_CLEAR);
    expect(await nvData(b.port)).toBeUndefined();
  });

  it('a drive that fails under the TPM: TPM_RC_FAILURE for the command, failure mode, said once', async () => {
    const file = join(tempDir(), 'tpm.nvram');
    const said: string[] = [];
    const s = await startOnSystemPorts({ nvramFile: file, onFailureMode: (why) => said.push(why) });
    servers.push(s);
    expect(rcOf(await tpmOnce(s.port, STARTUP_CLEAR))).toBe(0);
    // The file goes away under the TPM (as a disk that fails): the next NV write cannot be made.
    await ((s.device.store as BlobStateStore).nvram.drive as FileDrive).close();
    expect(rcOf(await tpmOnce(s.port, nvDefine()))).toBe(0x101);
    expect(rcOf(await tpmOnce(s.port, nvRead()))).toBe(0x101);
    expect(said).toEqual([
      expect.stringMatching(/^NV could not be written \(.*is closed.*\); libtpms entered failure mode$/),
    ]);
  });

  describe('refuses a file that is not its drive, and leaves it as it is', () => {
    const cases: [string, (file: string) => void, RegExp][] = [
      [
        'a file of another size',
        (f) => writeFileSync(f, Buffer.alloc(4096, 0x41)),
        new RegExp(`has 4096 bytes, expected ${STATE_DRIVE_SIZE}; it was left as it is`),
      ],
      [
        'a foreign file of the right size',
        (f) =>
          writeFileSync(
            f,
            Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.alloc(STATE_DRIVE_SIZE - 4)]),
          ),
        /does not hold an NVRAM of ours \(its first bytes are 51 46 49 fb .*\)/,
      ],
      [
        'a damaged drive (its directory overwritten)',
        (f) => {
          const image = Buffer.alloc(STATE_DRIVE_SIZE);
          image.write('TISNVRAM', 0, 'latin1');
          image.fill(0xee, 8, 512);
          writeFileSync(f, image);
        },
        /is damaged|format version/,
      ],
    ];

    it.each(cases)('%s', async (_, make, why) => {
      const file = join(tempDir(), 'tpm.nvram');
      make(file);
      const before = readFileSync(file);
      const refusal = await startOnSystemPorts({ nvramFile: file }).then(
        (s) => (servers.push(s), undefined),
        (e: unknown) => e,
      );
      expect(refusal).toBeInstanceOf(NvramFileError);
      expect((refusal as Error).message).toContain(file);
      expect((refusal as Error).message).toMatch(why);
      // The command line: one sentence on stderr, exit status 1, no stack trace.
      const r = await run(['tpm-server', '--port', '2321', '--nvram', file]);
      expect(r.code).toBe(1);
      expect(r.out).toEqual([]);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(new RegExp(`^tislab tpm-server: .*${file.replace(/[.]/g, '\\.')}`));
      expect(r.err[0]).not.toMatch(/\n\s+at /);
      expect(readFileSync(file).equals(before)).toBe(true);
    });

    it('a directory where the file should be', async () => {
      const dir = tempDir();
      const r = await run(['tpm-server', '--port', '2321', '--nvram', dir]);
      expect(r.code).toBe(1);
      expect(r.err[0]).toMatch(new RegExp(`^tislab tpm-server: NVRAM file ${dir}: EISDIR`));
    });
  });

  it.each([
    [['--nvram'], "Option '--nvram <value>' argument missing"],
    [['--nvram', ''], '--nvram needs a file'],
    [['--nvram', 'x', '--state-dir', 'y'], 'give --state-dir or --nvram, not both'],
  ])('%j exits 2 with a usage line', async (args, message) => {
    const r = await run(['tpm-server', '--port', '2321', ...args]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain(message);
    expect(r.err[1]).toBe(
      'usage: tislab tpm-server --port P [--seed S] [--state-dir D | --nvram FILE] [--speed X]',
    );
  });

  it('--help explains --nvram', async () => {
    const r = await run(['tpm-server', '--help']);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    expect(text).toContain(
      'usage: tislab tpm-server --port P [--seed S] [--state-dir D | --nvram FILE] [--speed X]',
    );
    expect(text).toMatch(/--nvram FILE +keep the TPM’s state on an NVRAM drive in FILE/);
    expect(text).toMatch(/refused and left untouched \(exit status 1\)/);
  });
});
