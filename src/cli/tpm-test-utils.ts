// Test helpers for the TPM server: free ports, and a TCP client that never waits forever.
import net from 'node:net';
import { ctrlResponseLength, tpmResponseLength } from '../core/swtpm';
import { startTpmServer, type TpmServer, type TpmServerOptions } from './tpm-server';

export const IO_TIMEOUT_MS = 5_000;

/** A random port in 20000–40000 whose neighbour is the control port. */
export function randomPort(): number {
  return 20_000 + 2 * Math.floor(Math.random() * 10_000);
}

/** Starts a server on a free port pair: tries random pairs and retries while they are in use. */
export async function startOnFreePort(opts: Omit<TpmServerOptions, 'port'> = {}): Promise<TpmServer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startTpmServer({ ...opts, port: randomPort() });
    } catch (e) {
      if (attempt >= 20 || !/is in use/.test((e as Error).message)) throw e;
    }
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
