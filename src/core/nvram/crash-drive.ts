// A drive that loses power after a given number of bytes: the fault injection behind the blobstore's
// crash tests (and the "torn NVRAM write" hazard). Bytes reach the inner drive in order, one write after
// another, as a drive without reordering would put them on the medium; the write that crosses the
// budget lands only its first bytes, and it and every later write or flush is refused. Reads still
// work: they show what hit the drive, as opening the drive again after the crash would.
import type { Drive } from './drive';

export class DriveCrashedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DriveCrashedError';
  }
}

export class CrashingDrive implements Drive {
  private written = 0;
  private crashedFlag = false;

  /** budgetBytes: how many bytes reach the drive before it crashes (Infinity: not until crashAfter). */
  constructor(
    readonly inner: Drive,
    private budgetBytes = Infinity,
  ) {}

  /** Arms the crash: this many more bytes reach the drive, then it crashes. */
  crashAfter(moreBytes: number): void {
    this.budgetBytes = this.written + moreBytes;
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  get crashed(): boolean {
    return this.crashedFlag;
  }

  /** Bytes that reached the inner drive. */
  get bytesWritten(): number {
    return this.written;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    if (this.crashedFlag) throw new DriveCrashedError('the drive crashed earlier; this write was lost');
    const room = this.budgetBytes - this.written;
    if (bytes.length <= room) {
      await this.inner.write(offset, bytes);
      this.written += bytes.length;
      return;
    }
    this.crashedFlag = true;
    if (room > 0) await this.inner.write(offset, bytes.subarray(0, room));
    this.written += Math.max(room, 0);
    throw new DriveCrashedError(
      `the drive crashed after ${Math.max(room, 0)} of this write's ${bytes.length} bytes`,
    );
  }

  async flush(): Promise<void> {
    if (this.crashedFlag) throw new DriveCrashedError('the drive crashed earlier; nothing to flush');
    await this.inner.flush();
  }
}
