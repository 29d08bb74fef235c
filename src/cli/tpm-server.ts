// `tislab tpm-server`: our swtpm device on TCP, as `swtpm socket --tpm2 --server type=tcp,port=P
// --ctrl type=tcp,port=P+1 --flags not-need-init` serves it: raw TPM commands on P, the control
// protocol on P+1, both on 127.0.0.1 only. Any TPM 2.0 client that talks to swtpm (QEMU's tpm_emulator,
// tpm2-tools with -T swtpm:..., the TSS) can talk to this.
//
// Framing follows src/core/swtpm/framing.ts: bytes are collected per connection and cut into commands
// (tpmCommandLength) and control requests (ctrlRequestLength), so a command split over several TCP
// segments works, and so do many commands on one connection or one connection per command. A control
// request still incomplete after 500 ms drops its connection, as swtpm's ctrlchannel_recv_cmd does.
//
// Time: the device runs on virtual time; the server passes the real time elapsed since it started, so
// ReadClock advances as swtpm's does, and answers at once (the virtual durations are the device's own).
// After CMD_SHUTDOWN the server answers, closes and reports 'shutdown', as swtpm exits.
import net from 'node:net';
import {
  CMD,
  ctrlRequestLength,
  MemoryStateStore,
  SwtpmDevice,
  tpmCommandLength,
  type StateStore,
} from '../core/swtpm';
import { FileStateStore } from './file-store';

export const TPM_SERVER_HOST = '127.0.0.1';
export const DEFAULT_SEED = 'tislab';
/** swtpm's ctrlchannel waits this long for the rest of a control request. */
const CTRL_REQUEST_TIMEOUT_MS = 500;

export interface TpmServerOptions {
  /** The command port; the control channel listens on port + 1. */
  port: number;
  seed?: string | number;
  /** Keep the state files here (created if missing); in memory when omitted. */
  stateDir?: string;
  /** TPM speed relative to the cost model's reference machine. */
  speed?: number;
}

export type StopReason = 'shutdown' | 'closed';

export interface TpmServer {
  readonly port: number;
  readonly ctrlPort: number;
  readonly seed: string | number;
  readonly device: SwtpmDevice;
  /** Resolves once the server has stopped: after CMD_SHUTDOWN, or after close(). */
  readonly stopped: Promise<StopReason>;
  close(): Promise<void>;
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65534;
}

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: ${e.message}`) : e);
    };
    server.once('error', onError);
    server.listen({ port, host: TPM_SERVER_HOST, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Collects a connection's bytes and hands out each complete message as `frame` cuts it. */
function onMessages(
  socket: net.Socket,
  frame: (buf: Uint8Array) => number | undefined,
  handle: (message: Uint8Array) => void,
  onPartial?: (waiting: boolean) => void,
): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (let n = frame(pending); n !== undefined && !socket.destroyed; n = frame(pending)) {
      const message = pending.subarray(0, n);
      pending = pending.subarray(n);
      handle(new Uint8Array(message)); // a copy: Node reuses the memory behind `data` chunks
    }
    onPartial?.(pending.length > 0);
  });
}

export async function startTpmServer(opts: TpmServerOptions): Promise<TpmServer> {
  const { port } = opts;
  if (!isValidPort(port)) throw new RangeError(`port must be an integer in 1..65534, got ${port}`);
  const seed = opts.seed ?? DEFAULT_SEED;
  const store: StateStore = opts.stateDir ? new FileStateStore(opts.stateDir) : new MemoryStateStore();
  const device = new SwtpmDevice({ seed, store, ...(opts.speed !== undefined && { speed: opts.speed }) });

  // Virtual time = real time since the last rebase. A control request that moves the TPM's clock (CMD_INIT
  // loading a migrated state) rebases, so time continues from the state's own clock.
  let anchor = { virtualNs: device.engine.ctx.nowNs, realNs: process.hrtime.bigint() };
  const nowNs = () => anchor.virtualNs + Number(process.hrtime.bigint() - anchor.realNs);

  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  let resolveStopped: (reason: StopReason) => void = () => {};
  const stopped = new Promise<StopReason>((resolve) => (resolveStopped = resolve));
  let closing: Promise<void> | undefined;
  const stop = (reason: StopReason): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      let open = 2;
      const done = () => {
        if (--open === 0) resolve();
      };
      dataServer.close(done);
      ctrlServer.close(done);
      // destroySoon: responses already written still reach the client.
      for (const s of sockets) s.destroySoon();
    }).then(() => resolveStopped(reason));
    return closing;
  };

  const dataServer = net.createServer((socket) => {
    track(socket);
    onMessages(socket, tpmCommandLength, (command) => {
      const { response } = device.handleCommand(command, { nowNs: nowNs() });
      if (response.length > 0) socket.write(response);
    });
  });

  const ctrlServer = net.createServer((socket) => {
    track(socket);
    let timer: NodeJS.Timeout | undefined;
    onMessages(
      socket,
      ctrlRequestLength,
      (request) => {
        const before = device.engine.ctx.nowNs;
        const response = device.handleControl(request);
        const after = device.engine.ctx.nowNs;
        if (after !== before) anchor = { virtualNs: after, realNs: process.hrtime.bigint() };
        if (response.length > 0) socket.write(response);
        const cmd = new DataView(request.buffer, request.byteOffset, 4).getUint32(0);
        if (cmd === CMD.SHUTDOWN && device.terminated) void stop('shutdown');
      },
      (waiting) => {
        clearTimeout(timer);
        timer = waiting ? setTimeout(() => socket.destroy(), CTRL_REQUEST_TIMEOUT_MS) : undefined;
      },
    );
    socket.on('close', () => clearTimeout(timer));
  });

  try {
    await listen(dataServer, port);
    await listen(ctrlServer, port + 1);
  } catch (e) {
    dataServer.close();
    ctrlServer.close();
    throw e;
  }

  return {
    port,
    ctrlPort: port + 1,
    seed,
    device,
    stopped,
    close: () => stop('closed'),
  };
}
