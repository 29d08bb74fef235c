// The TPM commands the workloads send, as a user-space test program would build them, and the few
// response fields they look at. Responses come from a driver that may have lost or doubled bytes, so
// every field read is bounds-checked and returns null when the bytes are not there.
import { buildCommand, pwSession } from '../tpm2/build';
import { ALG, CC, ECC_CURVE, RH, ST } from '../tpm2/constants';
import { TPMA_NV, NT } from '../tpm2/nv-public';
import { headerCode, headerSize, TPM_HEADER_SIZE } from './tis-regs';

/** TPMA_OBJECT of tpm2_createprimary's default key: fixedTPM, fixedParent, sensitiveDataOrigin,
 * userWithAuth, restricted, decrypt. */
const STORAGE_KEY_ATTRIBUTES = 0x00030072;

/** CreatePrimary of an ECC NIST P-256 storage key under the owner hierarchy, empty auth, password session. */
export function createPrimaryEcc(): Uint8Array {
  return buildCommand({
    code: CC.CreatePrimary,
    handles: [RH.OWNER],
    sessions: [pwSession()],
    params: (w) => {
      w.u16(4).u16(0).u16(0); // inSensitive: empty userAuth and data
      const fill = w.sizeField(2); // inPublic
      w.u16(ALG.ECC).u16(ALG.SHA256).u32(STORAGE_KEY_ATTRIBUTES).u16(0);
      w.u16(ALG.AES).u16(128).u16(ALG.CFB); // symmetric
      w.u16(ALG.NULL).u16(ECC_CURVE.NIST_P256).u16(ALG.NULL); // scheme, curve, kdf
      w.u16(0).u16(0); // unique: empty x and y
      fill();
      w.u16(0).u32(0); // outsideInfo, creationPCR
    },
  });
}

export function flushContext(handle: number): Uint8Array {
  return buildCommand({ code: CC.FlushContext, params: (w) => w.u32(handle) });
}

export function pcrExtendSha256(pcr: number, digest: Uint8Array): Uint8Array {
  return buildCommand({
    code: CC.PCR_Extend,
    handles: [pcr],
    sessions: [pwSession()],
    params: (w) => w.u32(1).u16(ALG.SHA256).bytes(digest),
  });
}

export function getRandom(bytes: number): Uint8Array {
  return buildCommand({ code: CC.GetRandom, params: (w) => w.u16(bytes) });
}

/** A counter: NT_COUNTER, written and read with owner authorization. */
export const NV_COUNTER_ATTRIBUTES = (NT.COUNTER << 4) | TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD;

export function nvDefineCounter(index: number): Uint8Array {
  return buildCommand({
    code: CC.NV_DefineSpace,
    handles: [RH.OWNER],
    sessions: [pwSession()],
    params: (w) => {
      w.u16(0); // auth: empty
      const fill = w.sizeField(2);
      w.u32(index).u16(ALG.SHA256).u32(NV_COUNTER_ATTRIBUTES).u16(0).u16(8);
      fill();
    },
  });
}

export function nvIncrement(index: number): Uint8Array {
  return buildCommand({ code: CC.NV_Increment, handles: [RH.OWNER, index], sessions: [pwSession()] });
}

export function nvRead(index: number, size: number): Uint8Array {
  return buildCommand({
    code: CC.NV_Read,
    handles: [RH.OWNER, index],
    sessions: [pwSession()],
    params: (w) => w.u16(size).u16(0),
  });
}

// ---- responses ---------------------------------------------------------------------------------

/** A response whose length matches its header and whose rc could be read. */
export interface ResponseView {
  bytes: Uint8Array;
  tag: number;
  rc: number;
}

/** Null when the bytes are not a whole response: shorter than a header, or not the size it says. */
export function viewResponse(bytes: Uint8Array): ResponseView | null {
  if (bytes.length < TPM_HEADER_SIZE || headerSize(bytes) !== bytes.length) return null;
  return { bytes, tag: ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0), rc: headerCode(bytes) };
}

function u16At(b: Uint8Array, at: number): number | null {
  return at + 2 <= b.length ? ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0) : null;
}

function u32At(b: Uint8Array, at: number): number | null {
  const hi = u16At(b, at);
  const lo = u16At(b, at + 2);
  return hi === null || lo === null ? null : hi * 0x10000 + lo;
}

/** Where the parameters start: after the handle area, and after parameterSize with sessions. */
function parametersAt(r: ResponseView, handles: number): number {
  return TPM_HEADER_SIZE + 4 * handles + (r.tag === ST.SESSIONS ? 4 : 0);
}

/** The TPM2B at the start of the parameters, or null when it runs past the response. */
export function firstTpm2b(r: ResponseView, handles = 0): Uint8Array | null {
  const at = parametersAt(r, handles);
  const size = u16At(r.bytes, at);
  if (size === null || at + 2 + size > r.bytes.length) return null;
  return r.bytes.slice(at + 2, at + 2 + size);
}

/** CreatePrimary's objectHandle. */
export function createdHandle(r: ResponseView): number | null {
  return u32At(r.bytes, TPM_HEADER_SIZE);
}

/** The big-endian value of an NV_Read of an 8-byte counter. */
export function counterValue(r: ResponseView): number | null {
  const data = firstTpm2b(r);
  if (data === null || data.length !== 8) return null;
  const hi = u32At(data, 0);
  const lo = u32At(data, 4);
  return hi === null || lo === null ? null : hi * 0x1_0000_0000 + lo;
}

export function toHex(bytes: Uint8Array, separator = ''): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(separator);
}
