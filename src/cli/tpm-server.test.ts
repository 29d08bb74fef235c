// `tislab tpm-server` over real sockets: the data and control channels as swtpm 0.7.1 serves them
// (`swtpm socket --tpm2 --server type=tcp,port=P --ctrl type=tcp,port=P+1 --flags not-need-init`).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOB_TYPE, CMD, ctrlRequest, ctrlResponse, STATE_FILE, SwtpmDevice } from '../core/swtpm';
import { parseResponse } from '../core/tpm2/build';
import { fromHex, hex } from '../core/tpm2/marshal';
import { startTpmServer, type TpmServer } from './tpm-server';
import net from 'node:net';
import { ctrlOnce, sleepAtLeast, startOnSystemPorts, TcpClient, tpmOnce } from './tpm-test-utils';
import { STARTUP_CLEAR, nvDefine, nvRead, nvWrite } from '../core/swtpm/nv-test-commands';

const GET_RANDOM_16 = fromHex('80010000000c0000017b0010');
const READ_CLOCK = fromHex('80010000000a00000181');

const rcOf = (response: Uint8Array) => parseResponse(response).rc;
/** TPMS_TIME_INFO.clockInfo.clock of a ReadClock response (header, time u64, then clock u64). */
const clockOf = (response: Uint8Array) => new DataView(response.buffer, response.byteOffset).getBigUint64(18);

const servers: TpmServer[] = [];
const clients: TcpClient[] = [];
const dirs: string[] = [];

/** A server on ports the system picks: no other test can hold them (see tpm-test-utils.ts). */
async function server(opts: Parameters<typeof startOnSystemPorts>[0] = {}): Promise<TpmServer> {
  const s = await startOnSystemPorts(opts);
  servers.push(s);
  return s;
}

