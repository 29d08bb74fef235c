// swtpm's control channel protocol (include/swtpm/tpm_ioctl.h, "Commands used by the non-CUSE TPMs"):
// command numbers, capability bits, blob types and flags, the TPM 1.2-style result codes swtpm answers
// with, and the byte layout of every request and response. All fields are big-endian. A request is the
// u32 command followed by the `req` part of the ioctl struct; a response is the `resp` part only.
//
// Layouts (request after the u32 command → response), as ctrlchannel.c reads and writes them; every
// error answer is a bare u32 result unless noted:
//   GET_CAPABILITY       (nothing)                              → u64 capability bits (no result field)
//   INIT                 u32 init_flags                         → u32 result
//   SHUTDOWN             (nothing)                              → u32 result; swtpm then exits
//   GET_TPMESTABLISHED   (nothing)                              → u32 result, u8 bit, 3 padding bytes
//   SET_LOCALITY         u8 locality                            → u32 result
//   HASH_START           (nothing)                              → u32 result
//   HASH_DATA            u32 length, length bytes               → u32 result
//   HASH_END             (nothing)                              → u32 result
//   CANCEL_TPM_CMD       (nothing)                              → u32 result
//   STORE_VOLATILE       (nothing)                              → u32 result
//   RESET_TPMESTABLISHED u8 locality                            → u32 result
//   GET_STATEBLOB        u32 state_flags, u32 type, u32 offset  → u32 result, u32 state_flags,
//                                                                 u32 totlength, u32 length, data
//                        (16 bytes even on a result other than TPM_BAD_ORDINAL/TPM_BAD_PARAMETER; data only
//                         on success; swtpm 0.7.1 puts the bytes from offset to the end in one answer and
//                         sets totlength = length = that count)
//   SET_STATEBLOB        u32 state_flags, u32 type, u32 length, length bytes → u32 result
//   STOP                 (nothing)                              → u32 result
//   GET_CONFIG           (nothing)                              → u32 result, u32 flags
//   SET_DATAFD           (nothing; the fd rides as SCM_RIGHTS)  → u32 result
//   SET_BUFFERSIZE       u32 buffersize (0 = query)             → u32 result, u32 buffersize, u32 minsize,
//                                                                 u32 maxsize
//   GET_INFO             u64 flags, u32 offset, u32 pad         → u32 result, u32 totlength, u32 length,
//                                                                 length bytes of a NUL-terminated string
//   LOCK_STORAGE (0x13)  is newer than swtpm 0.7.1, which answers TPM_BAD_ORDINAL like any unknown command.

/** Control channel command numbers (CMD_*). */
export const CMD = {
  GET_CAPABILITY: 0x01,
  INIT: 0x02,
  SHUTDOWN: 0x03,
  GET_TPMESTABLISHED: 0x04,
  SET_LOCALITY: 0x05,
  HASH_START: 0x06,
  HASH_DATA: 0x07,
  HASH_END: 0x08,
  CANCEL_TPM_CMD: 0x09,
  STORE_VOLATILE: 0x0a,
  RESET_TPMESTABLISHED: 0x0b,
  GET_STATEBLOB: 0x0c,
  SET_STATEBLOB: 0x0d,
  STOP: 0x0e,
  GET_CONFIG: 0x0f,
  SET_DATAFD: 0x10,
  SET_BUFFERSIZE: 0x11,
  GET_INFO: 0x12,
  LOCK_STORAGE: 0x13,
} as const;

export type CtrlCommandName = keyof typeof CMD;

const CMD_NAMES = new Map<number, CtrlCommandName>(
  (Object.entries(CMD) as [CtrlCommandName, number][]).map(([k, v]) => [v, k]),
);

export function ctrlCommandName(cmd: number): string {
  return CMD_NAMES.get(cmd) ?? `0x${cmd.toString(16).padStart(8, '0')}`;
}

