// Our TIS model against QEMU's own (Debian's qemu-system-x86 7.2 with swtpm, driven by qtest): the same
// MMIO accesses must read the same values. scripts/ensure-test-tools.mjs installs both packages.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCommand } from '../core/tpm2/build';
import { CC } from '../core/tpm2/constants';
import { TIS_ADDR_BASE } from '../core/tis/registers';
import { createTisRig, type TisRig } from '../core/vm/tis-rig';
import { QemuTis } from './qemu-qtest';

type Access =
  { op: 'r'; addr: number; size: 1 | 2 | 4 } | { op: 'w'; addr: number; size: 1 | 2 | 4; value: number };

const OFFSETS = [0x00, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x19, 0x1a, 0x1b, 0x24, 0x30, 0x80, 0xf00, 0xf04];

/** Aligned accesses to every register of every locality; no tpmGo, so nothing depends on timing. */
const access: fc.Arbitrary<Access> = fc
  .record({
    locality: fc.integer({ min: 0, max: 4 }),
    offset: fc.constantFrom(...OFFSETS),
    size: fc.constantFrom<1 | 2 | 4>(1, 2, 4),
    write: fc.boolean(),
    value: fc.oneof(
      fc.constantFrom(0x02, 0x08, 0x20, 0x40, 0x02, 0x01, 0x80000087, 0x0a, 0x00080000, 0x03000000),
      fc.integer({ min: 0, max: 0xff }),
    ),
  })
  .filter(({ offset, size }) => offset % size === 0)
  .map(({ locality, offset, size, write, value }): Access => {
    const addr = TIS_ADDR_BASE + (locality << 12) + offset;
    // STS writes with tpmGo start a command whose answer arrives in real time in QEMU: leave them out.
    if (write && !((offset & 0xffc) === 0x18 && (value & 0x20) !== 0)) return { op: 'w', addr, size, value };
    return { op: 'r', addr, size };
  });

function pollOurs(rig: TisRig, addr: number): number {
  for (let i = 0; i < 1000; i++) {
    const sts = rig.tis.read(addr - TIS_ADDR_BASE, 1);
    if ((sts & 0x90) === 0x90) return sts;
    rig.scheduler.runUntil(rig.scheduler.nowNs + 100_000);
  }
  throw new Error('our TPM never answered');
}

async function pollQemu(qemu: QemuTis, addr: number): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const sts = await qemu.read(addr, 1);
    if ((sts & 0x90) === 0x90) return sts;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('QEMU’s TPM never answered');
}

describe('TIS model vs QEMU 7.2 (qtest)', () => {
  let qemu: QemuTis;
  beforeAll(async () => {
    qemu = await QemuTis.start();
  }, 20_000);
  afterAll(() => qemu?.stop());

  it('random register accesses read the same values', async () => {
    const rig = await createTisRig({ seed: 'qemu-compare' });
    const script = fc.sample(fc.array(access, { minLength: 400, maxLength: 400 }), {
      seed: 42,
      numRuns: 1,
    })[0]!;
    const differences: string[] = [];
    for (const [i, a] of script.entries()) {
      const where = `#${i} ${a.op}${a.size} 0x${a.addr.toString(16)}`;
      if (a.op === 'w') {
        await qemu.write(a.addr, a.size, a.value);
        rig.tis.write(a.addr - TIS_ADDR_BASE, a.size, a.value);
      } else {
        const theirs = await qemu.read(a.addr, a.size);
        const ours = rig.tis.read(a.addr - TIS_ADDR_BASE, a.size);
        if (theirs !== ours)
          differences.push(`${where}: QEMU 0x${theirs.toString(16)}, ours 0x${ours.toString(16)}`);
      }
    }
    expect(differences).toEqual([]);
  }, 60_000);

  it('whole commands: burst counts, EXPECT, dataAvail and the response headers match', async () => {
    // A fresh pair, so both start from reset values. QEMU's backend sends CMD_INIT, so its TPM waits for
    // TPM2_Startup as after a power-on; ours is started the same way, without swtpm's startup-clear.
    const fresh = await QemuTis.start();
    try {
      const rig = await createTisRig({ seed: 'qemu-compare-2', startupClear: false });
      const L0 = TIS_ADDR_BASE;
      const reads: Array<[string, number, number]> = [];
      const read = async (what: string, off: number, size: 1 | 2 | 4) =>
        reads.push([what, await fresh.read(L0 + off, size), rig.tis.read(off, size)]);
      const write = async (off: number, size: 1 | 2 | 4, value: number) => {
        await fresh.write(L0 + off, size, value);
        rig.tis.write(off, size, value);
      };
      const transaction = async (name: string, command: Uint8Array, headerOnly: boolean) => {
        await write(0x18, 1, 0x40);
        await read(`${name} sts after commandReady`, 0x18, 4);
        for (const [i, b] of command.entries()) {
          await write(0x24, 1, b);
          await read(`${name} sts after byte ${i}`, 0x18, 4);
        }
        await write(0x18, 1, 0x20);
        reads.push([`${name} dataAvail`, await pollQemu(fresh, L0 + 0x18), pollOurs(rig, L0 + 0x18)]);
        await read(`${name} sts with burst`, 0x18, 4);
        // Random response bytes differ between two TPMs: compare the 10-byte header, then the states.
        for (let i = 0; i < 10; i++) await read(`${name} response byte ${i}`, 0x24, 1);
        if (!headerOnly) for (let i = 0; i < 4; i++) await read(`${name} past the end ${i}`, 0x24, 1);
        await read(`${name} sts after reading`, 0x18, 4);
      };
      await write(0x00, 1, 0x02);
      await read('access', 0x00, 1);
      await transaction('Startup', buildCommand({ code: CC.Startup, params: (w) => w.u16(0) }), false);
      await transaction('GetRandom', buildCommand({ code: CC.GetRandom, params: (w) => w.u16(16) }), true);
      await write(0x00, 1, 0x20);
      await read('access after release', 0x00, 1);
      const differences = reads
        .filter(([, q, o]) => q !== o)
        .map(([what, q, o]) => `${what}: QEMU 0x${q.toString(16)}, ours 0x${o.toString(16)}`);
      expect(differences).toEqual([]);
      expect(reads.length).toBeGreaterThan(50);
    } finally {
      fresh.stop();
    }
  }, 60_000);
});
