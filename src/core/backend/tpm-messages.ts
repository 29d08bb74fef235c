// The message protocol between the simulation and the TPM Worker: swtpm's command/control split as
// structured-clone messages. Bytes travel as Uint8Array; every request carries an id its answer echoes.
import type { SwtpmDeviceOptions } from '../swtpm';

export type TpmWorkerOptions = Pick<SwtpmDeviceOptions, 'seed' | 'speed' | 'notNeedInit' | 'startupClear'>;

export type TpmWorkerRequest =
  | { id: number; kind: 'init'; options: TpmWorkerOptions }
  | { id: number; kind: 'command'; bytes: Uint8Array; nowNs?: number }
  | { id: number; kind: 'control'; bytes: Uint8Array };

export type TpmWorkerResponse =
  | { id: number; kind: 'ready' }
  | { id: number; kind: 'command'; bytes: Uint8Array; durationNs: number }
  | { id: number; kind: 'control'; bytes: Uint8Array }
  | { id: number; kind: 'error'; message: string };

/** The part of a MessagePort / Worker / worker_threads port both sides need. */
export interface MessageEndpoint {
  postMessage(message: unknown): void;
  /** Subscribes to incoming messages (already unwrapped from MessageEvent); returns an unsubscribe. */
  subscribe(listener: (message: unknown) => void): () => void;
}