async function connect(port: number): Promise<TcpClient> {
  const c = await TcpClient.connect(port);
  clients.push(c);
  return c;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tislab-state-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** A port the system hands out for listening, given back at once. */
function systemPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Nothing listens on the port: we can. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** What the same device answers in-process: the server must add nothing and lose nothing. */
function reference(seed: string, commands: Uint8Array[]): string[] {
  const dev = new SwtpmDevice({ seed });
  return commands.map((c) => hex(dev.handleCommand(c).response));
}

describe('data channel', () => {
  it('answers Startup and GetRandom on one connection, as the device does in-process', async () => {
    const s = await server({ seed: 'one-conn' });
    const c = await connect(s.port);
    const answers = [hex(await c.tpm(STARTUP_CLEAR)), hex(await c.tpm(GET_RANDOM_16))];
    answers.push(hex(await c.tpm(GET_RANDOM_16)));
    expect(answers[0]).toBe('80010000000a00000000');
    expect(answers).toEqual(reference('one-conn', [STARTUP_CLEAR, GET_RANDOM_16, GET_RANDOM_16]));
    expect(answers[1]).not.toBe(answers[2]);
  });

  it('serves one connection per command (the swtpm TCTI of tpm2-tools connects for each)', async () => {
    const s = await server({ seed: 'per-command' });
    const answers = [];
    for (const cmd of [STARTUP_CLEAR, GET_RANDOM_16, GET_RANDOM_16])
      answers.push(hex(await tpmOnce(s.port, cmd)));
    expect(answers).toEqual(reference('per-command', [STARTUP_CLEAR, GET_RANDOM_16, GET_RANDOM_16]));
  });

  it('puts together a command that arrives in pieces, and separates two sent in one write', async () => {
    const s = await server({ seed: 'split' });
    const c = await connect(s.port);
    c.write(STARTUP_CLEAR.subarray(0, 4)); // not even a whole header
    await new Promise((r) => setTimeout(r, 20));
    c.write(STARTUP_CLEAR.subarray(4, 11));
    await new Promise((r) => setTimeout(r, 20));
    c.write(STARTUP_CLEAR.subarray(11));
    const startup = await c.read((b) => (b.length >= 10 ? 10 : undefined));
    expect(hex(startup)).toBe('80010000000a00000000');
    const both = new Uint8Array([...GET_RANDOM_16, ...GET_RANDOM_16]);
    c.write(both);
    const a = await c.read((b) => (b.length >= 28 ? 28 : undefined));
    const b = await c.read((b) => (b.length >= 28 ? 28 : undefined));
    expect([hex(a), hex(b)]).toEqual(
      reference('split', [STARTUP_CLEAR, GET_RANDOM_16, GET_RANDOM_16]).slice(1),
    );
  });

  it('ReadClock advances with real time, as swtpm’s clock does', async () => {
    const s = await server();
    await tpmOnce(s.port, STARTUP_CLEAR);
    const before = clockOf(await tpmOnce(s.port, READ_CLOCK));
    await sleepAtLeast(60);
    const after = clockOf(await tpmOnce(s.port, READ_CLOCK));
    expect(after - before).toBeGreaterThanOrEqual(60n);
  });
});

describe('control channel', () => {
  it('answers GET_CAPABILITY like swtpm 0.7.1, many requests on one connection', async () => {
    const s = await server();
    const c = await connect(s.ctrlPort);
    expect(hex(await c.ctrl(ctrlRequest.bare(CMD.GET_CAPABILITY)))).toBe('000000000000ffff'); // observed
    expect(hex(await c.ctrl(ctrlRequest.setLocality(0)))).toBe('00000000');
    expect(hex(await c.ctrl(ctrlRequest.bare(CMD.GET_CONFIG)))).toBe('0000000000000000'); // observed
  });

  it('migrates: blobs from A, STOP + SET_STATEBLOB + INIT on B, and B continues exactly as A', async () => {
    const a = await server({ seed: 'source' });
    const b = await server({ seed: 'destination' }); // its own seed: everything it answers must come from A
    await tpmOnce(a.port, STARTUP_CLEAR);
    await tpmOnce(a.port, GET_RANDOM_16);
    await tpmOnce(b.port, STARTUP_CLEAR);
    const ca = await connect(a.ctrlPort);
    const blobs = [];
    for (const type of [BLOB_TYPE.PERMANENT, BLOB_TYPE.VOLATILE]) {
      const r = ctrlResponse.stateBlob(await ca.ctrl(ctrlRequest.getStateBlob(type, 0)));
      expect(r.result).toBe(0);
      expect(r.data.length).toBeGreaterThan(0);
      blobs.push({ type, data: r.data });
    }
    const cb = await connect(b.ctrlPort);
    expect(hex(await cb.ctrl(ctrlRequest.bare(CMD.STOP)))).toBe('00000000');
    for (const blob of blobs) {
      expect(hex(await cb.ctrl(ctrlRequest.setStateBlob(blob.type, 0, blob.data)))).toBe('00000000');
    }
    expect(hex(await cb.ctrl(ctrlRequest.init(0)))).toBe('00000000');
    const fromA = [hex(await tpmOnce(a.port, GET_RANDOM_16)), hex(await tpmOnce(a.port, GET_RANDOM_16))];
    const fromB = [hex(await tpmOnce(b.port, GET_RANDOM_16)), hex(await tpmOnce(b.port, GET_RANDOM_16))];
    expect(rcOf(fromHex(fromB[0]!))).toBe(0);
    expect(fromB).toEqual(fromA);
  });

  it('after a migration the clock goes on from the source’s clock, with real time', async () => {
    // A slow source: its virtual clock runs far ahead of real time.
    const a = await server({ seed: 'slow', speed: 0.0001 });
    const b = await server({ seed: 'fast' });
    await tpmOnce(a.port, STARTUP_CLEAR);
    await tpmOnce(a.port, GET_RANDOM_16);
    const clockA = clockOf(await tpmOnce(a.port, READ_CLOCK));
    const ca = await connect(a.ctrlPort);
    const blobs = [];
    for (const type of [BLOB_TYPE.PERMANENT, BLOB_TYPE.VOLATILE]) {
      blobs.push({
        type,
        data: ctrlResponse.stateBlob(await ca.ctrl(ctrlRequest.getStateBlob(type, 0))).data,
      });
    }
    const cb = await connect(b.ctrlPort);
    await cb.ctrl(ctrlRequest.bare(CMD.STOP));
    for (const blob of blobs) await cb.ctrl(ctrlRequest.setStateBlob(blob.type, 0, blob.data));
    expect(hex(await cb.ctrl(ctrlRequest.init(0)))).toBe('00000000');
    const before = clockOf(await tpmOnce(b.port, READ_CLOCK));
    await sleepAtLeast(60);
    const after = clockOf(await tpmOnce(b.port, READ_CLOCK));
    expect(before).toBeGreaterThanOrEqual(clockA);
    expect(after - before).toBeGreaterThanOrEqual(60n);
  });

  it('CMD_SHUTDOWN is answered, then the server stops and its ports close (swtpm exits)', async () => {
    const s = await server();
    expect(hex(await ctrlOnce(s.ctrlPort, ctrlRequest.bare(CMD.SHUTDOWN)))).toBe('00000000');
    await expect(s.stopped).resolves.toBe('shutdown');
    await expect(TcpClient.connect(s.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(TcpClient.connect(s.ctrlPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('drops a connection whose request stays incomplete (swtpm waits 500 ms)', async () => {
    const s = await server();
    const c = await connect(s.ctrlPort);
    c.write(ctrlRequest.init(0).subarray(0, 6));
    await c.waitClosed(3_000);
    expect(c.closed).toBe(true);
    // The channel itself still works.
    expect(hex(await ctrlOnce(s.ctrlPort, ctrlRequest.bare(CMD.GET_CAPABILITY)))).toBe('000000000000ffff');
  });
});

describe('--state-dir', () => {
  it('keeps an NV index across a restart, in swtpm’s tpm2-00.permall', async () => {
    const dir = join(tempDir(), 'created/on/demand');
    const first = await server({ seed: 'nv', stateDir: dir });
    await tpmOnce(first.port, STARTUP_CLEAR);
    expect(rcOf(await tpmOnce(first.port, nvDefine()))).toBe(0);
    expect(rcOf(await tpmOnce(first.port, nvWrite()))).toBe(0);
    await first.close();

    expect(readdirSync(dir)).toEqual([STATE_FILE.permanent]); // no temporary files left behind
    const file = readFileSync(join(dir, STATE_FILE.permanent));
    expect(hex(file.subarray(0, 6))).toBe('0201000a0000'); // swtpm's blob header, observed from 0.7.1
    const again = await server({ seed: 'nv', stateDir: dir });
    await tpmOnce(again.port, STARTUP_CLEAR);
    const read = parseResponse(await tpmOnce(again.port, nvRead()));
    expect(read.rc).toBe(0);
    read.body.u32(); // parameterSize
    expect(new TextDecoder().decode(read.body.tpm2b(1024))).toBe('kept across restarts');
  });

  it('STORE_VOLATILE writes tpm2-00.volatilestate, which a restarted server resumes from (observed)', async () => {
    const dir = tempDir();
    const first = await server({ stateDir: dir });
    await tpmOnce(first.port, STARTUP_CLEAR);
    expect(hex(await ctrlOnce(first.ctrlPort, ctrlRequest.bare(CMD.STORE_VOLATILE)))).toBe('00000000');
    await first.close();
    expect(readdirSync(dir).sort()).toEqual([STATE_FILE.permanent, STATE_FILE.volatile]);

    // Observed from swtpm 0.7.1: the restarted TPM answers without Startup; CMD_INIT(DELETE_VOLATILE)
    // loads the file again, so the random bytes repeat, and deletes it.
    const again = await server({ stateDir: dir });
    const r1 = await tpmOnce(again.port, GET_RANDOM_16);
    expect(rcOf(r1)).toBe(0);
    expect(hex(await ctrlOnce(again.ctrlPort, ctrlRequest.init(1)))).toBe('00000000');
    expect(readdirSync(dir)).toEqual([STATE_FILE.permanent]);
    expect(hex(await tpmOnce(again.port, GET_RANDOM_16))).toBe(hex(r1));
  });

  it('without --state-dir the state lives in memory and a restart forgets it', async () => {
    const first = await server({ seed: 'nv' });
    await tpmOnce(first.port, STARTUP_CLEAR);
    expect(rcOf(await tpmOnce(first.port, nvDefine()))).toBe(0);
    await first.close();
    const again = await server({ seed: 'nv' });
    await tpmOnce(again.port, STARTUP_CLEAR);
    expect(rcOf(await tpmOnce(again.port, nvRead()))).toBe(0x18b); // TPM_RC_HANDLE + handle 1
    expect(existsSync(join(process.cwd(), STATE_FILE.permanent))).toBe(false);
  });
});

describe('listening', () => {
  it('binds 127.0.0.1 only: other loopback addresses are refused', async () => {
    const s = await server();
    await expect(TcpClient.connect(s.port, '127.0.0.2')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(TcpClient.connect(s.ctrlPort, '127.0.0.2')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    (await connect(s.port)).close();
  });

  it('a port pair in use fails with a clear message and leaves nothing listening', async () => {
    const s = await server();
    await expect(startTpmServer({ port: s.port })).rejects.toThrow(`port ${s.port} is in use: `);
    await expect(startTpmServer({ port: s.port, ctrlPort: 0 })).rejects.toThrow(`port ${s.port} is in use: `);
    // The control port taken: the start fails after it bound its command port, and lets go of it. The
    // command port is one the system just handed out; should another process take it meanwhile (the
    // start then names it), try another.
    for (let attempt = 1; ; attempt++) {
      const port = await systemPort();
      const error = await startTpmServer({ port, ctrlPort: s.ctrlPort }).then(
        (unexpected) => (servers.push(unexpected), undefined),
        (e: Error) => e,
      );
      if (attempt < 10 && error?.message.startsWith(`port ${port} is in use`)) continue;
      expect(error?.message).toMatch(new RegExp(`^port ${s.ctrlPort} is in use: `));
      expect(await canListen(port)).toBe(true);
      break;
    }
  });
});
