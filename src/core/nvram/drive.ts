// The storage under the NVRAM blobstore: a fixed-size block device, as the drive behind QEMU's
// `-tpmdev ...,nvram=DRIVE_ID` was in the 2011 blobstore design. Adapters only move bytes (memory here,
// IndexedDB in src/app/storage, a file in src/cli); the layout lives once, in layout.ts and nvram.ts.

/** A fixed-size, byte-addressed drive. A never-written byte reads as 0. */
export interface Drive {
  readonly sizeBytes: number;
  /** The bytes at [offset, offset + length): a fresh copy the caller may keep. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes the bytes at offset. They may sit in a cache until flush() (as a disk's write cache). */
  write(offset: number, bytes: Uint8Array): Promise<void>;
  /** Makes every write that completed before this call durable. */
  flush(): Promise<void>;
}

/** Refuses an access outside the drive, as a block layer refuses I/O beyond the device's end. */
export function checkDriveRange(drive: Drive, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(
      `drive access at offset ${offset}, length ${length}: both must be whole numbers ≥ 0`,
    );
  }
  if (offset + length > drive.sizeBytes) {
    throw new RangeError(
      `drive access [${offset}, ${offset + length}) goes past the end of the ${drive.sizeBytes}-byte drive`,
    );
  }
}

/** A drive in memory (tests, and a TPM whose NVRAM need not outlive the page). */
export class MemoryDrive implements Drive {
  readonly bytes: Uint8Array;

  constructor(sizeBytes: number) {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new RangeError(`a drive needs a whole, positive size in bytes, not ${sizeBytes}`);
    }
    this.bytes = new Uint8Array(sizeBytes);
  }

  get sizeBytes(): number {
    return this.bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkDriveRange(this, offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkDriveRange(this, offset, bytes.length);
    this.bytes.set(bytes, offset);
  }

  async flush(): Promise<void> {}
}
