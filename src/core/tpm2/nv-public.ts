// TPMS_NV_PUBLIC (TPM 2.0 Part 2 §13.5) and TPMA_NV (§13.4): the public area of an NV index, its wire
// form and its Name. Unmarshalling follows libtpms 0.9's TPMS_NV_PUBLIC_Unmarshal / TPM2B_NV_PUBLIC_Unmarshal
// (codes checked against swtpm 0.7.1); the caller attributes the bare codes to a parameter with param(n).
import { ALG, NV_INDEX_FIRST, NV_INDEX_LAST } from './constants';
import { digest, hashByAlg } from './hash';
import { TpmWriter, type TpmReader } from './marshal';
import { RC, TpmError } from './rc';
import type { NvIndex } from './state';

/** TPMA_NV bits (Part 2 Table 204). */
export const TPMA_NV = {
  PPWRITE: 1 << 0,
  OWNERWRITE: 1 << 1,
  AUTHWRITE: 1 << 2,
  POLICYWRITE: 1 << 3,
  /** TPM_NT in bits 4–7: use nvType(). */
  TPM_NT_MASK: 0xf << 4,
  POLICY_DELETE: 1 << 10,
  WRITELOCKED: 1 << 11,
  WRITEALL: 1 << 12,
  WRITEDEFINE: 1 << 13,
  WRITE_STCLEAR: 1 << 14,
  GLOBALLOCK: 1 << 15,
  PPREAD: 1 << 16,
  OWNERREAD: 1 << 17,
  AUTHREAD: 1 << 18,
  POLICYREAD: 1 << 19,
  NO_DA: 1 << 25,
  ORDERLY: 1 << 26,
  CLEAR_STCLEAR: 1 << 27,
  READLOCKED: 1 << 28,
  WRITTEN: 1 << 29,
  PLATFORMCREATE: 1 << 30,
  READ_STCLEAR: 2 ** 31,
} as const;

/** Bits 8–9 and 20–24: TPM_RC_RESERVED_BITS when set (libtpms TPMA_NV_RESERVED). */
export const TPMA_NV_RESERVED = 0x00000300 | 0x01f00000;

/** TPM_NT: the index type in TPMA_NV bits 4–7 (Part 2 Table 202). */
export const NT = {
  ORDINARY: 0x0,
  COUNTER: 0x1,
  BITS: 0x2,
  EXTEND: 0x4,
  PIN_FAIL: 0x8,
  PIN_PASS: 0x9,
} as const;

/** libtpms' MAX_NV_INDEX_SIZE and MAX_NV_BUFFER_SIZE (TPM_PT_NV_INDEX_MAX / TPM_PT_NV_BUFFER_MAX). */
export const MAX_NV_INDEX_SIZE = 2048;
export const MAX_NV_BUFFER_SIZE = 1024;
/** sizeof(TPMU_HA) with SHA-512 compiled in: the capacity of TPM2B_DIGEST and TPM2B_AUTH in libtpms. */
const MAX_DIGEST_BUFFER = 64;

export interface NvPublic {
  nvIndex: number;
  nameAlg: number;
  attributes: number;
  authPolicy: Uint8Array;
  dataSize: number;
}

export function nvType(attributes: number): number {
  return (attributes >>> 4) & 0xf;
}

export function hasAttr(attributes: number, bit: number): boolean {
  return (attributes & bit) !== 0;
}

/** Attributes with `bit` set or cleared, kept as an unsigned 32-bit value. */
export function withAttr(attributes: number, bit: number, on: boolean): number {
  return (on ? attributes | bit : attributes & ~bit) >>> 0;
}

/** TPMS_NV_PUBLIC in canonical form. */
export function marshalNvPublic(w: TpmWriter, pub: NvPublic): TpmWriter {
  return w
    .u32(pub.nvIndex)
    .u16(pub.nameAlg)
    .u32(pub.attributes >>> 0)
    .tpm2b(pub.authPolicy)
    .u16(pub.dataSize);
}

/** TPM2B_NV_PUBLIC: the size then TPMS_NV_PUBLIC. */
export function marshalNvPublic2b(w: TpmWriter, pub: NvPublic): TpmWriter {
  const fill = w.sizeField(2);
  marshalNvPublic(w, pub);
  fill();
  return w;
}

/**
 * TPMS_NV_PUBLIC_Unmarshal: nvIndex must be in the NV index range (TPM_RC_VALUE), nameAlg a hash this TPM
 * implements (TPM_RC_HASH), no reserved attribute bits (TPM_RC_RESERVED_BITS), authPolicy at most
 * sizeof(TPMU_HA) and dataSize at most MAX_NV_INDEX_SIZE (TPM_RC_SIZE).
 */
export function unmarshalNvPublic(r: TpmReader): NvPublic {
  const nvIndex = r.u32();
  if (nvIndex < NV_INDEX_FIRST || nvIndex > NV_INDEX_LAST) {
    throw new TpmError(RC.VALUE, `0x${nvIndex.toString(16)} is not an NV index handle`);
  }
  const nameAlg = r.u16();
  if (nameAlg === ALG.NULL || !hashByAlg(nameAlg)) {
    throw new TpmError(RC.HASH, `nameAlg 0x${nameAlg.toString(16)} is not an implemented hash`);
  }
  const attributes = r.u32();
  if ((attributes & TPMA_NV_RESERVED) !== 0) {
    throw new TpmError(RC.RESERVED_BITS, `TPMA_NV 0x${attributes.toString(16)} has reserved bits set`);
  }
  const authPolicy = r.tpm2b(MAX_DIGEST_BUFFER);
  const dataSize = r.u16();
  if (dataSize > MAX_NV_INDEX_SIZE)
    throw new TpmError(RC.SIZE, `dataSize ${dataSize} > ${MAX_NV_INDEX_SIZE}`);
  return { nvIndex, nameAlg, attributes, authPolicy, dataSize };
}

/**
 * TPM2B_NV_PUBLIC_Unmarshal: a size of zero is TPM_RC_SIZE; the structure is read from the command buffer
 * itself (a short buffer is TPM_RC_INSUFFICIENT) and must consume exactly `size` bytes (else TPM_RC_SIZE).
 */
export function unmarshalNvPublic2b(r: TpmReader): NvPublic {
  const size = r.u16();
  if (size === 0) throw new TpmError(RC.SIZE, 'empty TPM2B_NV_PUBLIC');
  const start = r.position;
  const pub = unmarshalNvPublic(r);
  if (r.position - start !== size) {
    throw new TpmError(RC.SIZE, `TPM2B_NV_PUBLIC says ${size} bytes but holds ${r.position - start}`);
  }
  return pub;
}

/** The public area of a stored index. */
export function nvPublicOf(index: NvIndex): NvPublic {
  return {
    nvIndex: index.handle,
    nameAlg: index.nameAlg,
    attributes: index.attributes,
    authPolicy: index.authPolicy,
    dataSize: index.data.length,
  };
}

/** The Name of an NV index: nameAlg || H_nameAlg(marshalled TPMS_NV_PUBLIC), with the current attributes. */
export function nvName(pub: NvPublic): Uint8Array {
  const alg = hashByAlg(pub.nameAlg);
  if (!alg) throw new TpmError(RC.FAILURE, `NV index with unknown nameAlg 0x${pub.nameAlg.toString(16)}`);
  const h = digest(alg, marshalNvPublic(new TpmWriter(), pub).finish());
  return new TpmWriter(2 + h.length).u16(pub.nameAlg).bytes(h).finish();
}
