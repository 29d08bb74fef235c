import { describe, expect, it } from 'vitest';
import { CrashingDrive } from './crash-drive';
import { MemoryDrive, type Drive } from './drive';
import { NvramError, type NvramErrorReason } from './errors';
import { requiredDriveSize } from './layout';
import { Nvram } from './nvram';

const BLOBS = [
  { name: 'tpm2-00.permall', maxSize: 4096 },
  { name: 'tpm2-00.volatilestate', maxSize: 1000 },
];
const DRIVE_SIZE = requiredDriveSize('tpm0', BLOBS);
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function nvram(drive: Drive, blobs = BLOBS, driveId = 'tpm0'): Nvram {
  const n = Nvram.setup(driveId, drive);
  for (const b of blobs) n.registerBlob(b.name, b.maxSize);
  return n;
}

async function started(drive: Drive, blobs = BLOBS, driveId = 'tpm0'): Promise<Nvram> {
  const n = nvram(drive, blobs, driveId);
  await n.start();
  return n;
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<NvramError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(NvramError);
    return e as NvramError;
  }
  throw new Error('expected an NvramError');
}

async function expectRefused(
  p: Promise<unknown> | (() => unknown),
  reason: NvramErrorReason,
  ...mentions: string[]
): Promise<void> {
  const e = await refusal(p);
  expect(e.reason).toBe(reason);
  for (const m of mentions) expect(e.message).toContain(m);
}

/** A drive whose flushes wait until the test lets them go. */
class GatedDrive extends MemoryDrive {
  gated = false;
  private gates: (() => void)[] = [];
  override flush(): Promise<void> {
    if (!this.gated) return Promise.resolve();
    return new Promise((resolve) => this.gates.push(resolve));
  }
  get waitingFlushes(): number {
    return this.gates.length;
  }
  release(): void {
    this.gates.shift()?.();
  }
}

