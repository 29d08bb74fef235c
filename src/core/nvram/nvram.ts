// The NVRAM blobstore of the 2011 qemu-devel thread "Design of the blobstore" (Stefan Berger, with
// Michael Tsirkin, Stefan Hajnoczi, Daniel Berrange): nvram_setup(drive_id) finds the drive, devices
// register their blobs with a maximum size, nvram_start() reconciles the registered blobs with the
// directory on the drive ("if everything fits together ... the NVRAM is ready to go"), reads happen
// rarely (at start), writes whenever the TPM changes its persistent state, asynchronously, with an
// option to wait for completion. The on-drive format is in layout.ts.
//
// Every operation runs through one FIFO queue, so operations take effect in the order they were issued:
// writes to a blob are ordered, and a read sees every write issued before it. A write is one drive
// write of the whole slot followed by a flush, and the next operation starts only after that flush: the
// slot holding the newest value is durable before the other slot is overwritten again.
import type { Drive } from './drive';
import { NvramError } from './errors';
import {
  DRIVE_MAGIC,
  DamagedHeader,
  FORMAT_VERSION,
  MAX_BLOB_SIZE,
  MAX_BLOBS,
  MAX_DRIVE_ID_BYTES,
  MAX_HEADER_SIZE,
  MAX_NAME_BYTES,
  SECTOR_SIZE,
  SLOT_FLAG_ERASED,
  SLOT_HEADER_SIZE,
  decodeHeader,
  decodeSlotHeader,
  encodeHeader,
  encodeSlot,
  planDirectory,
  probeHeader,
  slotMatches,
  slotOffset,
  utf8Length,
  type BlobSpec,
  type Directory,
  type DirectoryEntry,
  type Slot,
} from './layout';

export interface WriteOptions {
  /**
   * false (default): the completion resolves once the bytes are on the drive (possibly in its cache).
   * true: it resolves only after the drive was flushed: the value then survives a crash.
   */
  wait?: boolean;
}

/** What the NVRAM knows about a blob without reading it. */
export interface BlobStat {
  name: string;
  maxSize: number;
  /** Bytes in the newest value; undefined when the blob was never written or was erased. */
  length: number | undefined;
  /** The newest value's sequence number: how many writes and erases the blob has had; 0 for none. */
  sequence: number;
}

/**
 * A write that a crash (or a cut of the drive) interrupted, found by start(): the slot it was going to
 * has the slot magic but does not check out. The blob's value is the one before (`usedSequence`), or
 * none when that write was its first.
 */
export interface TornWrite {
  name: string;
  slot: 'A' | 'B';
  /** The sequence number the torn slot's header announces, when its header survived. */
  tornSequence: number | null;
  /** The sequence of the value start() found instead, or null when the blob has no valid value. */
  usedSequence: number | null;
}

/** One line a person reads: what a torn write cost and what the blobstore kept. */
export function describeTornWrite(t: TornWrite): string {
  const kept =
    t.usedSequence === null
      ? 'the blob has no earlier value, so it reads as never written'
      : `the value written before it (sequence ${t.usedSequence}) is used`;
  const which = t.tornSequence === null ? 'a write' : `write ${t.tornSequence}`;
  return `torn NVRAM write: ${which} of blob "${t.name}" (slot ${t.slot}) was cut short (a crash?); ${kept}`;
}

interface Newest {
  slot: Slot;
  sequence: number;
  length: number;
  erased: boolean;
}

interface BlobState {
  entry: DirectoryEntry;
  newest: Newest | undefined;
}

type Phase = 'setup' | 'starting' | 'started';

const NOTHING_CHANGED = 'The drive was left unchanged.';

export class Nvram {
  private phase: Phase = 'setup';
  private readonly torn: TornWrite[] = [];
  private readonly specs: BlobSpec[] = [];
  private readonly blobs = new Map<string, BlobState>();
  private tail: Promise<void> = Promise.resolve();
  private unreported: NvramError | undefined;

  private constructor(
    readonly driveId: string,
    readonly drive: Drive,
  ) {}

  /**
   * nvram_setup: an NVRAM on `drive`, known to the machine as `driveId`. The id is written into the
   * drive's header when it is formatted, and a drive formatted under another id is refused at start.
   */
  static setup(driveId: string, drive: Drive): Nvram {
    const n = typeof driveId === 'string' ? utf8Length(driveId) : 0;
    if (n === 0 || n > MAX_DRIVE_ID_BYTES) {
      throw new NvramError(
        'usage',
        `NVRAM drive id ${JSON.stringify(driveId)}: expected 1 to ${MAX_DRIVE_ID_BYTES} bytes of UTF-8`,
      );
    }
    return new Nvram(driveId, drive);
  }

