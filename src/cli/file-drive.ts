// The NVRAM drive as one file of the drive's size, for the Node CLI: what a raw image behind QEMU's
// `-drive file=nvram.img,format=raw,id=...` is. Positional reads and writes (pread/pwrite), flush is
// fsync. The file is created sparse at its full size, so an unused NVRAM costs no disk space.
import { open, type FileHandle } from 'node:fs/promises';
import { checkDriveRange, type Drive } from '../core/nvram';

export class FileDrive implements Drive {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly sizeBytes: number,
  ) {}

  /**
   * Opens the drive file, creating it (or sizing an empty one) when needed. A file of another size is
   * refused and left as it is: a drive never changes size under its blobstore.
   */
  static async open(path: string, sizeBytes: number): Promise<FileDrive> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new RangeError(`a drive needs a whole, positive size in bytes, not ${sizeBytes}`);
    }
    const handle = await openOrCreate(path);
    try {
      const { size } = await handle.stat();
      if (size === 0) {
        await handle.truncate(sizeBytes);
        await handle.sync();
      } else if (size !== sizeBytes) {
        throw new Error(
          `NVRAM drive file ${path} has ${size} bytes, expected ${sizeBytes}; it was left as it is. ` +
            `Use another file, or the settings the file was made with.`,
        );
      }
      return new FileDrive(path, handle, sizeBytes);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkDriveRange(this, offset, length);
    this.checkOpen();
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      // The file is sized at open; a short file (truncated behind our back) reads as zeros.
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return out;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkDriveRange(this, offset, bytes.length);
    this.checkOpen();
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.handle.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`NVRAM drive file ${this.path} is closed`);
  }
}

async function openOrCreate(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // 'wx': if another process created it meanwhile, fail rather than share a drive unknowingly.
    return open(path, 'wx+', 0o640);
  }
}