/** Capability bits of GET_CAPABILITY (PTM_CAP_*). */
export const PTM_CAP = {
  INIT: 1 << 0,
  SHUTDOWN: 1 << 1,
  GET_TPMESTABLISHED: 1 << 2,
  SET_LOCALITY: 1 << 3,
  HASHING: 1 << 4,
  CANCEL_TPM_CMD: 1 << 5,
  STORE_VOLATILE: 1 << 6,
  RESET_TPMESTABLISHED: 1 << 7,
  GET_STATEBLOB: 1 << 8,
  SET_STATEBLOB: 1 << 9,
  STOP: 1 << 10,
  GET_CONFIG: 1 << 11,
  SET_DATAFD: 1 << 12,
  SET_BUFFERSIZE: 1 << 13,
  GET_INFO: 1 << 14,
  SEND_COMMAND_HEADER: 1 << 15,
  LOCK_STORAGE: 1 << 16,
} as const;

/**
 * What swtpm 0.7.1 `socket --tpm2` reports: every bit up to SEND_COMMAND_HEADER, no LOCK_STORAGE.
 * Observed from swtpm 0.7.1: GET_CAPABILITY answers 00 00 00 00 00 00 ff ff.
 */
export const SWTPM_0_7_1_CAPS = 0xffff;

/** State blob types (PTM_BLOB_TYPE_*). */
export const BLOB_TYPE = {
  PERMANENT: 1,
  VOLATILE: 2,
  SAVESTATE: 3,
} as const;

/** state_flags: on GET_STATEBLOB input, ask for decrypted state. */
export const PTM_STATE_FLAG_DECRYPTED = 1;
/** state_flags: on GET_STATEBLOB output / SET_STATEBLOB input, the state is encrypted. */
export const PTM_STATE_FLAG_ENCRYPTED = 2;
/** init_flags of INIT: delete the volatile state file after reading it. */
export const PTM_INIT_FLAG_DELETE_VOLATILE = 1;
/** GET_CONFIG flags. */
export const PTM_CONFIG_FLAG_FILE_KEY = 1;
export const PTM_CONFIG_FLAG_MIGRATION_KEY = 2;

/** The ioctl (CUSE) interface transfers blobs in pieces of this size; the socket interface does not. */
export const PTM_STATE_BLOB_SIZE = 3 * 1024;
export const PTM_GETINFO_SIZE = 3 * 1024;

/** GET_INFO flags (TPMLIB_INFO_*). */
export const TPMLIB_INFO = {
  TPMSPECIFICATION: 1,
  TPMATTRIBUTES: 2,
  TPMFEATURES: 4,
} as const;

/**
 * The result codes the control channel answers with: TPM 1.2 TPM_RESULT values (libtpms tpm_error.h),
 * plus the TPM 2.0 codes libtpms' TPM2_SetState passes through for a state blob it cannot load.
 */
export const TPM_RESULT = {
  SUCCESS: 0x00,
  BAD_PARAMETER: 0x03,
  FAIL: 0x09,
  BAD_ORDINAL: 0x0a,
  KEYNOTFOUND: 0x0d,
  SIZE: 0x17,
  IOERROR: 0x1f,
  DECRYPT_ERROR: 0x21,
  INVALID_POSTINIT: 0x26,
  BAD_KEY_PROPERTY: 0x28,
  BAD_DATASIZE: 0x2b,
  BAD_MODE: 0x2c,
  BAD_VERSION: 0x2e,
  BAD_TYPE: 0x34,
  BAD_LOCALITY: 0x3d,
  /** TPM_BASE + TPM_NON_FATAL: "no such state file" (QEMU accepts any result with bit 0x800 set). */
  RETRY: 0x800,
  // TPM 2.0 codes from libtpms' state unmarshalling (TPM2_SetState), observed on SET_STATEBLOB:
  /** TPM_RC_BAD_TAG: a wrong magic number. */
  RC_BAD_TAG: 0x01e,
  /** TPM_RC_HASH: the volatile state's integrity hash does not match. */
  RC_HASH: 0x083,
  /** TPM_RC_SIZE: an array or field of the wrong size. */
  RC_SIZE: 0x095,
  /** TPM_RC_INSUFFICIENT: the blob ends early. */
  RC_INSUFFICIENT: 0x09a,
  /** TPM_RC_FAILURE: the TPM could not start (failure mode). */
  RC_FAILURE: 0x101,
} as const;

// ---- request builders (what QEMU's tpm_emulator.c sends) --------------------------------------------