  get started(): boolean {
    return this.phase === 'started';
  }

  /** The registered blobs, in registration order. */
  names(): string[] {
    return this.specs.map((s) => s.name);
  }

  /** Registers a blob of at most maxSize bytes. Only before start(). */
  registerBlob(name: string, maxSize: number): void {
    if (this.phase !== 'setup') this.usage(`blob "${name}" must be registered before start()`);
    const n = typeof name === 'string' ? utf8Length(name) : 0;
    if (n === 0 || n > MAX_NAME_BYTES) {
      this.usage(`blob name ${JSON.stringify(name)}: expected 1 to ${MAX_NAME_BYTES} bytes of UTF-8`);
    }
    if (this.specs.some((s) => s.name === name)) this.usage(`blob "${name}" is registered twice`);
    if (!Number.isSafeInteger(maxSize) || maxSize < 1 || maxSize > MAX_BLOB_SIZE) {
      this.usage(`blob "${name}": maxSize ${maxSize} is not a whole number from 1 to ${MAX_BLOB_SIZE}`);
    }
    if (this.specs.length >= MAX_BLOBS) this.usage(`blob "${name}": at most ${MAX_BLOBS} blobs fit a drive`);
    this.specs.push({ name, maxSize });
  }

  /**
   * nvram_start: formats an empty drive for the registered blobs, or checks that the drive's directory
   * holds exactly the registered blobs (by name, in any order) with the same maximum sizes, and finds
   * each blob's newest valid value. Any mismatch is refused with an NvramError naming the blob, and
   * leaves the drive unchanged.
   */
  async start(): Promise<void> {
    if (this.phase !== 'setup') this.usage('start() was called again');
    if (this.specs.length === 0) this.usage('register at least one blob before start()');
    this.phase = 'starting';
    try {
      const dir = await this.openDirectory();
      for (const entry of dir.entries) {
        this.blobs.set(entry.name, { entry, newest: await this.findNewest(entry) });
      }
      for (const t of this.torn) t.usedSequence = this.blobs.get(t.name)?.newest?.sequence ?? null;
      this.phase = 'started';
    } catch (e) {
      this.blobs.clear();
      this.torn.length = 0;
      this.phase = 'setup';
      throw e;
    }
  }

  /**
   * The interrupted writes start() found (the blobstore kept the previous values): what a host crash in
   * the middle of a write left. Empty after a clean shutdown.
   */
  get tornWrites(): readonly TornWrite[] {
    return this.torn;
  }

  /** The blob's newest value (a copy), or undefined when it was never written or was erased. */
  read(name: string): Promise<Uint8Array | undefined> {
    const blob = this.blob(name);
    return this.enqueue(() => this.readNewest(blob));
  }

  /**
   * nvram_write_data: replaces the blob's value. Returns the completion (see WriteOptions). The bytes are
   * copied at once. Throws at once, writing nothing, when the NVRAM is not started, the blob is unknown
   * or the bytes exceed its maxSize.
   */
  write(name: string, bytes: Uint8Array, opts: WriteOptions = {}): Promise<void> {
    const blob = this.blob(name);
    if (bytes.length > blob.entry.maxSize) {
      throw new NvramError(
        'too-large',
        `NVRAM drive "${this.driveId}": ${bytes.length} bytes do not fit blob "${name}", which holds at ` +
          `most ${blob.entry.maxSize}. Nothing was written; register the blob with a larger maxSize ` +
          `(on a new drive) or write less.`,
      );
    }
    return this.enqueueWrite(blob, bytes.slice(), 0, opts.wait ?? false);
  }

  /** Makes the blob read as never written (swtpm deleting a state file), with the same guarantees. */
  erase(name: string, opts: WriteOptions = {}): Promise<void> {
    return this.enqueueWrite(this.blob(name), new Uint8Array(0), SLOT_FLAG_ERASED, opts.wait ?? false);
  }

  stat(name: string): BlobStat {
    const { entry, newest } = this.blob(name);
    return {
      name,
      maxSize: entry.maxSize,
      length: newest && !newest.erased ? newest.length : undefined,
      sequence: newest?.sequence ?? 0,
    };
  }

  /**
   * Resolves once every operation issued before this call has finished, flush included. Rejects with
   * the first write or erase failure since the previous idle(), even one its own completion reported
   * (or could not: a failed flush after a write that did not wait), so a caller can use it as a barrier.
   */
  async idle(): Promise<void> {
    await this.tail;
    const failure = this.unreported;
    this.unreported = undefined;
    if (failure) throw failure;
  }

  // ---- start -----------------------------------------------------------------------------------

