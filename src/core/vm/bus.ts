// The guest-physical memory map as QEMU's memory core sees an MMIO access that KVM handed to user space
// (kvm_cpu_exec -> address_space_rw): find the region, cut the access into pieces the region's ops
// accept, call the device. Only I/O regions live here; guest RAM never exits to user space.
//
// What happens to odd accesses, and why:
// - Sizes other than 1, 2 or 4 bytes: rejected with an Error. KVM hands QEMU up to 8 bytes, but no device
//   in this machine declares 8-byte ops, and a guest program asking for 3 bytes is a bug in the program.
// - An access that starts in a region and runs past its end (or starts before a region and runs into
//   it): rejected with an Error. QEMU would send the part beyond the end to whatever lies there; in this
//   machine nothing does, and such an access is always a guest-program bug, so it is reported, not guessed.
// - Unaligned accesses inside a region: split as QEMU's flatview_read_continue/flatview_write_continue
//   do with memory_access_size(). tpm_tis_memory_ops sets valid.min/max = 1..4 and leaves impl.unaligned
//   false (hw/tpm/tpm_tis_common.c), so each piece is at most as large as the alignment of its address
//   allows: a 4-byte read at 0x19 becomes 1 byte at 0x19, 2 at 0x1a, 1 at 0x1c, each its own call of
//   tpm_tis_mmio_read, assembled little-endian. (memory_region_access_valid would reject an unaligned
//   piece, but after the split there never is one.) Aligned accesses are one call, as always.
// - Outside every region: reads return all ones (the value a PC bus returns when nobody claims the
//   address; QEMU's own unassigned_mem_read returns 0 in current versions) and writes are dropped. Both
//   are traced as unassigned_mem_read / unassigned_mem_write so they are never silent.
import type { TraceLog } from '../kernel';

/** A device's MMIO callbacks (QEMU's MemoryRegionOps): offsets are relative to the region's base. */
export interface MmioDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface MmioRegion {
  /** QEMU's MemoryRegion name, e.g. 'tpm-tis-mmio'. */
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const maskOf = (size: number): number => (size === 4 ? 0xffff_ffff : (1 << (size * 8)) - 1);

export class MmioBus {
  private readonly regions: MmioRegion[] = [];
  private readonly trace: TraceLog | undefined;
  private readonly now: () => number;

  /** `now` gives the virtual time for trace events (the scheduler's clock). */
  constructor(opts: { trace?: TraceLog; now?: () => number } = {}) {
    this.trace = opts.trace;
    this.now = opts.now ?? (() => 0);
  }

  /** memory_region_add_subregion: maps a region; overlapping another region is an Error. */
  map(region: MmioRegion): void {
    const { name, base, size } = region;
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`MmioBus.map('${name}'): base and size must be non-negative integers, size > 0`);
    }
    const clash = this.regions.find((r) => base < r.base + r.size && r.base < base + size);
    if (clash) {
      throw new Error(
        `MmioBus.map('${name}'): [${hex(base)}, ${hex(base + size)}) overlaps '${clash.name}' ` +
          `[${hex(clash.base)}, ${hex(clash.base + clash.size)})`,
      );
    }
    this.regions.push(region);
    this.regions.sort((a, b) => a.base - b.base);
  }

  /** The mapped regions, lowest base first. */
  get mapped(): readonly MmioRegion[] {
    return this.regions;
  }

  /** The region holding addr, if any. */
  regionAt(addr: number): MmioRegion | undefined {
    for (const r of this.regions) if (addr >= r.base && addr < r.base + r.size) return r;
    return undefined;
  }

  /** A load of `size` bytes at a guest-physical address; returns the value, little-endian. */
  read(addr: number, size: number): number {
    const region = this.route(addr, size, 'read');
    if (!region) {
      const value = maskOf(size);
      this.trace?.append(this.now(), 'qemu', 'unassigned_mem_read', { addr, size, value });
      return value;
    }
    const offset = addr - region.base;
    if ((offset & (size - 1)) === 0) return this.readPiece(region, offset, size);
    let value = 0;
    for (const [pieceOffset, pieceSize] of pieces(offset, size)) {
      value += this.readPiece(region, pieceOffset, pieceSize) * 2 ** ((pieceOffset - offset) * 8);
    }
    return value >>> 0;
  }

  /** A store of the low `size` bytes of value at a guest-physical address. */
  write(addr: number, size: number, value: number): void {
    const region = this.route(addr, size, 'write');
    if (!region) {
      this.trace?.append(this.now(), 'qemu', 'unassigned_mem_write', {
        addr,
        size,
        value: (value & maskOf(size)) >>> 0,
      });
      return;
    }
    const offset = addr - region.base;
    if ((offset & (size - 1)) === 0) {
      this.writePiece(region, offset, size, (value & maskOf(size)) >>> 0);
      return;
    }
    for (const [pieceOffset, pieceSize] of pieces(offset, size)) {
      const part = Math.floor((value >>> 0) / 2 ** ((pieceOffset - offset) * 8)) & maskOf(pieceSize);
      this.writePiece(region, pieceOffset, pieceSize, part >>> 0);
    }
  }

  // One call of the region's ops, traced as QEMU's memory_region_read_accessor / write_accessor do
  // (trace points memory_region_ops_read / _write): a read after the call, with its value; a write before.
  private readPiece(region: MmioRegion, offset: number, size: number): number {
    const value = (region.device.read(offset, size) & maskOf(size)) >>> 0;
    this.trace?.append(this.now(), 'qemu', 'memory_region_ops_read', {
      region: region.name,
      addr: region.base + offset,
      size,
      value,
    });
    return value;
  }

  private writePiece(region: MmioRegion, offset: number, size: number, value: number): void {
    this.trace?.append(this.now(), 'qemu', 'memory_region_ops_write', {
      region: region.name,
      addr: region.base + offset,
      size,
      value,
    });
    region.device.write(offset, size, value);
  }

  /** The region an access goes to, undefined when it is outside every region; throws for bad accesses. */
  private route(addr: number, size: number, what: 'read' | 'write'): MmioRegion | undefined {
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new RangeError(
        `MMIO ${what} of size ${String(size)} at ${String(addr)}: not a guest-physical address`,
      );
    }
    if (size !== 1 && size !== 2 && size !== 4) {
      throw new RangeError(
        `MMIO ${what} at ${hex(addr)} of size ${String(size)}: the bus takes 1-, 2- or 4-byte accesses`,
      );
    }
    const end = addr + size;
    for (const r of this.regions) {
      const rEnd = r.base + r.size;
      if (end <= r.base || addr >= rEnd) continue;
      if (addr >= r.base && end <= rEnd) return r;
      throw new RangeError(
        `MMIO ${what} at ${hex(addr)} of size ${size} crosses the edge of region '${r.name}' ` +
          `[${hex(r.base)}, ${hex(rEnd)}): an access must lie wholly inside one region`,
      );
    }
    return undefined;
  }
}

/** memory_access_size's split: each piece as large as its address's alignment allows, at most 4 bytes. */
function pieces(offset: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  let at = offset;
  let left = size;
  while (left > 0) {
    const align = at & -at || 4;
    let piece = Math.min(align, 4, left);
    while (piece & (piece - 1)) piece &= piece - 1; // pow2floor
    out.push([at, piece]);
    at += piece;
    left -= piece;
  }
  return out;
}
