// Test helpers for the TPM server: free ports, and a TCP client that never waits forever.
//
// Ports. Test files run in parallel and every client connection holds an ephemeral port: while it is
// open, and for 60 s of TIME_WAIT after the client closes first (as tpmOnce does), nothing can listen
// on that port (EADDRINUSE, even with SO_REUSEADDR). A port picked at random inside the system's
// ephemeral range is therefore sometimes taken, and a test that assumes a port next to its server is
// free fails now and then. So: servers that need no fixed pair listen on ports the system picks
// (startOnSystemPorts); servers that need swtpm's P/P+1 pair (the swtpm TCTI of tpm2-tools, the CLI)
// pick it below the ephemeral range and retry when another test holds it (startOnFreePort).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { ctrlResponseLength, tpmResponseLength } from '../core/swtpm';
import { startTpmServer, type TpmServer, type TpmServerOptions } from './tpm-server';

export const IO_TIMEOUT_MS = 5_000;

/** The system's ephemeral ports (Linux's ip_local_port_range; IANA's 49152–65535 elsewhere). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux
  }
  return [49_152, 65_535];
}

const PAIR_BASE = 20_000;
/** Even ports from 20000 up to the ephemeral range (at least 2000 pairs). */
const PAIRS = Math.max(2_000, Math.floor((Math.min(ephemeralRange()[0], 40_000) - 1 - PAIR_BASE) / 2));

/** A random even port P from 20000 on, below the ephemeral range, with P+1 for the control channel. */
export function randomPort(): number {
  return PAIR_BASE + 2 * Math.floor(Math.random() * PAIRS);
}

/** Starts a server on a free port pair P, P+1: tries random pairs and retries while they are in use. */
export async function startOnFreePort(opts: Omit<TpmServerOptions, 'port'> = {}): Promise<TpmServer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startTpmServer({ ...opts, port: randomPort() });
    } catch (e) {
      if (attempt >= 50 || !/is in use/.test((e as Error).message)) throw e;
    }
  }
}

/** Starts a server whose two ports the system picks: never taken, no retries. */
export function startOnSystemPorts(
  opts: Omit<TpmServerOptions, 'port' | 'ctrlPort'> = {},
): Promise<TpmServer> {
  return startTpmServer({ ...opts, port: 0, ctrlPort: 0 });
}

/**
 * Resolves once at least `ms` have passed on process.hrtime, the clock the server measures with. A
 * timer alone can end up to a millisecond early: Node starts it from libuv's loop time, cached in
 * whole milliseconds when the loop iteration began.
 */
export async function sleepAtLeast(ms: number): Promise<void> {
  const until = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  for (let left = ms; left > 0; left = Number(until - process.hrtime.bigint()) / 1e6) {
    await new Promise((r) => setTimeout(r, Math.ceil(left)));
  }
}

/** A connection that reads framed messages, each with a timeout. */
export class TcpClient {
  private buffer: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private closedFlag = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closedFlag = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = IO_TIMEOUT_MS): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TcpClient(socket));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next message as `frame` cuts it; rejects after the timeout or when the peer closes first. */
  async read(frame: (buf: Uint8Array) => number | undefined, timeoutMs = IO_TIMEOUT_MS): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = frame(this.buffer);
      if (n !== undefined) {
        const out = new Uint8Array(this.buffer.subarray(0, n));
        this.buffer = this.buffer.subarray(n);
        return out;
      }
      if (this.closedFlag) throw new Error('connection closed before a complete message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Waits until the peer closes the connection. */
  async waitClosed(timeoutMs = IO_TIMEOUT_MS): Promise<void> {
    await this.read(() => undefined, timeoutMs).catch((e: Error) => {
      if (!this.closedFlag) throw e;
    });
  }

  async tpm(command: Uint8Array): Promise<Uint8Array> {
    this.write(command);
    return this.read(tpmResponseLength);
  }

  async ctrl(request: Uint8Array): Promise<Uint8Array> {
    this.write(request);
    const cmd = new DataView(request.buffer, request.byteOffset, request.byteLength).getUint32(0);
    return this.read((buf) => ctrlResponseLength(cmd, buf));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One TPM command on a connection of its own, as tpm2-tools' swtpm TCTI sends it. */
export async function tpmOnce(port: number, command: Uint8Array): Promise<Uint8Array> {
  const c = await TcpClient.connect(port);
  try {
    return await c.tpm(command);
  } finally {
    c.close();
  }
}

/** One control request on a connection of its own. */
export async function ctrlOnce(port: number, request: Uint8Array): Promise<Uint8Array> {
  const c = await TcpClient.connect(port);
  try {
    return await c.ctrl(request);
  } finally {
    c.close();
  }
}