  private async openDirectory(): Promise<Directory> {
    const planned = planDirectory(this.driveId, this.specs);
    const first = await this.io('reading the header', () =>
      this.drive.read(0, Math.min(SECTOR_SIZE, this.drive.sizeBytes)),
    );
    const probe = probeHeader(first);
    if (probe.kind === 'empty') {
      await this.format(planned);
      return planned;
    }
    if (probe.kind === 'foreign') {
      throw new NvramError(
        'foreign',
        `NVRAM drive "${this.driveId}" does not hold an NVRAM of ours (its first bytes are ` +
          `${hex(probe.magic)}, expected "TISNVRAM" or zeros). ${NOTHING_CHANGED} Give this NVRAM an ` +
          `empty drive.`,
      );
    }
    if (first.length < SECTOR_SIZE) this.damaged('it is too small to hold its own header');
    if (probe.version !== FORMAT_VERSION) {
      throw new NvramError(
        'version',
        `NVRAM drive "${this.driveId}" has format version ${probe.version}; this simulator reads version ` +
          `${FORMAT_VERSION}. ${NOTHING_CHANGED}`,
      );
    }
    const length = probe.headerLength;
    if (length > MAX_HEADER_SIZE || length > this.drive.sizeBytes) {
      this.damaged(`its header claims ${length} bytes, more than a header can have`);
    }
    const header = length <= first.length ? first.subarray(0, length) : await this.readHeader(length);
    let dir: Directory;
    try {
      dir = decodeHeader(header);
    } catch (e) {
      if (e instanceof DamagedHeader) this.damaged(`its directory is damaged: ${e.message}`);
      throw e;
    }
    if (dir.sizeBytes > this.drive.sizeBytes) {
      this.damaged(
        `its directory describes ${dir.sizeBytes} bytes, but the drive has ${this.drive.sizeBytes}`,
      );
    }
    this.reconcile(dir);
    return dir;
  }

  private readHeader(length: number): Promise<Uint8Array> {
    return this.io('reading the header', () => this.drive.read(0, length));
  }

  /** The drive's directory must hold exactly the registered blobs, and under this drive id. */
  private reconcile(dir: Directory): void {
    const mismatch = (what: string): never => {
      throw new NvramError(
        'mismatch',
        `NVRAM drive "${this.driveId}": ${what}. ${NOTHING_CHANGED} Register the blobs the drive was ` +
          `formatted with, or give this NVRAM a new drive.`,
      );
    };
    if (dir.driveId !== this.driveId) {
      mismatch(`the drive was formatted as NVRAM drive "${dir.driveId}"`);
    }
    const onDrive = new Map(dir.entries.map((e) => [e.name, e]));
    const listing = dir.entries.map((e) => `"${e.name}" (${e.maxSize} bytes)`).join(', ');
    for (const spec of this.specs) {
      const entry = onDrive.get(spec.name);
      if (!entry) {
        mismatch(
          `blob "${spec.name}" is registered but not in the drive's directory, which holds ${listing}`,
        );
      } else if (entry.maxSize !== spec.maxSize) {
        mismatch(
          `blob "${spec.name}" is registered with at most ${spec.maxSize} bytes, but the drive holds it ` +
            `with at most ${entry.maxSize}`,
        );
      }
    }
    const registered = new Set(this.specs.map((s) => s.name));
    for (const entry of dir.entries) {
      if (!registered.has(entry.name)) {
        mismatch(
          `the drive's directory holds blob "${entry.name}" (${entry.maxSize} bytes), which is not registered`,
        );
      }
    }
  }

  /**
   * Clears every slot header, writes the directory, and only then the magic: a format cut short leaves
   * a drive that still reads as empty.
   */
  private async format(dir: Directory): Promise<void> {
    if (dir.sizeBytes > this.drive.sizeBytes) {
      throw new NvramError(
        'too-small',
        `NVRAM drive "${this.driveId}" has ${this.drive.sizeBytes} bytes; the registered blobs need ` +
          `${dir.sizeBytes}. ${NOTHING_CHANGED} Give it a drive of at least ${dir.sizeBytes} bytes.`,
      );
    }
    const header = encodeHeader(dir);
    const cleared = new Uint8Array(SLOT_HEADER_SIZE);
    await this.io('formatting', async () => {
      for (const entry of dir.entries) {
        for (const slot of [0, 1] as const) await this.drive.write(slotOffset(entry, slot), cleared);
      }
      await this.drive.write(DRIVE_MAGIC.length, header.subarray(DRIVE_MAGIC.length));
      await this.drive.flush();
      await this.drive.write(0, header.subarray(0, DRIVE_MAGIC.length));
      await this.drive.flush();
    });
  }

