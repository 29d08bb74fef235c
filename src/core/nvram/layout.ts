// The NVRAM drive's format. The 2011 blobstore thread (Stefan Berger, Michael Tsirkin on qemu-devel)
// settled on one drive holding a directory of named blobs, each with a maximum size fixed when it is
// registered; Stefan argued for packed, endianness-normalised structures with a version and an
// integrity value rather than BER. That is what this is, big-endian throughout, with sector-aligned
// areas so that a torn sector never touches two things:
//
//   sector 0…  header:  magic "TISNVRAM" (8) | format version u16 | flags u16 (0) | header length u32
//                       | driveId (u16 length + UTF-8) | blob count u16
//                       | per blob: name (u16 length + UTF-8), maxSize u32, area offset u32
//                       | SHA-256 over everything after the magic (32)
//   per blob:           two slots, A then B, each SLOT_HEADER_SIZE + maxSize rounded up to a sector:
//                       magic "TLSL" u32 | flags u32 | sequence u64 | length u32 | 12 zero bytes
//                       | SHA-256 over (name, the 32 header bytes before it, data) (32) | data
//
// A write goes to the slot that does not hold the newest value, with the next sequence number; a
// reader takes the valid slot with the highest sequence number. A write torn anywhere fails its
// checksum (the name in it also keeps a slot from passing for another blob's), so the other slot wins:
// the old value, never a mix. Formatting writes the magic last, so a drive whose format was cut short
// still reads as empty and is formatted again.
import { sha256 } from '@noble/hashes/sha2.js';

export const SECTOR_SIZE = 512;
/** ASCII "TISNVRAM". */
export const DRIVE_MAGIC: Uint8Array = new TextEncoder().encode('TISNVRAM');
export const FORMAT_VERSION = 1;
export const SLOT_HEADER_SIZE = 64;
/** ASCII "TLSL" (TIS Lab slot). */
export const SLOT_MAGIC = 0x544c534c;
/** Slot flag: this value is "no blob" (erase), not an empty blob. */
export const SLOT_FLAG_ERASED = 0x1;

export const MAX_NAME_BYTES = 64;
export const MAX_DRIVE_ID_BYTES = 64;
export const MAX_BLOBS = 64;
/** Blob areas are addressed with u32 offsets; 64 MiB a blob keeps every layout well inside that. */
export const MAX_BLOB_SIZE = 64 * 1024 * 1024;

const HASH_SIZE = 32;
const FIXED_HEADER_SIZE = 16;
/** The largest header a valid drive can have (all names and the driveId at their longest). */
export const MAX_HEADER_SIZE =
  FIXED_HEADER_SIZE + 2 + MAX_DRIVE_ID_BYTES + 2 + MAX_BLOBS * (2 + MAX_NAME_BYTES + 8) + HASH_SIZE;

export interface BlobSpec {
  readonly name: string;
  readonly maxSize: number;
}

export interface DirectoryEntry extends BlobSpec {
  /** Where slot A starts; slot B follows it. */
  readonly offset: number;
}

export interface Directory {
  readonly driveId: string;
  readonly entries: readonly DirectoryEntry[];
  /** Bytes of the drive the layout uses: the header area and every blob's two slots. */
  readonly sizeBytes: number;
}

export type Slot = 0 | 1;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function roundUpToSector(n: number): number {
  return Math.ceil(n / SECTOR_SIZE) * SECTOR_SIZE;
}

export function slotSize(maxSize: number): number {
  return roundUpToSector(SLOT_HEADER_SIZE + maxSize);
}

export function slotOffset(entry: DirectoryEntry, slot: Slot): number {
  return entry.offset + slot * slotSize(entry.maxSize);
}

export function utf8Length(text: string): number {
  return utf8.encode(text).length;
}

function headerLength(driveId: string, specs: readonly BlobSpec[]): number {
  const entries = specs.reduce((sum, s) => sum + 2 + utf8Length(s.name) + 8, 0);
  return FIXED_HEADER_SIZE + 2 + utf8Length(driveId) + 2 + entries + HASH_SIZE;
}

/** Lays blobs out in the order given: the header area, then each blob's two slots. */
export function planDirectory(driveId: string, specs: readonly BlobSpec[]): Directory {
  let offset = roundUpToSector(headerLength(driveId, specs));
  const entries = specs.map((s) => {
    const entry = { name: s.name, maxSize: s.maxSize, offset };
    offset += 2 * slotSize(s.maxSize);
    return entry;
  });
  return { driveId, entries, sizeBytes: offset };
}

