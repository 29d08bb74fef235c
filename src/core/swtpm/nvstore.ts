// swtpm's NVRAM layer (src/swtpm/swtpm_nvstore.c, tlv.h): where the state blobs live, and the two
// wrappings swtpm puts around libtpms' blobs.
//
// A blob header (10 bytes, packed): u8 version (2), u8 min_version (1), u16 hdrsize (10), u16 flags,
// u32 totlen (header included); then tag-length-value records (u16 tag, u32 length, value).
// - A state file (SWTPM_NVRAM_StoreData, no key):      header(flags 0) | TLV(TAG_DATA, blob)
// - A migration blob (SWTPM_NVRAM_GetStateBlob):       header(flags MIGRATION_DATA) |
//                                                        TLV(TAG_MIGRATION_DATA, TLV(TAG_DATA, blob))
// Observed from swtpm 0.7.1: GET_STATEBLOB PERMANENT starts 02 01 00 0a 00 04 <totlen> 00 04 <len>
// 00 01 <len>, and a stored tpm2-00.volatilestate starts 02 01 00 0a 00 00 <totlen> 00 01 <len>.
import { PTM_STATE_FLAG_ENCRYPTED, TPM_RESULT } from './ioctl';

/** Where swtpm keeps its state: named files in --tpmstate dir=... (the dir backend's names). */
export interface StateStore {
  load(name: string): Uint8Array | undefined;
  save(name: string, bytes: Uint8Array): void;
  delete(name: string): void;
}

/** File names of the dir backend for TPM 2.0 ("tpm2-%02x.%s" with tpm_number 0). */
export const STATE_FILE = {
  permanent: 'tpm2-00.permall',
  volatile: 'tpm2-00.volatilestate',
  savestate: 'tpm2-00.savestate',
} as const;

/** A StateStore in memory; it keeps copies, so callers may reuse their buffers. */
export class MemoryStateStore implements StateStore {
  private readonly files = new Map<string, Uint8Array>();

  load(name: string): Uint8Array | undefined {
    return this.files.get(name)?.slice();
  }

  save(name: string, bytes: Uint8Array): void {
    this.files.set(name, bytes.slice());
  }

  delete(name: string): void {
    this.files.delete(name);
  }

  names(): string[] {
    return [...this.files.keys()].sort();
  }

  /** Another store with the same files (saved bytes are never changed in place, so they can be shared). */
  clone(): MemoryStateStore {
    const copy = new MemoryStateStore();
    for (const [name, bytes] of this.files) copy.files.set(name, bytes);
    return copy;
  }
}

export const BLOB_HEADER_VERSION = 2;
export const BLOB_HEADER_SIZE = 10;

export const BLOB_FLAG = {
  ENCRYPTED: 0x01,
  MIGRATION_ENCRYPTED: 0x02,
  MIGRATION_DATA: 0x04,
  ENCRYPTED_256BIT_KEY: 0x08,
  MIGRATION_256BIT_KEY: 0x10,
} as const;

export const TLV_TAG = {
  DATA: 1,
  ENCRYPTED_DATA: 2,
  HMAC: 3,
  MIGRATION_DATA: 4,
  ENCRYPTED_MIGRATION_DATA: 5,
  IVEC_ENCRYPTED_DATA: 6,
  IVEC_ENCRYPTED_MIGRATION_DATA: 7,
} as const;

function tlv(tag: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + value.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, tag);
  v.setUint32(2, value.length);
  out.set(value, 6);
  return out;
}

function withHeader(flags: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOB_HEADER_SIZE + payload.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, BLOB_HEADER_VERSION);
  v.setUint8(1, 1); // min_version
  v.setUint16(2, BLOB_HEADER_SIZE);
  v.setUint16(4, flags);
  v.setUint32(6, out.length);
  out.set(payload, BLOB_HEADER_SIZE);
  return out;
}

/** tlv_data_find_tag: the value of the first record with this tag; undefined if absent or cut short. */
export function findTlv(buf: Uint8Array, tag: number): Uint8Array | undefined {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 6 <= buf.length) {
    const t = v.getUint16(off);
    const len = v.getUint32(off + 2);
    if (off + 6 + len > buf.length) return undefined;
    if (t === tag) return buf.subarray(off + 6, off + 6 + len);
    off += 6 + len;
  }
  return undefined;
}

