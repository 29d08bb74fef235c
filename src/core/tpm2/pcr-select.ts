// Wire helpers for the PCR and digest lists of TPM 2.0 Part 2: TPML_PCR_SELECTION (§10.9.7),
// TPML_DIGEST_VALUES (§10.9.6), TPML_DIGEST (§10.9.3) and TPMI_ALG_HASH (§9.27). Readers throw bare
// format-one codes as libtpms' *_Unmarshal functions return them; the caller adds the parameter number
// with param(n, ...). Shared by the PCR commands, the hash commands and GetCapability.
import { ALG } from './constants';
import { hashByAlg, type HashAlg } from './hash';
import type { TpmReader, TpmWriter } from './marshal';
import { RC, TpmError } from './rc';
import { PCR_COUNT } from './state';

/** PCR_SELECT_MIN = PCR_SELECT_MAX = 3 octets for 24 PCRs: libtpms accepts no other sizeofSelect. */
export const PCR_SELECT_SIZE = Math.ceil(PCR_COUNT / 8);
/**
 * The list capacity of TPML_PCR_SELECTION and TPML_DIGEST_VALUES is HASH_COUNT. libtpms 0.9 implements
 * four hashes (SHA-1, SHA-256, SHA-384, SHA-512), so a count of 5 is TPM_RC_SIZE there; the limit is kept
 * at 4 so that the same bytes get the same answer (observed from swtpm 0.7.1).
 */
export const MAX_HASH_LIST = 4;
/** TPML_DIGEST holds at most 8 digests (PCR_Read returns no more). */
export const MAX_DIGEST_LIST = 8;
/** sizeof(TPMU_HA) with SHA-512 compiled in: the capacity of a TPM2B_DIGEST on input. */
export const MAX_DIGEST_BUFFER = 64;

export interface PcrSelection {
  /** The bank's hash algorithm (TPMI_ALG_HASH). */
  hashAlg: number;
  /** PCR_SELECT_SIZE octets; bit (pcr % 8) of octet (pcr / 8) selects a PCR. */
  select: Uint8Array;
}

export interface DigestValue {
  alg: HashAlg;
  digest: Uint8Array;
}

/**
 * TPMI_ALG_HASH: a hash algorithm this TPM implements, or TPM_ALG_NULL where the type allows it
 * (returned as undefined). Anything else is TPM_RC_HASH, as libtpms answers for SM3, garbage ids, and
 * TPM_ALG_NULL where it is not allowed (observed from swtpm 0.7.1).
 */
export function readHashAlg(r: TpmReader, allowNull: true): HashAlg | undefined;
export function readHashAlg(r: TpmReader, allowNull?: false): HashAlg;
export function readHashAlg(r: TpmReader, allowNull = false): HashAlg | undefined {
  const alg = r.u16();
  if (alg === ALG.NULL && allowNull) return undefined;
  const h = hashByAlg(alg);
  if (!h) throw new TpmError(RC.HASH, `0x${alg.toString(16).padStart(4, '0')} is not an implemented hash`);
  return h;
}

/** TPML_PCR_SELECTION: count (≤ MAX_HASH_LIST, else TPM_RC_SIZE), then TPMS_PCR_SELECTION each. */
export function readPcrSelection(r: TpmReader): PcrSelection[] {
  const count = r.u32();
  if (count > MAX_HASH_LIST) throw new TpmError(RC.SIZE, `${count} PCR selections`);
  const out: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = readHashAlg(r).alg;
    const size = r.u8();
    if (size !== PCR_SELECT_SIZE) throw new TpmError(RC.VALUE, `sizeofSelect ${size}`);
    out.push({ hashAlg, select: r.bytes(size) });
  }
  return out;
}

export function writePcrSelection(w: TpmWriter, selections: readonly PcrSelection[]): void {
  w.u32(selections.length);
  for (const s of selections) w.u16(s.hashAlg).u8(s.select.length).bytes(s.select);
}

export function isPcrSelected(selection: PcrSelection, pcr: number): boolean {
  return pcr < PCR_COUNT && ((selection.select[pcr >> 3] ?? 0) & (1 << (pcr & 7))) !== 0;
}

/** The selected PCR indices, lowest first. */
export function selectedPcrs(selection: PcrSelection): number[] {
  const out: number[] = [];
  for (let pcr = 0; pcr < PCR_COUNT; pcr++) if (isPcrSelected(selection, pcr)) out.push(pcr);
  return out;
}

/** A selection of the given PCRs in one bank. */
export function pcrSelectionOf(hashAlg: number, pcrs: readonly number[]): PcrSelection {
  const select = new Uint8Array(PCR_SELECT_SIZE);
  for (const pcr of pcrs) {
    if (pcr < 0 || pcr >= PCR_COUNT) throw new RangeError(`PCR ${pcr} out of range`);
    select[pcr >> 3]! |= 1 << (pcr & 7);
  }
  return { hashAlg, select };
}

/** TPML_DIGEST_VALUES: count (≤ MAX_HASH_LIST), then TPMT_HA each (hashAlg, digest of its size). */
export function readDigestValues(r: TpmReader): DigestValue[] {
  const count = r.u32();
  if (count > MAX_HASH_LIST) throw new TpmError(RC.SIZE, `${count} digests`);
  const out: DigestValue[] = [];
  for (let i = 0; i < count; i++) {
    const alg = readHashAlg(r);
    out.push({ alg, digest: r.bytes(alg.digestSize) });
  }
  return out;
}

export function writeDigestValues(w: TpmWriter, values: readonly DigestValue[]): void {
  w.u32(values.length);
  for (const v of values) w.u16(v.alg.alg).bytes(v.digest);
}

/** TPML_DIGEST: count (≤ 8, else TPM_RC_SIZE), then TPM2B_DIGEST each. */
export function readDigestList(r: TpmReader): Uint8Array[] {
  const count = r.u32();
  if (count > MAX_DIGEST_LIST) throw new TpmError(RC.SIZE, `${count} digests`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(r.tpm2b(MAX_DIGEST_BUFFER));
  return out;
}

export function writeDigestList(w: TpmWriter, digests: readonly Uint8Array[]): void {
  w.u32(digests.length);
  for (const d of digests) w.tpm2b(d);
}