/** The drive size a blobstore with these blobs needs (what `start()` formats). */
export function requiredDriveSize(driveId: string, specs: readonly BlobSpec[]): number {
  return planDirectory(driveId, specs).sizeBytes;
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  u16(v: number): this {
    return this.bytes(Uint8Array.of(v >>> 8, v & 0xff));
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return this.bytes(b);
  }

  text(s: string): this {
    const b = utf8.encode(s);
    return this.u16(b.length).bytes(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** The whole header, magic and checksum included. */
export function encodeHeader(dir: Directory): Uint8Array {
  const w = new Writer().bytes(DRIVE_MAGIC).u16(FORMAT_VERSION).u16(0);
  w.u32(headerLength(dir.driveId, dir.entries));
  w.text(dir.driveId).u16(dir.entries.length);
  for (const e of dir.entries) w.text(e.name).u32(e.maxSize).u32(e.offset);
  const body = w.finish();
  const out = new Uint8Array(body.length + HASH_SIZE);
  out.set(body);
  out.set(sha256(body.subarray(DRIVE_MAGIC.length)), body.length);
  return out;
}

export type HeaderProbe =
  | { kind: 'empty' }
  | { kind: 'foreign'; magic: Uint8Array }
  | { kind: 'valid'; version: number; headerLength: number };

/**
 * What the first sector says: no magic (empty), someone else's magic, or ours and how long the header
 * is. A magic cut short (its first bytes, then zeros) is a format that did not finish: empty.
 */
export function probeHeader(sector: Uint8Array): HeaderProbe {
  const magic = sector.subarray(0, DRIVE_MAGIC.length);
  let same = 0;
  while (same < magic.length && magic[same] === DRIVE_MAGIC[same]) same++;
  if (same < magic.length) {
    if (magic.subarray(same).every((b) => b === 0)) return { kind: 'empty' };
    return { kind: 'foreign', magic: magic.slice() };
  }
  const v = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  return { kind: 'valid', version: v.getUint16(8), headerLength: v.getUint32(12) };
}

/** Thrown by decodeHeader: the header is ours but does not check out. */
export class DamagedHeader extends Error {}

/** Decodes a whole header (probeHeader said 'valid' and the version is FORMAT_VERSION). */
export function decodeHeader(header: Uint8Array): Directory {
  const end = header.length - HASH_SIZE;
  if (end < FIXED_HEADER_SIZE) throw new DamagedHeader(`its length ${header.length} is too short`);
  const expected = sha256(header.subarray(DRIVE_MAGIC.length, end));
  if (!expected.every((b, i) => b === header[end + i]))
    throw new DamagedHeader('its checksum does not match');
  const v = new DataView(header.buffer, header.byteOffset, end);
  let at = FIXED_HEADER_SIZE;
  const need = (n: number): number => {
    if (at + n > end) throw new DamagedHeader('it ends in the middle of a field');
    const start = at;
    at += n;
    return start;
  };
  const text = (): string => {
    const n = v.getUint16(need(2));
    const start = need(n);
    try {
      return fromUtf8.decode(header.subarray(start, start + n));
    } catch {
      throw new DamagedHeader('a name in it is not UTF-8');
    }
  };
  const driveId = text();
  const count = v.getUint16(need(2));
  const entries: DirectoryEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = text();
    const maxSize = v.getUint32(need(4));
    const offset = v.getUint32(need(4));
    entries.push({ name, maxSize, offset });
  }
  if (at !== end) throw new DamagedHeader(`it has ${end - at} bytes after the last entry`);
  const sizeBytes = entries.reduce(
    (max, e) => Math.max(max, e.offset + 2 * slotSize(e.maxSize)),
    roundUpToSector(header.length),
  );
  return { driveId, entries, sizeBytes };
}

export interface SlotHeader {
  readonly flags: number;
  readonly sequence: number;
  readonly length: number;
  readonly checksum: Uint8Array;
  /** The 32 bytes the checksum covers besides the name and the data. */
  readonly covered: Uint8Array;
}

function slotChecksum(name: string, covered: Uint8Array, data: Uint8Array): Uint8Array {
  const nameBytes = utf8.encode(name);
  return sha256
    .create()
    .update(Uint8Array.of(nameBytes.length >>> 8, nameBytes.length & 0xff))
    .update(nameBytes)
    .update(covered)
    .update(data)
    .digest();
}

/** A slot's bytes as one write: header, then data. */
export function encodeSlot(name: string, sequence: number, flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(SLOT_HEADER_SIZE + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, SLOT_MAGIC);
  v.setUint32(4, flags);
  v.setUint32(8, Math.floor(sequence / 2 ** 32));
  v.setUint32(12, sequence >>> 0);
  v.setUint32(16, data.length);
  out.set(slotChecksum(name, out.subarray(0, 32), data), 32);
  out.set(data, SLOT_HEADER_SIZE);
  return out;
}

/** The slot header, or undefined when the slot never held a value of ours (no magic). */
export function decodeSlotHeader(bytes: Uint8Array): SlotHeader | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, SLOT_HEADER_SIZE);
  if (v.getUint32(0) !== SLOT_MAGIC) return undefined;
  return {
    flags: v.getUint32(4),
    sequence: v.getUint32(8) * 2 ** 32 + v.getUint32(12),
    length: v.getUint32(16),
    checksum: bytes.slice(32, 64),
    covered: bytes.slice(0, 32),
  };
}

/** Whether data is what the slot header's checksum says was written for this blob. */
export function slotMatches(name: string, header: SlotHeader, data: Uint8Array): boolean {
  const actual = slotChecksum(name, header.covered, data);
  return actual.every((b, i) => b === header.checksum[i]);
}