  /** The valid slot with the highest sequence number; a torn or foreign slot does not count. */
  private async findNewest(entry: DirectoryEntry): Promise<Newest | undefined> {
    let newest: Newest | undefined;
    for (const slot of [0, 1] as const) {
      const at = slotOffset(entry, slot);
      const header = decodeSlotHeader(
        await this.io(`reading blob "${entry.name}"`, () => this.drive.read(at, SLOT_HEADER_SIZE)),
      );
      // A slot with the magic that does not check out is a write cut short (a blank slot has no magic).
      const torn = () =>
        this.torn.push({
          name: entry.name,
          slot: slot === 0 ? 'A' : 'B',
          tornSequence: null,
          usedSequence: null,
        });
      if (!header) continue;
      if (header.length > entry.maxSize) {
        torn();
        continue;
      }
      const erased = header.flags === SLOT_FLAG_ERASED;
      if ((header.flags !== 0 && !erased) || (erased && header.length !== 0)) {
        torn();
        continue;
      }
      const data = await this.io(`reading blob "${entry.name}"`, () =>
        this.drive.read(at + SLOT_HEADER_SIZE, header.length),
      );
      if (!slotMatches(entry.name, header, data)) {
        torn();
        this.torn[this.torn.length - 1]!.tornSequence = header.sequence;
        continue;
      }
      if (!newest || header.sequence > newest.sequence) {
        newest = { slot, sequence: header.sequence, length: header.length, erased };
      }
    }
    return newest;
  }

  // ---- reads and writes ------------------------------------------------------------------------

  private async readNewest(blob: BlobState): Promise<Uint8Array | undefined> {
    const newest = blob.newest;
    if (!newest || newest.erased) return undefined;
    const name = blob.entry.name;
    const bytes = await this.io(`reading blob "${name}"`, () =>
      this.drive.read(slotOffset(blob.entry, newest.slot), SLOT_HEADER_SIZE + newest.length),
    );
    const header = decodeSlotHeader(bytes);
    const data = bytes.subarray(SLOT_HEADER_SIZE);
    if (!header || header.sequence !== newest.sequence || !slotMatches(name, header, data)) {
      this.damaged(
        `blob "${name}" changed on the drive behind the NVRAM's back (slot ${'AB'[newest.slot]}, ` +
          `sequence ${newest.sequence} no longer checks out)`,
      );
    }
    return data.slice();
  }

  /** The write goes to the slot that does not hold the newest value, with the next sequence number. */
  private enqueueWrite(blob: BlobState, data: Uint8Array, flags: number, wait: boolean): Promise<void> {
    const name = blob.entry.name;
    return new Promise<void>((resolve, reject) => {
      void this.enqueue(async () => {
        const previous = blob.newest;
        const slot: Slot = previous ? (previous.slot === 0 ? 1 : 0) : 0;
        const sequence = (previous?.sequence ?? 0) + 1;
        const bytes = encodeSlot(name, sequence, flags, data);
        const what = `${flags & SLOT_FLAG_ERASED ? 'erasing' : 'writing'} blob "${name}"`;
        try {
          await this.io(what, () => this.drive.write(slotOffset(blob.entry, slot), bytes));
        } catch (e) {
          reject(this.note(e));
          return;
        }
        blob.newest = { slot, sequence, length: data.length, erased: flags !== 0 };
        if (!wait) resolve();
        try {
          await this.io(`flushing after ${what}`, () => this.drive.flush());
        } catch (e) {
          reject(this.note(e));
          return;
        }
        resolve();
      });
    });
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private blob(name: string): BlobState {
    if (this.phase !== 'started') {
      this.usage(`blob "${name}" cannot be used before start() has finished`);
    }
    const blob = this.blobs.get(name);
    if (!blob) {
      throw new NvramError(
        'unknown-blob',
        `NVRAM drive "${this.driveId}" has no blob "${name}"; registered: ${this.names().join(', ')}`,
      );
    }
    return blob;
  }

  /** Runs a drive operation; a failure becomes an NvramError saying what the NVRAM was doing. */
  private async io<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (e instanceof NvramError) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new NvramError('io', `NVRAM drive "${this.driveId}": ${what} failed: ${why}`, { cause: e });
    }
  }

  private note(e: unknown): NvramError {
    const err =
      e instanceof NvramError ? e : new NvramError('io', `NVRAM drive "${this.driveId}": ${String(e)}`);
    this.unreported ??= err;
    return err;
  }

  private usage(what: string): never {
    throw new NvramError('usage', `NVRAM drive "${this.driveId}": ${what}`);
  }

  private damaged(what: string): never {
    throw new NvramError('damaged', `NVRAM drive "${this.driveId}" is damaged: ${what}. ${NOTHING_CHANGED}`);
  }
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}
