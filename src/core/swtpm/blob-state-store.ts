// swtpm's state files kept on the NVRAM blobstore (src/core/nvram) instead of a directory: one blob
// per file name of the dir backend (STATE_FILE), so SwtpmDevice's permanent state survives on a drive
// (IndexedDB in the browser, a file in the CLI), and a crash while it is being saved leaves the old or
// the new state, never half of one.
//
// StateStore is synchronous (swtpm's SWTPM_NVRAM_StoreData returns when the file is written; libtpms
// calls it in the middle of a command), the blobstore is not: the store keeps every file in a cache,
// filled once when it opens, so load() answers at once, and save()/delete() update the cache and issue
// the blob write, waiting for flush. settled() is how a caller waits for those writes (before a
// "restart", a page unload, or a migration that takes the drive along).
import { Nvram, requiredDriveSize, type BlobSpec, type Drive } from '../nvram';
import { STATE_FILE, type StateStore } from './nvstore';

/**
 * Maximum sizes of the state files (libtpms blob plus swtpm's 16-byte wrapping). Permanent state grows
 * with NV indices: the engine's NV budget (NV_INDEX_SPACE, 152932 bytes, src/core/tpm2/commands/nv.ts)
 * filled in the most expensive way for our JSON blob (997 empty indices with 48-byte policies and
 * auth values, or 69 indices of 2048 bytes) gives about 310 KB, so 512 KiB leaves room. Volatile state
 * holds PCRs, three loaded objects, sessions and hash sequences, whose data the engine keeps whole:
 * about 6 KB fresh, 1 MiB allows long sequences. A TPM 2.0 writes no save-state file (swtpm answers
 * GET_STATEBLOB SAVESTATE with TPM_RETRY); the blob is registered so the drive holds swtpm's file set.
 */
export const STATE_BLOBS: readonly BlobSpec[] = [
  { name: STATE_FILE.permanent, maxSize: 512 * 1024 },
  { name: STATE_FILE.volatile, maxSize: 1024 * 1024 },
  { name: STATE_FILE.savestate, maxSize: 16 * 1024 },
];

/**
 * The size of a drive for the state blobs. (Any drive id fits: the header of three blobs stays within
 * its first sector.)
 */
export const STATE_DRIVE_SIZE = requiredDriveSize('x'.repeat(64), STATE_BLOBS);

/** Registers the state blobs on an NVRAM that is set up but not started. */
export function registerStateBlobs(nvram: Nvram): void {
  for (const b of STATE_BLOBS) nvram.registerBlob(b.name, b.maxSize);
}

export class BlobStateStore implements StateStore {
  private readonly outstanding = new Set<Promise<void>>();
  private failure: unknown;

  private constructor(
    readonly nvram: Nvram,
    private readonly files: Map<string, Uint8Array>,
  ) {}

  /** Opens the store on a started NVRAM that has the state blobs, reading every file into the cache. */
  static async open(nvram: Nvram): Promise<BlobStateStore> {
    const files = new Map<string, Uint8Array>();
    for (const name of nvram.names()) {
      const bytes = await nvram.read(name);
      if (bytes !== undefined) files.set(name, bytes);
    }
    return new BlobStateStore(nvram, files);
  }

  /**
   * nvram_setup + registration + nvram_start + open, on a drive known as driveId: formats an empty drive,
   * and refuses (NvramError) one formatted for other blobs or under another id.
   */
  static async openDrive(driveId: string, drive: Drive): Promise<BlobStateStore> {
    const nvram = Nvram.setup(driveId, drive);
    registerStateBlobs(nvram);
    await nvram.start();
    return BlobStateStore.open(nvram);
  }

  load(name: string): Uint8Array | undefined {
    return this.files.get(name)?.slice();
  }

  /**
   * Keeps a copy and writes it to the blob. Throws (NvramError), changing nothing, for a name that is
   * not a state blob or bytes over its maximum size.
   */
  save(name: string, bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.track(this.nvram.write(name, copy, { wait: true }));
    this.files.set(name, copy);
  }

  delete(name: string): void {
    // swtpm unlinks the volatile file after every INIT and GET_STATEBLOB; no file, nothing to write.
    if (!this.files.has(name)) return;
    this.track(this.nvram.erase(name, { wait: true }));
    this.files.delete(name);
  }

  /** Writes issued and not yet flushed to the drive. */
  get pendingWrites(): number {
    return this.outstanding.size;
  }

  /**
   * Resolves once every save and delete issued so far is on the drive and flushed. Rejects with the
   * first one that failed since the last settled() (the cache then holds state the drive does not).
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.outstanding]);
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
  }

  private track(write: Promise<void>): void {
    this.outstanding.add(write);
    write.then(
      () => this.outstanding.delete(write),
      (e: unknown) => {
        this.outstanding.delete(write);
        this.failure ??= e;
      },
    );
  }
}
