// The TPM Worker's persistent drive: an IndexedDbDrive (src/app/storage), held under a Web Lock so two
// pages of the same origin never run a TPM on the same NVRAM at once — as swtpm locks its state
// directory (the .lock file of swtpm_nvstore_dir.c) so that a second swtpm on it refuses to start.
import { IndexedDbDrive } from '../app/storage/indexeddb-drive';
import type { HostDrive } from '../core/backend/tpm-host';

/** The part of navigator.locks (the Web Locks API) this needs. */
export interface LockManagerLike {
  request(
    name: string,
    options: { ifAvailable: true },
    callback: (lock: unknown) => Promise<void> | void,
  ): Promise<unknown>;
}

export interface IndexedDbTpmDriveEnv {
  /** The IndexedDB to use; undefined where there is none. */
  factory: IDBFactory | undefined;
  /** navigator.locks; without it no lock is taken. */
  locks?: LockManagerLike | undefined;
}

/** The Worker's own environment; reading indexedDB can itself throw (a SecurityError in some modes). */
export function workerEnv(): IndexedDbTpmDriveEnv {
  let factory: IDBFactory | undefined;
  try {
    factory = typeof indexedDB === 'undefined' ? undefined : indexedDB;
  } catch {
    factory = undefined;
  }
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return { factory, locks: nav?.locks };
}

/** Opens IndexedDB database `name` as a drive of `sizeBytes`; rejects with a sentence saying why not. */
export async function openIndexedDbTpmDrive(
  name: string,
  sizeBytes: number,
  env: IndexedDbTpmDriveEnv,
): Promise<HostDrive> {
  if (!env.factory) throw new Error('IndexedDB is not available in this browser context');
  const release = env.locks ? await takeLock(env.locks, name) : () => {};
  try {
    const drive = await IndexedDbDrive.open({ name, sizeBytes, factory: env.factory });
    return {
      drive,
      close() {
        drive.close();
        release();
      },
    };
  } catch (e) {
    release();
    // IndexedDbDrive words its own refusals; a DOMException thrown by indexedDB.open itself is bare.
    if (e instanceof Error && e.message.startsWith('IndexedDB drive')) throw e;
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new Error(`IndexedDB refused to open the database "${name}" (${why.replace(/\.+$/, '')})`, {
      cause: e,
    });
  }
}

/** Holds the lock `tislab-nvram:NAME` until the returned function is called; rejects if it is taken. */
function takeLock(locks: LockManagerLike, name: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    locks
      .request(`tislab-nvram:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          reject(new Error(`another page is running a TPM on the NVRAM "${name}"`));
          return;
        }
        // The lock is held until this promise settles.
        return new Promise<void>((unlock) => resolve(() => unlock()));
      })
      .catch((e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
  });
}
