import { describe, expect, it } from 'vitest';
import { TraceLog } from '../kernel';
import { MmioBus, type MmioDevice } from './bus';
import { createTisRig } from './tis-rig';

const TIS_BASE = 0xfed40000;

/** A device with a byte array behind it that records every call it gets. */
function memoryDevice(size: number) {
  const bytes = new Uint8Array(size).map((_, i) => i & 0xff);
  const calls: string[] = [];
  const device: MmioDevice = {
    read(offset, n) {
      calls.push(`r${n}@${offset}`);
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[offset + i]!;
      return v;
    },
    write(offset, n, value) {
      calls.push(`w${n}@${offset}=${value.toString(16)}`);
      for (let i = 0; i < n; i++) bytes[offset + i] = Math.floor(value / 256 ** i) & 0xff;
    },
  };
  return { bytes, calls, device };
}

describe('MmioBus', () => {
  it('routes an access to the region that holds it, with a region-relative offset', async () => {
    const rig = await createTisRig({ seed: 'bus' });
    const bus = new MmioBus();
    bus.map({ name: 'tpm-tis-mmio', base: TIS_BASE, size: 0x5000, device: rig.tis });
    // DID_VID of locality 0 and of locality 4: QEMU's 0x00011014 in both.
    expect(bus.read(TIS_BASE + 0xf00, 4)).toBe(0x00011014);
    expect(bus.read(TIS_BASE + 0x4f00, 4)).toBe(0x00011014);
    bus.write(TIS_BASE, 1, 0x02); // requestUse
    expect(bus.read(TIS_BASE, 1)).toBe(0xa1);
  });

  it('reads outside every region return all ones and writes there are dropped, both traced', () => {
    const trace = new TraceLog();
    const bus = new MmioBus({ trace, now: () => 42 });
    const mem = memoryDevice(0x10);
    bus.map({ name: 'mem', base: 0x1000, size: 0x10, device: mem.device });
    expect(bus.read(0x2000, 1)).toBe(0xff);
    expect(bus.read(0x2000, 2)).toBe(0xffff);
    expect(bus.read(0x0, 4)).toBe(0xffffffff);
    bus.write(0x2000, 4, 0x12345678);
    expect(mem.calls).toEqual([]);
    expect(trace.window().map((e) => [e.t, e.kind, e.data])).toEqual([
      [42, 'unassigned_mem_read', { addr: 0x2000, size: 1, value: 0xff }],
      [42, 'unassigned_mem_read', { addr: 0x2000, size: 2, value: 0xffff }],
      [42, 'unassigned_mem_read', { addr: 0, size: 4, value: 0xffffffff }],
      [42, 'unassigned_mem_write', { addr: 0x2000, size: 4, value: 0x12345678 }],
    ]);
  });

  it('rejects sizes other than 1, 2 or 4, naming the address and the size', () => {
    const bus = new MmioBus();
    expect(() => bus.read(TIS_BASE + 0x24, 3)).toThrow(/at 0xfed40024 of size 3/);
    expect(() => bus.write(TIS_BASE, 8, 0)).toThrow(/at 0xfed40000 of size 8/);
  });

  it('rejects an access that crosses the edge of a region, and changes nothing', () => {
    const bus = new MmioBus();
    const mem = memoryDevice(0x10);
    bus.map({ name: 'mem', base: 0x1000, size: 0x10, device: mem.device });
    expect(() => bus.read(0x100e, 4)).toThrow(/read at 0x100e of size 4 crosses the edge of region 'mem'/);
    expect(() => bus.write(0xffe, 4, 0)).toThrow(/write at 0xffe of size 4 crosses the edge of region 'mem'/);
    expect(mem.calls).toEqual([]);
  });

  it('splits an unaligned access into aligned pieces, as QEMU memory_access_size does', () => {
    const bus = new MmioBus();
    const mem = memoryDevice(0x10);
    bus.map({ name: 'mem', base: 0x1000, size: 0x10, device: mem.device });
    expect(bus.read(0x1001, 4)).toBe(0x04030201);
    expect(mem.calls).toEqual(['r1@1', 'r2@2', 'r1@4']);
    mem.calls.length = 0;
    bus.write(0x1006, 4, 0xddccbbaa);
    expect(mem.calls).toEqual(['w2@6=bbaa', 'w2@8=ddcc']);
    expect([...mem.bytes.slice(6, 10)]).toEqual([0xaa, 0xbb, 0xcc, 0xdd]);
    mem.calls.length = 0;
    expect(bus.read(0x1004, 4)).toBe(0xbbaa0504);
    expect(mem.calls).toEqual(['r4@4']); // aligned: one call
  });

  it('an unaligned 2-byte read of the TIS burst count gives the same value as two byte reads', async () => {
    const rig = await createTisRig({ seed: 'bus' });
    const bus = new MmioBus();
    bus.map({ name: 'tpm-tis-mmio', base: TIS_BASE, size: 0x5000, device: rig.tis });
    bus.write(TIS_BASE, 1, 0x02);
    bus.write(TIS_BASE + 0x18, 1, 0x40); // commandReady
    const lo = bus.read(TIS_BASE + 0x19, 1);
    const hi = bus.read(TIS_BASE + 0x1a, 1);
    expect(bus.read(TIS_BASE + 0x19, 2)).toBe(lo | (hi << 8));
  });

  it('refuses overlapping regions', () => {
    const bus = new MmioBus();
    bus.map({ name: 'a', base: 0x1000, size: 0x100, device: memoryDevice(0x100).device });
    expect(() =>
      bus.map({ name: 'b', base: 0x10f0, size: 0x100, device: memoryDevice(0x100).device }),
    ).toThrow(/overlaps 'a'/);
  });
});
