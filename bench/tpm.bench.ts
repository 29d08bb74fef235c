// TPM engine throughput: commands per second in-process, and swtpm's over loopback in the same run when
// swtpm is installed (Debian: apt-get install swtpm). Target (issue 3): in-process PCR_Extend and Hash at
// least 5x swtpm's loopback throughput.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildCommand, parseResponse, pwSession } from '../src/core/tpm2/build';
import { ALG, CC, RH, SU } from '../src/core/tpm2/constants';
import { Tpm2Engine } from '../src/core/tpm2/engine';
import { startNodeTpmWorker } from '../src/workers/node-tpm-worker';
import type { TpmTransport } from '../src/core/backend/transport';
import type { BenchResult } from './types';

interface Workload {
  name: string;
  command: Uint8Array;
  /** Sent after each command (e.g. FlushContext for a created key); not counted. */
  cleanup?: (response: Uint8Array) => Uint8Array | undefined;
  seconds: number;
}

function flushCreated(response: Uint8Array): Uint8Array | undefined {
  const p = parseResponse(response);
  if (p.rc !== 0) return undefined;
  const handle = p.body.u32();
  return buildCommand({ code: CC.FlushContext, params: (w) => w.u32(handle) });
}

/** A primary key template as tpm2_createprimary -G ecc256 / rsa2048 sends it (restricted decrypt). */
function createPrimary(type: 'ecc' | 'rsa'): Uint8Array {
  return buildCommand({
    code: CC.CreatePrimary,
    handles: [RH.OWNER],
    sessions: [pwSession()],
    params: (w) => {
      w.u16(4).u16(0).u16(0); // inSensitive: empty userAuth, empty data
      const fill = w.sizeField(2);
      w.u16(type === 'ecc' ? ALG.ECC : ALG.RSA)
        .u16(ALG.SHA256)
        .u32(0x00030072)
        .u16(0);
      w.u16(ALG.AES).u16(128).u16(ALG.CFB); // symmetric
      if (type === 'ecc') w.u16(ALG.NULL).u16(0x0003).u16(ALG.NULL).u16(0).u16(0);
      else w.u16(ALG.NULL).u16(2048).u32(0).u16(0);
      fill();
      w.u16(0); // outsideInfo
      w.u32(0); // creationPCR: empty selection
    },
  });
}

export function workloads(): Workload[] {
  return [
    {
      name: 'PCR_Extend (sha256)',
      command: buildCommand({
        code: CC.PCR_Extend,
        handles: [16],
        sessions: [pwSession()],
        params: (w) => w.u32(1).u16(ALG.SHA256).bytes(new Uint8Array(32).fill(7)),
      }),
      seconds: 1,
    },
    {
      name: 'Hash of 1 KiB (sha256)',
      command: buildCommand({
        code: CC.Hash,
        params: (w) => w.tpm2b(new Uint8Array(1024).fill(0x61)).u16(ALG.SHA256).u32(RH.NULL),
      }),
      seconds: 1,
    },
    {
      name: 'GetRandom(32)',
      command: buildCommand({ code: CC.GetRandom, params: (w) => w.u16(32) }),
      seconds: 1,
    },
    { name: 'CreatePrimary ECC P-256', command: createPrimary('ecc'), cleanup: flushCreated, seconds: 2 },
    { name: 'CreatePrimary RSA-2048', command: createPrimary('rsa'), cleanup: flushCreated, seconds: 3 },
  ];
}

const STARTUP = buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) });

function inProcess(w: Workload): { perSecond: number; rc: number } {
  const tpm = new Tpm2Engine({ seed: 'bench' });
  tpm.execute(STARTUP);
  let n = 0;
  let rc = 0;
  const start = performance.now();
  const deadline = start + w.seconds * 1000;
  while (performance.now() < deadline) {
    const r = tpm.execute(w.command);
    rc = r.rc;
    if (rc !== 0) break;
    const cleanup = w.cleanup?.(r.response);
    if (cleanup) tpm.execute(cleanup);
    n++;
  }
  return { perSecond: n / ((performance.now() - start) / 1000), rc };
}

/** Through the TPM Worker (worker_threads): each command is a message round trip, awaited in turn. */
async function viaTransport(t: TpmTransport, w: Workload): Promise<{ perSecond: number; rc: number }> {
  let n = 0;
  let rc = 0;
  const start = performance.now();
  const deadline = start + w.seconds * 1000;
  while (performance.now() < deadline) {
    const r = await t.command(w.command);
    rc = parseResponse(r.response).rc;
    if (rc !== 0) break;
    const cleanup = w.cleanup?.(r.response);
    if (cleanup) await t.command(cleanup);
    n++;
  }
  return { perSecond: n / ((performance.now() - start) / 1000), rc };
}