/** A libtpms blob as swtpm writes it to a state file. */
export function wrapStateFile(blob: Uint8Array): Uint8Array {
  return withHeader(0, tlv(TLV_TAG.DATA, blob));
}

/** A libtpms blob as GET_STATEBLOB hands it out (no migration key, not encrypted). */
export function wrapMigrationBlob(blob: Uint8Array): Uint8Array {
  return withHeader(BLOB_FLAG.MIGRATION_DATA, tlv(TLV_TAG.MIGRATION_DATA, tlv(TLV_TAG.DATA, blob)));
}

export type Unwrapped = { ok: true; blob: Uint8Array } | { ok: false; result: number };

/**
 * SWTPM_NVRAM_LoadData without a key: a file whose header does not check out is taken as a version-1
 * file (raw data, no TLV); otherwise the TAG_DATA record, or TPM_FAIL when there is none.
 */
export function unwrapStateFile(file: Uint8Array): Unwrapped {
  const header = checkHeader(file);
  if (!header.ok) return { ok: true, blob: file };
  const payload = file.subarray(BLOB_HEADER_SIZE);
  return plainData(payload, TLV_TAG.DATA, header.version);
}

interface Header {
  ok: true;
  version: number;
  flags: number;
}

/** SWTPM_NVRAM_CheckHeader. */
export function checkHeader(data: Uint8Array): Header | { ok: false; result: number } {
  // swtpm compares against sizeof(bh) where bh is a pointer (8 bytes); a blob of 8 or 9 bytes then fails
  // the totlen comparison, so both end in TPM_BAD_PARAMETER.
  if (data.length < BLOB_HEADER_SIZE) return { ok: false, result: TPM_RESULT.BAD_PARAMETER };
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint32(6) !== data.length) return { ok: false, result: TPM_RESULT.BAD_PARAMETER };
  if (v.getUint8(1) > BLOB_HEADER_VERSION) return { ok: false, result: TPM_RESULT.BAD_VERSION };
  if (v.getUint16(2) !== BLOB_HEADER_SIZE) return { ok: false, result: TPM_RESULT.BAD_DATASIZE };
  return { ok: true, version: v.getUint8(0), flags: v.getUint16(4) };
}

/** SWTPM_NVRAM_GetPlainData: version 1 carries raw data, later versions a TLV record. */
function plainData(data: Uint8Array, tag: number, version: number): Unwrapped {
  if (version === 1) return { ok: true, blob: data };
  const value = findTlv(data, tag);
  return value ? { ok: true, blob: value } : { ok: false, result: TPM_RESULT.FAIL };
}

export type MigrationUnwrapped = Unwrapped | { ok: true; blob: null };

/**
 * The swtpm half of SWTPM_NVRAM_SetStateBlob, for a swtpm without file or migration keys: checks the
 * header and TLV records and returns the libtpms blob, or null for "no state" (an empty blob or a bare
 * header), or the TPM_RESULT swtpm answers.
 */
export function unwrapMigrationBlob(data: Uint8Array, stateFlags: number): MigrationUnwrapped {
  if (data.length === 0) return { ok: true, blob: null };
  const header = checkHeader(data);
  if (!header.ok) return header;
  if (data.length === BLOB_HEADER_SIZE) return { ok: true, blob: null };
  if (header.flags & BLOB_FLAG.MIGRATION_ENCRYPTED) return { ok: false, result: TPM_RESULT.KEYNOTFOUND };
  const mig = plainData(data.subarray(BLOB_HEADER_SIZE), TLV_TAG.MIGRATION_DATA, header.version);
  if (!mig.ok) return mig;
  if (stateFlags & PTM_STATE_FLAG_ENCRYPTED || header.flags & BLOB_FLAG.ENCRYPTED)
    return { ok: false, result: TPM_RESULT.KEYNOTFOUND };
  return plainData(mig.blob, TLV_TAG.DATA, header.version);
}
