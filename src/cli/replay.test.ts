import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTislab } from './cli-test-kit';
import type { ReplayLine } from './replay';

const BASE = 0xfed40000;
const ACCESS = BASE + 0x00;
const STS = BASE + 0x18;
const FIFO = BASE + 0x24;
const GET_RANDOM_8 = [0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 8];

function script(): unknown[] {
  return [
    { op: 'w', size: 1, addr: ACCESS, value: 0x02 }, // requestUse
    { op: 'r', size: 1, addr: ACCESS },
    { op: 'w', size: 1, addr: STS, value: 0x40 }, // commandReady
    { op: 'r', size: 4, addr: STS },
    ...GET_RANDOM_8.map((b) => ({ op: 'w', size: 1, addr: FIFO, value: b })),
    { op: 'r', size: 1, addr: STS },
    { op: 'w', size: 1, addr: STS, value: 0x20 }, // tpmGo
    { op: 'wait', until: 'idle' },
    { op: 'r', size: 4, addr: STS },
    ...Array.from({ length: 20 }, () => ({ op: 'r', size: 1, addr: FIFO })),
    { op: 'r', size: 1, addr: FIFO }, // past the end
  ];
}

async function run(argv: string[]) {
  const { code, out, err } = await runTislab(argv);
  return { code, lines: out.map((l) => JSON.parse(l) as ReplayLine), err };
}

function tmpFile(name: string, text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'tislab-replay-')), name);
  writeFileSync(p, text);
  return p;
}

describe('tislab replay', () => {
  it('replays a whole GetRandom transaction through TIS, backend and TPM', async () => {
    const r = await run(['replay', tmpFile('s.json', JSON.stringify(script())), '--seed', 'replay']);
    expect(r.code).toBe(0);
    const reads = r.lines.filter((l) => l.op === 'r');
    expect(reads[0]!.value).toBe('0x000000a1'); // VALID | ACTIVE_LOCALITY | !established
    // After commandReady: family 2.0 | burstCount 4096 (the free buffer) | COMMAND_READY, as QEMU.
    expect(reads[1]!.value).toBe('0x04100040');
    // Last command byte written: EXPECT cleared, VALID set.
    expect(Number(reads[2]!.value) & 0x88).toBe(0x80);
    // Response ready: DATA_AVAILABLE | VALID with burstCount = response length 20.
    expect(Number(reads[3]!.value) & 0xffff90).toBe((20 << 8) | 0x90);
    const bytes = reads.slice(4, 24).map((l) => Number(l.value));
    expect(bytes.slice(0, 10)).toEqual([0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0, 0]);
    expect(bytes.slice(10, 12)).toEqual([0, 8]);
    expect(reads[24]!.value).toBe('0x000000ff'); // nothing left: 0xff, rw_offset not advanced
    // Deterministic: the same seed gives the same random bytes.
    const again = await run(['replay', tmpFile('s.json', JSON.stringify(script())), '--seed', 'replay']);
    expect(again.lines).toEqual(r.lines);
  });

  it('compares reads with a QEMU trace and marks the ones that differ', async () => {
    const trace = [
      '12345@1700000000.000001:tpm_tis_mmio_write write.1(0x00000000) = 0x00000002',
      'tpm_tis_mmio_read  read.1(0x00000000) = 0x000000a1',
      'tpm_tis_mmio_read size=1, addr=0x0f04, val=0x07',
      'tpm_tis_mmio_read  read.0(0x00000024) = 0x000000ff', // FIFO read traced with size 0, as QEMU does
      'tpm_tis_raise_irq Raising IRQ for flag 0x00000004',
    ].join('\n');
    const r = await run(['replay', tmpFile('trace.txt', trace)]);
    expect(r.code).toBe(1);
    const reads = r.lines.filter((l) => l.op === 'r');
    expect(reads.map((l) => l.match)).toEqual([true, false, true]);
    expect(reads[1]).toMatchObject({ addr: '0xfed40f04', value: '0x00000001', qemu: '0x00000007' });
    expect(r.err).toEqual(['tislab replay: 1 read(s) differ from the values in the QEMU trace']);
  });

  it('malformed input exits 2 naming the entry or line', async () => {
    const bad = await run(['replay', tmpFile('bad.json', '[{"op":"r","size":3,"addr":4272160768}]')]);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/entry 0: size must be 1, 2 or 4, got 3/);
    const outside = await run(['replay', tmpFile('o.json', '[{"op":"r","size":1,"addr":16}]')]);
    expect(outside.err[0]).toMatch(/entry 0: addr 0x10 is outside the TIS region/);
    const garbled = await run(['replay', tmpFile('g.txt', 'x\ntpm_tis_mmio_read something odd\n')]);
    expect(garbled.code).toBe(2);
    expect(garbled.err[0]).toMatch(/line 2: cannot read this tpm_tis_mmio trace line/);
    const missing = await run(['replay']);
    expect(missing.code).toBe(2);
  });
});