/** Big-endian u32 values back to back: the shape of every control-channel field. */
export function u32be(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0));
  return out;
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const ctrlRequest = {
  /** Commands without a request body: GET_CAPABILITY, SHUTDOWN, GET_TPMESTABLISHED, HASH_START, ... */
  bare: (cmd: number): Uint8Array => u32be(cmd),
  init: (initFlags: number): Uint8Array => u32be(CMD.INIT, initFlags),
  setLocality: (locality: number): Uint8Array => concat(u32be(CMD.SET_LOCALITY), Uint8Array.of(locality)),
  resetEstablished: (locality: number): Uint8Array =>
    concat(u32be(CMD.RESET_TPMESTABLISHED), Uint8Array.of(locality)),
  hashData: (data: Uint8Array): Uint8Array => concat(u32be(CMD.HASH_DATA, data.length), data),
  getStateBlob: (type: number, stateFlags: number, offset = 0): Uint8Array =>
    u32be(CMD.GET_STATEBLOB, stateFlags, type, offset),
  setStateBlob: (type: number, stateFlags: number, blob: Uint8Array): Uint8Array =>
    concat(u32be(CMD.SET_STATEBLOB, stateFlags, type, blob.length), blob),
  setBufferSize: (size: number): Uint8Array => u32be(CMD.SET_BUFFERSIZE, size),
  getInfo: (flags: number, offset = 0): Uint8Array => {
    const out = new Uint8Array(20);
    const view = new DataView(out.buffer);
    view.setUint32(0, CMD.GET_INFO);
    view.setBigUint64(4, BigInt(flags));
    view.setUint32(12, offset);
    return out;
  },
};

// ---- response decoders ------------------------------------------------------------------------------

function view(bytes: Uint8Array, need: number, what: string): DataView {
  if (bytes.length < need) throw new RangeError(`${what} response needs ${need} bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const ctrlResponse = {
  result: (bytes: Uint8Array): number => view(bytes, 4, 'control').getUint32(0),
  capability: (bytes: Uint8Array): bigint => view(bytes, 8, 'GET_CAPABILITY').getBigUint64(0),
  established: (bytes: Uint8Array): { result: number; bit: boolean } => {
    const v = view(bytes, 4, 'GET_TPMESTABLISHED');
    const result = v.getUint32(0);
    return { result, bit: result === 0 && bytes.length >= 5 && bytes[4] !== 0 };
  },
  config: (bytes: Uint8Array): { result: number; flags: number } => {
    const v = view(bytes, 4, 'GET_CONFIG');
    return { result: v.getUint32(0), flags: bytes.length >= 8 ? v.getUint32(4) : 0 };
  },
  bufferSize: (
    bytes: Uint8Array,
  ): { result: number; bufferSize: number; minSize: number; maxSize: number } => {
    const v = view(bytes, 4, 'SET_BUFFERSIZE');
    const result = v.getUint32(0);
    if (bytes.length < 16) return { result, bufferSize: 0, minSize: 0, maxSize: 0 };
    return { result, bufferSize: v.getUint32(4), minSize: v.getUint32(8), maxSize: v.getUint32(12) };
  },
  stateBlob: (
    bytes: Uint8Array,
  ): { result: number; stateFlags: number; totLength: number; length: number; data: Uint8Array } => {
    const v = view(bytes, 4, 'GET_STATEBLOB');
    const result = v.getUint32(0);
    if (bytes.length < 16) return { result, stateFlags: 0, totLength: 0, length: 0, data: new Uint8Array(0) };
    const length = v.getUint32(12);
    return {
      result,
      stateFlags: v.getUint32(4),
      totLength: v.getUint32(8),
      length,
      data: bytes.slice(16, 16 + length),
    };
  },
  info: (bytes: Uint8Array): { result: number; totLength: number; text: string } => {
    const v = view(bytes, 4, 'GET_INFO');
    const result = v.getUint32(0);
    if (bytes.length < 12) return { result, totLength: 0, text: '' };
    const length = v.getUint32(8);
    const raw = bytes.subarray(12, 12 + length);
    const end = raw.indexOf(0);
    return {
      result,
      totLength: v.getUint32(4),
      text: new TextDecoder().decode(end >= 0 ? raw.subarray(0, end) : raw),
    };
  },
};