/** One persistent TCP connection to swtpm's data channel; commands are sent one after another. */
class SwtpmClient {
  private buffered = Buffer.alloc(0);
  private waiting: ((b: Buffer) => void) | undefined;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.deliver();
    });
  }

  static connect(port: number): Promise<SwtpmClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new SwtpmClient(s)));
      s.once('error', reject);
    });
  }

  private deliver(): void {
    if (!this.waiting || this.buffered.length < 10) return;
    const size = this.buffered.readUInt32BE(2);
    if (this.buffered.length < size) return;
    const out = this.buffered.subarray(0, size);
    this.buffered = this.buffered.subarray(size);
    const w = this.waiting;
    this.waiting = undefined;
    w(out);
  }

  send(cmd: Uint8Array): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(cmd);
      this.deliver();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

async function viaSwtpm(port: number, w: Workload): Promise<{ perSecond: number; rc: number }> {
  const client = await SwtpmClient.connect(port);
  let n = 0;
  let rc = 0;
  const start = performance.now();
  const deadline = start + w.seconds * 1000;
  while (performance.now() < deadline) {
    const r = await client.send(w.command);
    rc = r.readUInt32BE(6);
    if (rc !== 0) break;
    const cleanup = w.cleanup?.(new Uint8Array(r));
    if (cleanup) await client.send(cleanup);
    n++;
  }
  client.close();
  return { perSecond: n / ((performance.now() - start) / 1000), rc };
}

async function startSwtpm(): Promise<{ port: number; stop: () => void } | undefined> {
  if (spawnSync('swtpm', ['--version']).status !== 0) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tislab-bench-swtpm-'));
  const port = 23000 + Math.floor((process.pid % 500) * 2);
  const child: ChildProcess = spawn(
    'swtpm',
    [
      'socket',
      '--tpm2',
      '--server',
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      '--flags',
      'not-need-init,startup-clear',
      '--tpmstate',
      `dir=${dir}`,
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) {
      return {
        port,
        stop: () => {
          child.kill();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  }
  child.kill();
  return undefined;
}

const RATIO_TARGET = 5;
const RATIO_WORKLOADS = new Set(['PCR_Extend (sha256)', 'Hash of 1 KiB (sha256)']);

export async function benchTpm(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const swtpm = await startSwtpm();
  const worker = await startNodeTpmWorker({ seed: 'bench', startupClear: true });
  try {
    for (const w of workloads()) {
      const ours = inProcess(w);
      if (ours.rc !== 0) {
        results.push({
          name: `tpm in-process ${w.name}`,
          value: 0,
          unit: 'cmd/s',
          note: `failed: rc 0x${ours.rc.toString(16)}`,
        });
        continue;
      }
      const theirs = swtpm ? await viaSwtpm(swtpm.port, w) : undefined;
      const ratio = theirs && theirs.rc === 0 ? ours.perSecond / theirs.perSecond : undefined;
      const checked = RATIO_WORKLOADS.has(w.name) && ratio !== undefined;
      results.push({
        name: `tpm in-process ${w.name}`,
        value: Math.round(ours.perSecond),
        unit: 'cmd/s',
        ...(checked ? { target: `>= ${RATIO_TARGET}x swtpm loopback`, met: ratio >= RATIO_TARGET } : {}),
        note:
          ratio !== undefined
            ? `${ratio.toFixed(1)}x swtpm 0.7 over loopback`
            : swtpm
              ? `swtpm answered rc 0x${theirs?.rc.toString(16)}`
              : 'swtpm not installed: no comparison',
      });
      const viaWorker = await viaTransport(worker.transport, w);
      results.push({
        name: `tpm via Worker ${w.name}`,
        value: Math.round(viaWorker.perSecond),
        unit: 'cmd/s',
        ...(viaWorker.rc !== 0 ? { note: `failed: rc 0x${viaWorker.rc.toString(16)}` } : {}),
      });
      if (theirs) {
        results.push({
          name: `swtpm loopback ${w.name}`,
          value: Math.round(theirs.perSecond),
          unit: 'cmd/s',
        });
      }
    }
  } finally {
    swtpm?.stop();
    await worker.terminate();
  }
  return results;
}
