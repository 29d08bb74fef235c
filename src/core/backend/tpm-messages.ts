// The message protocol between the simulation and the TPM Worker: swtpm's command/control split as
// structured-clone messages. Bytes travel as Uint8Array; every request carries an id its answer echoes.
//
// Compatibility: fields added since the first version are optional in both directions. An init without
// `nvram` gets the host's default (the browser Worker: IndexedDB); a client that does not know the
// `nvram` field of the ready answer simply ignores it.
import type { SwtpmDeviceOptions } from '../swtpm';

export type TpmWorkerOptions = Pick<SwtpmDeviceOptions, 'seed' | 'speed' | 'notNeedInit' | 'startupClear'> & {
  /**
   * Where the TPM keeps its permanent state. 'persistent' (default): on the host's drive (IndexedDB in
   * the browser), so an NV index or a persistent key survives a page reload. 'memory': a throw-away
   * TPM (tests, the simulator's machines).
   */
  nvram?: 'persistent' | 'memory';
  /** The persistent drive's name (the IndexedDB database); default DEFAULT_TPM_NVRAM_NAME. */
  nvramName?: string;
};

/** The IndexedDB database of the TPM's NVRAM when the init names none. */
export const DEFAULT_TPM_NVRAM_NAME = 'tislab-tpm-nvram';

/** Where the TPM's permanent state ended up, as the ready answer reports it. */
export type TpmNvramStatus =
  /** `tornWrites`: writes a crash cut short that the blobstore recovered from (describeTornWrite). */
  | { kind: 'persistent'; name: string; tornWrites?: string[] }
  /** `fallback`: why memory is used although a persistent drive was asked for (none, private mode...). */
  | { kind: 'memory'; fallback?: string };

export type TpmWorkerRequest =
  | { id: number; kind: 'init'; options: TpmWorkerOptions }
  | { id: number; kind: 'command'; bytes: Uint8Array; nowNs?: number }
  | { id: number; kind: 'control'; bytes: Uint8Array };

export type TpmWorkerResponse =
  | { id: number; kind: 'ready'; nvram?: TpmNvramStatus }
  | { id: number; kind: 'command'; bytes: Uint8Array; durationNs: number }
  | { id: number; kind: 'control'; bytes: Uint8Array }
  | { id: number; kind: 'error'; message: string };

/** The part of a MessagePort / Worker / worker_threads port both sides need. */
export interface MessageEndpoint {
  postMessage(message: unknown): void;
  /** Subscribes to incoming messages (already unwrapped from MessageEvent); returns an unsubscribe. */
  subscribe(listener: (message: unknown) => void): () => void;
}
