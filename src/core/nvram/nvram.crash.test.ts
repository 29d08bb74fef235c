// Crash in the middle: for any sequence of writes and erases and any point where the drive loses power,
// every blob read after reopening the drive is its last completed value or the one being written at the
// crash — never a mix of the two, never garbage.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CrashingDrive } from './crash-drive';
import { MemoryDrive } from './drive';
import { requiredDriveSize } from './layout';
import { Nvram } from './nvram';

const BLOBS = [
  { name: 'permanent', maxSize: 300 },
  { name: 'volatile', maxSize: 90 },
];
const DRIVE_SIZE = requiredDriveSize('crash', BLOBS);

type Op = { blob: number; erase: boolean; data: Uint8Array; wait: boolean };

const op: fc.Arbitrary<Op> = fc.integer({ min: 0, max: BLOBS.length - 1 }).chain((blob) =>
  fc.record({
    blob: fc.constant(blob),
    // One operation in five is an erase (swtpm deleting a state file).
    erase: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    data: fc.uint8Array({ maxLength: BLOBS[blob]!.maxSize }),
    wait: fc.boolean(),
  }),
);

function nvram(drive: MemoryDrive | CrashingDrive): Nvram {
  const n = Nvram.setup('crash', drive);
  for (const b of BLOBS) n.registerBlob(b.name, b.maxSize);
  return n;
}

async function issue(n: Nvram, ops: Op[]): Promise<PromiseSettledResult<void>[]> {
  // Issued all at once, as a TPM issues writes without waiting for earlier ones.
  return Promise.allSettled(
    ops.map((o) => {
      const name = BLOBS[o.blob]!.name;
      return o.erase ? n.erase(name, o) : n.write(name, o.data, o);
    }),
  );
}

async function bytesWrittenWithoutCrash(ops: Op[]): Promise<number> {
  const drive = new CrashingDrive(new MemoryDrive(DRIVE_SIZE), Infinity);
  const n = nvram(drive);
  await n.start();
  await issue(n, ops);
  return drive.bytesWritten;
}

const valueOf = (o: Op): Uint8Array | undefined => (o.erase ? undefined : o.data);

describe('a crash in the middle of a write', () => {
  it('leaves every blob at its last completed value or the value being written, never torn', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 10 }),
        // Where the crash falls, in thousandths of the bytes the whole run writes (above 1000: no crash).
        fc.integer({ min: 0, max: 1100 }),
        async (ops, crashAt) => {
          const budget = Math.floor((crashAt / 1000) * (await bytesWrittenWithoutCrash(ops)));
          const drive = new MemoryDrive(DRIVE_SIZE);
          const crashing = new CrashingDrive(drive, budget);
          const before = nvram(crashing);
          const startedBeforeCrash = await before.start().then(
            () => true,
            () => false,
          );
          const completed: (Uint8Array | undefined)[] = BLOBS.map(() => undefined);
          const inFlight: (Op | undefined)[] = BLOBS.map(() => undefined);
          if (startedBeforeCrash) {
            const outcomes = await issue(before, ops);
            const firstLost = outcomes.findIndex((r) => r.status === 'rejected');
            // Completions come in order: everything after the crash is lost.
            if (firstLost >= 0) {
              expect(outcomes.slice(firstLost).every((r) => r.status === 'rejected')).toBe(true);
              expect(crashing.crashed).toBe(true);
            }
            const done = firstLost < 0 ? ops : ops.slice(0, firstLost);
            for (const o of done) completed[o.blob] = valueOf(o);
            if (firstLost >= 0) inFlight[ops[firstLost]!.blob] = ops[firstLost];
          }

          const after = nvram(drive);
          await after.start();
          for (const [i, b] of BLOBS.entries()) {
            const read = await after.read(b.name);
            const allowed = [completed[i]];
            if (inFlight[i]) allowed.push(valueOf(inFlight[i]));
            expect(allowed).toContainEqual(read);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('torn writes', () => {
  it('start() names the write a crash cut short, and the value it kept instead', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const crashing = new CrashingDrive(drive);
    const before = nvram(crashing);
    await before.start();
    await before.write('permanent', new Uint8Array(200).fill(1), { wait: true });
    await before.write('permanent', new Uint8Array(200).fill(2), { wait: true });
    crashing.crashAfter(150); // the third write gets its header and part of its data onto the drive
    await expect(before.write('permanent', new Uint8Array(200).fill(3), { wait: true })).rejects.toThrow();

    const after = nvram(drive);
    await after.start();
    expect(await after.read('permanent')).toEqual(new Uint8Array(200).fill(2));
    expect(after.tornWrites).toEqual([{ name: 'permanent', slot: 'A', tornSequence: 3, usedSequence: 2 }]);
  });

  it('a clean history has none', async () => {
    const drive = new MemoryDrive(DRIVE_SIZE);
    const before = nvram(drive);
    await before.start();
    for (let i = 0; i < 5; i++) await before.write('volatile', Uint8Array.of(i), { wait: true });
    const after = nvram(drive);
    await after.start();
    expect(after.tornWrites).toEqual([]);
  });
});
