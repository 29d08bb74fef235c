// The NVRAM drive in the browser: the page's IndexedDB, so the TPM's permanent state survives a page
// reload. One database per drive; the drive is cut into fixed-size chunks, one record each, keyed by
// chunk number, and a chunk never written has no record and reads as zeros (an unused NVRAM costs no
// storage). Every write is one readwrite transaction over the chunks it touches, committed with
// durability "strict", so a write is whole or absent even if the tab dies, and flush() has nothing left
// to do. The layout (directory, A/B slots) is src/core/nvram's: this file only moves bytes.
import { checkDriveRange, type Drive } from '../../core/nvram';

const CHUNKS = 'chunks';
const META = 'meta';
const GEOMETRY_KEY = 'geometry';
const DB_VERSION = 1;
export const DEFAULT_CHUNK_SIZE = 4096;

export interface IndexedDbDriveOptions {
  /** The database's name; one database holds one drive. */
  name: string;
  sizeBytes: number;
  /** Bytes per record (default 4096, the NVRAM's sector size times 8). */
  chunkSize?: number;
  /** The IndexedDB to use (default: the page's). */
  factory?: IDBFactory;
}

interface Geometry {
  sizeBytes: number;
  chunkSize: number;
}

export class IndexedDbDrive implements Drive {
  private constructor(
    readonly name: string,
    private readonly db: IDBDatabase,
    readonly sizeBytes: number,
    readonly chunkSize: number,
  ) {}

  /**
   * Opens the drive's database, creating it when needed. A database made for another size or chunk
   * size is refused and left as it is.
   */
  static async open(opts: IndexedDbDriveOptions): Promise<IndexedDbDrive> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    for (const [what, v] of [
      ['size', opts.sizeBytes],
      ['chunk size', chunkSize],
    ] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw new RangeError(
          `IndexedDB drive "${opts.name}": the ${what} must be a whole number > 0, not ${v}`,
        );
      }
    }
    const factory = opts.factory ?? indexedDB;
    const db = await openDatabase(factory, opts.name);
    try {
      await checkGeometry(db, opts.name, { sizeBytes: opts.sizeBytes, chunkSize });
    } catch (e) {
      db.close();
      throw e;
    }
    return new IndexedDbDrive(opts.name, db, opts.sizeBytes, chunkSize);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkDriveRange(this, offset, length);
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const tx = this.db.transaction(CHUNKS, 'readonly');
    const chunks = tx.objectStore(CHUNKS);
    for (const span of this.spans(offset, length)) {
      const request = chunks.get(span.chunk);
      request.onsuccess = () => {
        const stored = request.result as Uint8Array | undefined;
        if (stored) out.set(stored.subarray(span.within, span.within + span.length), span.at);
      };
    }
    await completion(tx, `IndexedDB drive "${this.name}": reading ${length} bytes at ${offset}`);
    return out;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkDriveRange(this, offset, bytes.length);
    if (bytes.length === 0) return;
    const data = bytes.slice();
    const tx = this.db.transaction(CHUNKS, 'readwrite', { durability: 'strict' });
    const chunks = tx.objectStore(CHUNKS);
    for (const span of this.spans(offset, data.length)) {
      const part = data.subarray(span.at, span.at + span.length);
      if (span.length === this.chunkSize) {
        chunks.put(part.slice(), span.chunk);
        continue;
      }
      // A partial chunk: read it, patch it and put it back, all inside this one transaction.
      const request = chunks.get(span.chunk);
      request.onsuccess = () => {
        const chunk = (request.result as Uint8Array | undefined)?.slice() ?? new Uint8Array(this.chunkSize);
        chunk.set(part, span.within);
        chunks.put(chunk, span.chunk);
      };
    }
    await completion(tx, `IndexedDB drive "${this.name}": writing ${data.length} bytes at ${offset}`);
  }

  /** Every write committed with durability "strict" before it resolved: nothing is left to flush. */
  async flush(): Promise<void> {}

  /** Chunks holding data (a drive never written holds none). */
  storedChunks(): Promise<number> {
    const tx = this.db.transaction(CHUNKS, 'readonly');
    const request = tx.objectStore(CHUNKS).count();
    return completion(tx, `IndexedDB drive "${this.name}": counting chunks`).then(() => request.result);
  }

  close(): void {
    this.db.close();
  }

  /** The pieces of [offset, offset + length): chunk number, offset within the chunk and within the span. */
  private *spans(
    offset: number,
    length: number,
  ): Generator<{ chunk: number; within: number; at: number; length: number }> {
    let at = 0;
    while (at < length) {
      const pos = offset + at;
      const chunk = Math.floor(pos / this.chunkSize);
      const within = pos - chunk * this.chunkSize;
      const n = Math.min(this.chunkSize - within, length - at);
      yield { chunk, within, at, length: n };
      at += n;
    }
  }
}

function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(CHUNKS)) db.createObjectStore(CHUNKS);
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
    };
    request.onsuccess = () => {
      const db = request.result;
      // Another tab deleting or upgrading the database: let it; our next access then fails clearly.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () =>
      reject(new Error(`IndexedDB drive "${name}": cannot open its database: ${describe(request.error)}`));
    request.onblocked = () =>
      reject(
        new Error(`IndexedDB drive "${name}": its database is held open by another tab at an older version`),
      );
  });
}

/** Records the geometry of a new drive, or checks that of an existing one. */
function checkGeometry(db: IDBDatabase, name: string, wanted: Geometry): Promise<void> {
  const tx = db.transaction(META, 'readwrite', { durability: 'strict' });
  const meta = tx.objectStore(META);
  let refusal: Error | undefined;
  const request = meta.get(GEOMETRY_KEY);
  request.onsuccess = () => {
    const found = request.result as Geometry | undefined;
    if (found === undefined) {
      meta.put(wanted, GEOMETRY_KEY);
    } else if (found.sizeBytes !== wanted.sizeBytes || found.chunkSize !== wanted.chunkSize) {
      refusal = new Error(
        `IndexedDB drive "${name}" holds ${found.sizeBytes} bytes in chunks of ${found.chunkSize}; ` +
          `expected ${wanted.sizeBytes} in chunks of ${wanted.chunkSize}. It was left as it is: use ` +
          `another drive name, or the settings the drive was made with.`,
      );
    }
  };
  return completion(tx, `IndexedDB drive "${name}": reading its geometry`).then(() => {
    if (refusal) throw refusal;
  });
}

function completion(tx: IDBTransaction, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () =>
      reject(new Error(`${what} failed: ${describe(tx.error) || 'the transaction was aborted'}`));
  });
}

function describe(error: DOMException | null): string {
  return error ? `${error.name}: ${error.message}` : '';
}