/** Lets every pending promise callback run (the blobstore's queue is a promise chain). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('a new drive', () => {
  it('is formatted at start; blobs read as never written, then as written, also after reopening', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    expect(await n.read('tpm2-00.permall')).toBeUndefined();
    await n.write('tpm2-00.permall', bytes('seeds and NV indices'), { wait: true });
    expect(text(await n.read('tpm2-00.permall'))).toBe('seeds and NV indices');
    expect(await n.read('tpm2-00.volatilestate')).toBeUndefined();

    const again = await started(drive);
    expect(text(await again.read('tpm2-00.permall'))).toBe('seeds and NV indices');
    expect(again.stat('tpm2-00.permall')).toEqual({
      name: 'tpm2-00.permall',
      maxSize: 4096,
      length: 20,
      sequence: 1,
    });
  });

  it('matches blobs by name: registering them in another order opens the same drive', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    await n.write('tpm2-00.volatilestate', bytes('pcrs'));
    const reversed = await started(drive, [...BLOBS].reverse());
    expect(text(await reversed.read('tpm2-00.volatilestate'))).toBe('pcrs');
  });

  it('keeps an empty blob apart from one never written', async () => {
    const n = await started(new MemoryDrive(DRIVE_SIZE));
    await n.write('tpm2-00.permall', new Uint8Array(0));
    expect(await n.read('tpm2-00.permall')).toEqual(new Uint8Array(0));
    expect(n.stat('tpm2-00.permall').length).toBe(0);
  });

  it('copies what it is given: reusing the buffer after write() changes nothing stored', async () => {
    const n = await started(new MemoryDrive(DRIVE_SIZE));
    const buf = bytes('first');
    const done = n.write('tpm2-00.permall', buf);
    buf.fill(0x21);
    await done;
    expect(text(await n.read('tpm2-00.permall'))).toBe('first');
  });

  it('refuses a drive too small for the registered blobs, naming the size it needs', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE - 1);
    await expectRefused(nvram(drive).start(), 'too-small', `${DRIVE_SIZE} bytes`);
    expect(drive.bytes.every((b) => b === 0)).toBe(true);
  });

  it('formats again when a previous format was cut short before its magic was written', async () => {
    const whole = new CrashingDrive(new MemoryDrive(DRIVE_SIZE), Infinity);
    await nvram(whole).start();
    for (let budget = 0; budget < whole.bytesWritten; budget++) {
      const drive = new MemoryDrive(DRIVE_SIZE);
      const crashing = new CrashingDrive(drive, budget);
      await expectRefused(nvram(crashing).start(), 'io', 'formatting');
      const n = await started(drive);
      expect(await n.read('tpm2-00.permall')).toBeUndefined();
      await n.write('tpm2-00.permall', bytes('ok'));
      expect(text(await (await started(drive)).read('tpm2-00.permall'))).toBe('ok');
    }
  });
});

describe('start() on a drive that does not fit', () => {
  async function formatted(): Promise<MemoryDrive> {
    const drive = new MemoryDrive(DRIVE_SIZE + 4096);
    const n = await started(drive);
    await n.write('tpm2-00.permall', bytes('state'));
    return drive;
  }

  async function refusedUnchanged(
    drive: MemoryDrive,
    n: Nvram,
    reason: NvramErrorReason,
    ...mentions: string[]
  ): Promise<void> {
    const before = drive.bytes.slice();
    await expectRefused(n.start(), reason, ...mentions, 'left unchanged');
    expect(drive.bytes).toEqual(before);
    expect(n.started).toBe(false);
  }

  it('refuses a registered blob the directory lacks, naming it and listing what the drive has', async () => {
    const drive = await formatted();
    const n = nvram(drive, [...BLOBS, { name: 'ovmf-vars', maxSize: 100 }]);
    await refusedUnchanged(drive, n, 'mismatch', '"ovmf-vars"', '"tpm2-00.permall" (4096 bytes)');
  });

  it('refuses a blob on the drive that is not registered', async () => {
    const drive = await formatted();
    await refusedUnchanged(drive, nvram(drive, BLOBS.slice(0, 1)), 'mismatch', '"tpm2-00.volatilestate"');
  });

  it('refuses a blob registered with another maximum size, giving both sizes', async () => {
    const drive = await formatted();
    const n = nvram(drive, [BLOBS[0]!, { name: 'tpm2-00.volatilestate', maxSize: 2000 }]);
    await refusedUnchanged(drive, n, 'mismatch', '"tpm2-00.volatilestate"', '2000', '1000');
  });

  it('refuses a drive formatted under another drive id', async () => {
    const drive = await formatted();
    await refusedUnchanged(drive, nvram(drive, BLOBS, 'tpm1'), 'mismatch', '"tpm0"');
  });

  it('refuses a drive holding something else', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    drive.bytes.set(bytes('QFI\xfb qcow2 image'));
    await refusedUnchanged(drive, nvram(drive), 'foreign', '51 46 49');
  });

  it('refuses a damaged directory', async () => {
    const drive = await formatted();
    drive.bytes[40] = drive.bytes[40]! ^ 0x01;
    await refusedUnchanged(drive, nvram(drive), 'damaged', 'checksum');
  });

  it('refuses a newer format version', async () => {
    const drive = await formatted();
    drive.bytes[9] = 2;
    await refusedUnchanged(drive, nvram(drive), 'version', 'version 2');
  });

  it('can be retried after a refusal, with the registration fixed on a new setup', async () => {
    const drive = await formatted();
    await expectRefused(nvram(drive, BLOBS.slice(0, 1)).start(), 'mismatch');
    expect(text(await (await started(drive)).read('tpm2-00.permall'))).toBe('state');
  });
});

describe('writes', () => {
  it('refuses a write larger than maxSize at once and changes nothing', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    await n.write('tpm2-00.volatilestate', bytes('old'));
    const before = drive.bytes.slice();
    await expectRefused(
      () => n.write('tpm2-00.volatilestate', new Uint8Array(1001)),
      'too-large',
      '1001 bytes',
      'at most 1000',
    );
    expect(drive.bytes).toEqual(before);
    expect(n.stat('tpm2-00.volatilestate').sequence).toBe(1);
    expect(text(await n.read('tpm2-00.volatilestate'))).toBe('old');
    await n.write('tpm2-00.volatilestate', new Uint8Array(1000));
    expect((await n.read('tpm2-00.volatilestate'))?.length).toBe(1000);
  });

  it('take effect in the order issued, and a read sees every write issued before it', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    const done: string[] = [];
    const writes = ['a', 'bb', 'ccc', 'dddd', 'eeeee'].map((v) =>
      n.write('tpm2-00.permall', bytes(v)).then(() => done.push(v)),
    );
    const read = n.read('tpm2-00.permall');
    n.write('tpm2-00.permall', bytes('after the read'));
    expect(text(await read)).toBe('eeeee');
    await Promise.all(writes);
    expect(done).toEqual(['a', 'bb', 'ccc', 'dddd', 'eeeee']);
    await n.idle();
    expect(text(await (await started(drive)).read('tpm2-00.permall'))).toBe('after the read');
    expect(n.stat('tpm2-00.permall').sequence).toBe(6);
  });

  it('with wait: true complete only after the drive was flushed; without, once the bytes are written', async () => {
    const drive = new GatedDrive(DRIVE_SIZE);
    const n = await started(drive);
    drive.gated = true;
    let quick = false;
    let durable = false;
    void n.write('tpm2-00.permall', bytes('quick')).then(() => (quick = true));
    await settle();
    expect(quick).toBe(true);
    expect(drive.waitingFlushes).toBe(1);
    void n.write('tpm2-00.permall', bytes('durable'), { wait: true }).then(() => (durable = true));
    drive.release();
    await settle();
    expect(drive.waitingFlushes).toBe(1);
    expect(durable).toBe(false);
    drive.release();
    await settle();
    expect(durable).toBe(true);
  });

  it('erase makes a blob read as never written, also after reopening', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    await n.write('tpm2-00.volatilestate', bytes('pcrs'));
    await n.erase('tpm2-00.volatilestate');
    expect(await n.read('tpm2-00.volatilestate')).toBeUndefined();
    expect(n.stat('tpm2-00.volatilestate')).toMatchObject({ length: undefined, sequence: 2 });
    expect(await (await started(drive)).read('tpm2-00.volatilestate')).toBeUndefined();
  });

  it('torn in the middle leave the old value; cut exactly at their end, the new one', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    await (await started(drive)).write('tpm2-00.permall', bytes('old value'));
    const image = drive.bytes.slice();
    const slotBytes = 64 + 'new value!'.length;
    for (const [budget, expected] of [
      [0, 'old value'],
      [1, 'old value'],
      [40, 'old value'],
      [slotBytes - 1, 'old value'],
      [slotBytes, 'new value!'],
    ] as const) {
      drive.bytes.set(image);
      const crashing = new CrashingDrive(drive, budget);
      const n = await started(crashing);
      const outcome = await n.write('tpm2-00.permall', bytes('new value!')).then(
        () => 'completed',
        (e: NvramError) => e.reason,
      );
      expect(outcome).toBe(budget === slotBytes ? 'completed' : 'io');
      expect(text(await (await started(drive)).read('tpm2-00.permall'))).toBe(expected);
    }
  });

  it('report a failing drive on the write and once through idle(); later writes still work', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    let fail = true;
    const original = drive.write.bind(drive);
    drive.write = async (offset, b) => {
      if (fail) throw new Error('EIO: input/output error');
      return original(offset, b);
    };
    await expectRefused(
      n.write('tpm2-00.permall', bytes('lost')),
      'io',
      'writing blob "tpm2-00.permall"',
      'EIO',
    );
    await expectRefused(n.idle(), 'io', 'EIO');
    await n.idle();
    fail = false;
    await n.write('tpm2-00.permall', bytes('kept'));
    expect(text(await n.read('tpm2-00.permall'))).toBe('kept');
  });

  it('a read notices a value changed on the drive behind the NVRAM', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const n = await started(drive);
    await n.write('tpm2-00.permall', bytes('value'));
    const at = drive.bytes.indexOf(0x76 /* 'v' */, 512);
    drive.bytes[at] = 0x56;
    await expectRefused(n.read('tpm2-00.permall'), 'damaged', '"tpm2-00.permall"');
  });
});

describe('misuse', () => {
  it('is refused with the phase or the name', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    await expectRefused(() => Nvram.setup('', drive), 'usage', 'drive id');
    const n = nvram(drive);
    await expectRefused(() => n.read('tpm2-00.permall'), 'usage', 'before start()');
    await expectRefused(() => n.registerBlob('tpm2-00.permall', 10), 'usage', 'twice');
    await expectRefused(() => n.registerBlob('x', 0), 'usage', 'maxSize 0');
    await expectRefused(() => n.registerBlob('', 10), 'usage', 'blob name');
    await expectRefused(Nvram.setup('tpm0', drive).start(), 'usage', 'at least one blob');
    await n.start();
    await expectRefused(n.start(), 'usage', 'called again');
    await expectRefused(() => n.registerBlob('late', 10), 'usage', 'before start()');
    await expectRefused(() => n.write('nvram', bytes('x')), 'unknown-blob', '"nvram"', 'tpm2-00.permall');
  });
});
