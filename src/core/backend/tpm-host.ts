// The Worker side: hosts one SwtpmDevice behind a MessageEndpoint (as swtpm is its own process behind
// its sockets). src/workers/tpm.worker.ts calls this with the Worker's global scope and an IndexedDB
// drive opener, so the TPM's permanent state survives a page reload.
//
// Requests are handled one after another in arrival order (an init opens its drive asynchronously, and
// a command's answer waits until the state it wrote is on the drive, as swtpm's SWTPM_NVRAM_StoreData
// writes before the response goes out). A persistent drive that cannot be had (no IndexedDB, private
// mode, a database another tab holds, an NVRAM that does not check out) is not a crash: the TPM keeps
// its state in memory and the ready answer says why.
import { describeTornWrite, type Drive } from '../nvram';
import { SwtpmDevice, type SwtpmDeviceOptions } from '../swtpm';
import { BlobStateStore, STATE_DRIVE_SIZE } from '../swtpm/blob-state-store';
import { MemoryStateStore, type StateStore } from '../swtpm/nvstore';
import {
  DEFAULT_TPM_NVRAM_NAME,
  type MessageEndpoint,
  type TpmNvramStatus,
  type TpmWorkerOptions,
  type TpmWorkerRequest,
  type TpmWorkerResponse,
} from './tpm-messages';

/**
 * The NVRAM drive id of the TPM's state (QEMU's `-tpmdev ...,nvram=ID`): the same in the Worker and in
 * `tislab tpm-server --nvram`, so a drive image holds the same layout wherever it was made.
 */
export const TPM_NVRAM_DRIVE_ID = 'tpm0-nvram';

/** A drive the host opened for the TPM; close() lets go of it (so another page can have it). */
export interface HostDrive {
  drive: Drive;
  close(): void | Promise<void>;
}

export interface TpmHostOptions {
  /**
   * Opens the persistent drive `name` of `sizeBytes` bytes; rejects, saying why, when it cannot.
   * Absent: this host has no persistent storage and every TPM keeps its state in memory.
   */
  openDrive?: (name: string, sizeBytes: number) => Promise<HostDrive>;
}

interface Hosted {
  device: SwtpmDevice;
  status: TpmNvramStatus;
  close(): Promise<void>;
}

function isRequest(m: unknown): m is TpmWorkerRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as { id?: unknown; kind?: unknown };
  return typeof r.id === 'number' && (r.kind === 'init' || r.kind === 'command' || r.kind === 'control');
}

/**
 * Serves TPM requests on the endpoint. Returns a function that stops serving; its promise resolves once
 * the requests already received are answered and the drive is let go of.
 */
export function serveTpm(endpoint: MessageEndpoint, host: TpmHostOptions = {}): () => Promise<void> {
  let hosted: Hosted | undefined;
  let queue: Promise<void> = Promise.resolve();
  const reply = (r: TpmWorkerResponse) => endpoint.postMessage(r);

  const handle = async (message: unknown): Promise<void> => {
    if (!isRequest(message)) {
      reply({ id: -1, kind: 'error', message: 'the TPM worker received a message it does not understand' });
      return;
    }
    try {
      if (message.kind === 'init') {
        await hosted?.close();
        hosted = undefined;
        hosted = await hostDevice(message.options, host);
        reply({ id: message.id, kind: 'ready', nvram: hosted.status });
        return;
      }
      const device = hosted?.device;
      if (!device) {
        reply({
          id: message.id,
          kind: 'error',
          message: 'the TPM worker has no device yet: send init first',
        });
        return;
      }
      if (!(message.bytes instanceof Uint8Array)) {
        reply({ id: message.id, kind: 'error', message: `${message.kind} needs bytes as a Uint8Array` });
        return;
      }
      if (message.kind === 'command') {
        const r = await device.handleCommandDurable(
          message.bytes,
          message.nowNs === undefined ? {} : { nowNs: message.nowNs },
        );
        reply({ id: message.id, kind: 'command', bytes: r.response, durationNs: r.durationNs });
      } else {
        reply({ id: message.id, kind: 'control', bytes: await device.handleControlDurable(message.bytes) });
      }
    } catch (e) {
      reply({ id: message.id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  };

  const unsubscribe = endpoint.subscribe((message) => {
    // A reply that cannot be posted (the port is gone) must not stop the requests after it.
    queue = queue.then(() => handle(message)).catch(() => undefined);
  });
  return () => {
    unsubscribe();
    queue = queue.then(async () => {
      await hosted?.close();
      hosted = undefined;
    });
    return queue;
  };
}

/** The device an init asks for, on the drive it asks for or in memory. */
async function hostDevice(options: TpmWorkerOptions, host: TpmHostOptions): Promise<Hosted> {
  const nvram = options.nvram ?? 'persistent';
  if (nvram !== 'persistent' && nvram !== 'memory') {
    throw new Error(`init: nvram must be 'persistent' or 'memory', not ${JSON.stringify(nvram)}`);
  }
  const name = options.nvramName ?? DEFAULT_TPM_NVRAM_NAME;
  if (typeof name !== 'string' || name === '') {
    throw new Error(`init: nvramName must be a non-empty string, not ${JSON.stringify(name)}`);
  }
  const state =
    nvram === 'memory'
      ? { store: new MemoryStateStore(), status: { kind: 'memory' } as const, close: async () => {} }
      : await openPersistent(name, host);
  try {
    const device = new SwtpmDevice({ ...deviceOptions(options), store: state.store });
    await device.ready();
    return { device, status: state.status, close: state.close };
  } catch (e) {
    await state.close();
    throw e;
  }
}

function deviceOptions(o: TpmWorkerOptions): SwtpmDeviceOptions {
  const out: SwtpmDeviceOptions = { seed: o.seed };
  if (o.speed !== undefined) out.speed = o.speed;
  if (o.notNeedInit !== undefined) out.notNeedInit = o.notNeedInit;
  if (o.startupClear !== undefined) out.startupClear = o.startupClear;
  return out;
}

interface OpenedState {
  store: StateStore;
  status: TpmNvramStatus;
  close(): Promise<void>;
}

/** The host's drive with the state blobs on it; memory, with the reason, when that cannot be had. */
async function openPersistent(name: string, host: TpmHostOptions): Promise<OpenedState> {
  const inMemory = (why: string): OpenedState => ({
    store: new MemoryStateStore(),
    status: {
      kind: 'memory',
      fallback: `${why.replace(/\.+$/, '')}. The TPM keeps its state in memory and forgets it when the page goes.`,
    },
    close: async () => {},
  });
  if (!host.openDrive) return inMemory('this TPM host has no persistent storage');
  let opened: HostDrive;
  try {
    opened = await host.openDrive(name, STATE_DRIVE_SIZE);
  } catch (e) {
    return inMemory(e instanceof Error ? e.message : String(e));
  }
  try {
    const store = await BlobStateStore.openDrive(TPM_NVRAM_DRIVE_ID, opened.drive);
    return {
      store,
      status: {
        kind: 'persistent',
        name,
        ...(store.nvram.tornWrites.length > 0 && {
          tornWrites: store.nvram.tornWrites.map(describeTornWrite),
        }),
      },
      async close() {
        await store.settled().catch(() => undefined); // a failed write was answered already
        await opened.close();
      },
    };
  } catch (e) {
    // The blobstore refused the drive and left it as it was (damaged, foreign, other blobs).
    await opened.close();
    return inMemory(e instanceof Error ? e.message : String(e));
  }
}
