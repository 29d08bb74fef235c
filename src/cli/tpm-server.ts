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
//
// State: in memory, in swtpm's files in a directory (--state-dir, FileStateStore), or on an NVRAM
// drive in one file (--nvram, FileDrive + BlobStateStore: the blobstore layout the browser keeps in
// IndexedDB). Requests are handled one after another, each answered only once the state it wrote is on
// the drive (as swtpm's SWTPM_NVRAM_StoreData writes before the response goes out); a write that fails
// puts the TPM into libtpms' failure mode (SwtpmDevice.handleCommandDurable).
import net from 'node:net';
import { NvramError } from '../core/nvram';
import { TPM_NVRAM_DRIVE_ID } from '../core/backend/tpm-host';
import {
  CMD,
  ctrlRequestLength,
  MemoryStateStore,
  SwtpmDevice,
  tpmCommandLength,
  type StateStore,
} from '../core/swtpm';
import { BlobStateStore, STATE_DRIVE_SIZE } from '../core/swtpm/blob-state-store';
import { FileDrive } from './file-drive';
import { FileStateStore } from './file-store';

export const TPM_SERVER_HOST = '127.0.0.1';
export const DEFAULT_SEED = 'tislab';
/** swtpm's ctrlchannel waits this long for the rest of a control request. */
const CTRL_REQUEST_TIMEOUT_MS = 500;

export interface TpmServerOptions {
  /** The command port; the control channel listens on port + 1 unless ctrlPort says otherwise. */
  port: number;
  /**
   * The control port (swtpm's --ctrl type=tcp,port=Q). With ctrlPort given, 0 for either port lets the
   * system pick a free one (tests: no port can be taken by another process meanwhile).
   */
  ctrlPort?: number;
  seed?: string | number;
  /** Keep the state files here (created if missing); in memory when omitted. */
  stateDir?: string;
  /**
   * Keep the state on an NVRAM drive in this file (created at its size if missing). A file of another
   * size, or one that holds something else, is refused (NvramFileError) and left as it is.
   */
  nvramFile?: string;
  /** TPM speed relative to the cost model's reference machine. */
  speed?: number;
  /** Told once each time the TPM enters failure mode (its NV could not be written), as swtpm logs it. */
  onFailureMode?: (reason: string) => void;
}

export type StopReason = 'shutdown' | 'closed';

/** The --nvram file was refused or could not be opened; the message says which file and why. */
export class NvramFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NvramFileError';
  }
}

interface OpenedState {
  store: StateStore;
  /** Waits for outstanding writes and lets go of the drive. */
  close(): Promise<void>;
}

/** The TPM's state store as the options ask; an --nvram file is checked whole before it is used. */
async function openState(opts: TpmServerOptions): Promise<OpenedState> {
  if (opts.stateDir !== undefined && opts.nvramFile !== undefined) {
    throw new RangeError('give either a state directory or an NVRAM file, not both');
  }
  if (opts.stateDir) return { store: new FileStateStore(opts.stateDir), close: async () => {} };
  if (opts.nvramFile === undefined) return { store: new MemoryStateStore(), close: async () => {} };
  const path = opts.nvramFile;
  let drive: FileDrive;
  try {
    drive = await FileDrive.open(path, STATE_DRIVE_SIZE);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    // FileDrive's own refusal names the file; Node's errors (EISDIR, EACCES...) get it in front.
    throw new NvramFileError(why.startsWith('NVRAM drive file') ? why : `NVRAM file ${path}: ${why}`, {
      cause: e,
    });
  }
  try {
    const store = await BlobStateStore.openDrive(TPM_NVRAM_DRIVE_ID, drive);
    return {
      store,
      async close() {
        await store.settled().catch(() => undefined); // a failure was answered already
        await drive.close();
      },
    };
  } catch (e) {
    await drive.close();
    if (!(e instanceof NvramError)) throw e;
    throw new NvramFileError(`NVRAM file ${path}: ${e.message}`, { cause: e });
  }
}

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

function isPortOrZero(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** Listens on 127.0.0.1:port; resolves with the port listened on (the system's pick for 0). */
function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: ${e.message}`) : e);
    };
    server.once('error', onError);
    server.listen({ port, host: TPM_SERVER_HOST, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
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
  const ctrlPort = opts.ctrlPort ?? port + 1;
  if (opts.ctrlPort === undefined ? !isValidPort(port) : !isPortOrZero(port) || !isPortOrZero(ctrlPort)) {
    throw new RangeError(
      opts.ctrlPort === undefined
        ? `port must be an integer in 1..65534, got ${port}`
        : `port and ctrlPort must be integers in 0..65535, got ${port} and ${ctrlPort}`,
    );
  }
  if (ctrlPort === port && port !== 0) throw new RangeError(`port and ctrlPort are both ${port}`);
  const seed = opts.seed ?? DEFAULT_SEED;
  const state = await openState(opts);
  let device: SwtpmDevice;
  try {
    device = new SwtpmDevice({
      seed,
      store: state.store,
      ...(opts.speed !== undefined && { speed: opts.speed }),
    });
    await device.ready();
  } catch (e) {
    await state.close();
    throw e;
  }

  // One request at a time, in arrival order, over all connections: the device is one swtpm process.
  let queue: Promise<void> = Promise.resolve();
  let failureReported = device.inFailureMode;
  const serially = (work: () => Promise<void>) => {
    queue = queue
      .then(work)
      .catch(() => undefined)
      .then(() => {
        if (device.inFailureMode && !failureReported) opts.onFailureMode?.(device.failureReason ?? '');
        failureReported = device.inFailureMode;
      });
  };

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
    })
      .then(() => queue)
      .then(() => state.close())
      .then(() => resolveStopped(reason));
    return closing;
  };

  const dataServer = net.createServer((socket) => {
    track(socket);
    onMessages(socket, tpmCommandLength, (command) =>
      serially(async () => {
        const { response } = await device.handleCommandDurable(command, { nowNs: nowNs() });
        if (response.length > 0 && !socket.destroyed) socket.write(response);
      }),
    );
  });

  const ctrlServer = net.createServer((socket) => {
    track(socket);
    let timer: NodeJS.Timeout | undefined;
    onMessages(
      socket,
      ctrlRequestLength,
      (request) =>
        serially(async () => {
          const before = device.engine.ctx.nowNs;
          const response = await device.handleControlDurable(request);
          const after = device.engine.ctx.nowNs;
          if (after !== before) anchor = { virtualNs: after, realNs: process.hrtime.bigint() };
          if (response.length > 0 && !socket.destroyed) socket.write(response);
          const cmd = new DataView(request.buffer, request.byteOffset, 4).getUint32(0);
          if (cmd === CMD.SHUTDOWN && device.terminated) void stop('shutdown');
        }),
      (waiting) => {
        clearTimeout(timer);
        timer = waiting ? setTimeout(() => socket.destroy(), CTRL_REQUEST_TIMEOUT_MS) : undefined;
      },
    );
    socket.on('close', () => clearTimeout(timer));
  });

  let ports: [number, number];
  try {
    ports = [await listen(dataServer, port), await listen(ctrlServer, ctrlPort)];
  } catch (e) {
    dataServer.close();
    ctrlServer.close();
    await state.close();
    throw e;
  }

  return {
    port: ports[0],
    ctrlPort: ports[1],
    seed,
    device,
    stopped,
    close: () => stop('closed'),
  };
}
