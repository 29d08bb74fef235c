// The PCR commands (TPM 2.0 Part 3 §22): PCR_Read, PCR_Extend, PCR_Event, PCR_Reset, with the PC Client
// locality rules and pcrUpdateCounter of libtpms 0.9 (PCR.c, IntegrityCommands.c). Every rule below was
// checked against swtpm 0.7.1; see commands/pcr.test.ts for the observed codes.
//
// One deliberate difference: libtpms 0.9 also has a SHA-512 bank. This engine has SHA-1, SHA-256 and
// SHA-384 only, so SHA-512 in a selection or digest list is TPM_RC_HASH here, and PCR_Event returns three
// digests where swtpm returns four.
import { defineCommand, param, type CommandCall } from '../command';
import { CC, RH } from '../constants';
import type { TpmContext } from '../context';
import { HASH_COST_NS_PER_KIB } from '../cost';
import { digest, HASH_ALGS, hashByAlg, type HashAlg } from '../hash';
import {
  isPcrSelected,
  readDigestValues,
  readPcrSelection,
  writeDigestList,
  writeDigestValues,
  writePcrSelection,
  type DigestValue,
} from '../pcr-select';
import { RC, TpmError } from '../rc';
import { PCR_COUNT } from '../state';
import type { CommandSpec } from '../command';

/** TPM2B_EVENT capacity. */
export const MAX_EVENT_DATA = 1024;
/** PCR_Read returns at most this many digests (a TPML_DIGEST); the selection out says which. */
export const PCR_READ_MAX_DIGESTS = 8;

/**
 * PC Client PCR attributes as libtpms' s_initAttributes: bit n of a mask = locality n may reset / extend.
 * PCRs 0–15 cannot be reset; 17–19 only from locality 4, which a DRTM-capable TPM never allows for
 * TPM2_PCR_Reset (they are reset by _TPM_Hash_Start instead).
 */
const RESET_LOCALITIES: readonly number[] = [
  ...Array<number>(16).fill(0x00),
  0x0f, // 16: debug
  0x10, // 17: locality 4 (DRTM)
  0x10, // 18
  0x10, // 19
  0x14, // 20: localities 2 and 4
  0x14, // 21: dynamic OS
  0x14, // 22
  0x0f, // 23: application
];
const EXTEND_LOCALITIES: readonly number[] = [
  ...Array<number>(17).fill(0x1f), // 0–16: any locality
  0x1c, // 17: localities 2–4
  0x1c, // 18
  0x0c, // 19: localities 2–3
  0x0e, // 20: localities 1–3
  0x04, // 21: locality 2
  0x04, // 22
  0x1f, // 23
];
/** DRTM_PCR is defined in libtpms: TPM2_PCR_Reset is never allowed from locality 4. */
const DRTM_LOCALITY = 4;
/**
 * PCRs whose changes do not bump pcrUpdateCounter in libtpms 0.9. Observed from swtpm 0.7.1: extending
 * or resetting 16, 21, 22 and 23 leaves the counter unchanged, 20 increments it (and TPM2_Startup(CLEAR)
 * leaves it at 20 = 24 PCRs minus these four).
 */
const NO_INCREMENT = new Set([16, 21, 22, 23]);

function localityBit(locality: number): number {
  return locality >= 0 && locality < 8 ? 1 << locality : 0;
}

/** PCRIsExtendAllowed: may the command's locality extend this PCR? */
export function pcrExtendAllowed(pcr: number, locality: number): boolean {
  return ((EXTEND_LOCALITIES[pcr] ?? 0) & localityBit(locality)) !== 0;
}

/** PCRIsResetAllowed: may the command's locality reset this PCR with TPM2_PCR_Reset? */
export function pcrResetAllowed(pcr: number, locality: number): boolean {
  if (locality === DRTM_LOCALITY) return false;
  return ((RESET_LOCALITIES[pcr] ?? 0) & localityBit(locality)) !== 0;
}

/** PCRChanged: bump pcrUpdateCounter unless the PCR is excluded (PCR 0 always counts). */
export function pcrChanged(ctx: TpmContext, pcr: number): void {
  if (pcr === 0 || !NO_INCREMENT.has(pcr)) ctx.vol.pcrUpdateCounter = (ctx.vol.pcrUpdateCounter + 1) >>> 0;
}

/** PCRExtend: PCR := H(PCR || data) in one bank; each bank extended is one counter change, as libtpms. */
export function extendPcr(ctx: TpmContext, pcr: number, alg: HashAlg, data: Uint8Array): void {
  const bank = ctx.vol.pcrs[alg.name];
  bank[pcr] = digest(alg, bank[pcr]!, data);
  pcrChanged(ctx, pcr);
}

/** Throws TPM_RC_LOCALITY unless the command's locality may extend the PCR (TPM_RH_NULL: nothing to check). */
export function checkExtendLocality(pcr: number, call: CommandCall): void {
  if (pcr === RH.NULL) return;
  if (!pcrExtendAllowed(pcr, call.locality)) {
    throw new TpmError(RC.LOCALITY, `PCR ${pcr} cannot be extended from locality ${call.locality}`);
  }
}

/** Virtual cost of hashing `bytes` once per algorithm. */
export function hashCostNs(bytes: number, algorithms = 1): number {
  return Math.round((bytes * algorithms * HASH_COST_NS_PER_KIB) / 1024);
}

/** Digests of `data` in every bank, extending `pcr` with each unless it is TPM_RH_NULL. */
export function eventDigests(ctx: TpmContext, pcr: number, data: Uint8Array): DigestValue[] {
  return HASH_ALGS.map((alg) => {
    const d = digest(alg, data);
    if (pcr !== RH.NULL) extendPcr(ctx, pcr, alg, d);
    return { alg, digest: d };
  });
}

export const PCR_Read = defineCommand({
  code: CC.PCR_Read,
  name: 'PCR_Read',
  handles: [],
  duration: 'short',
  parse: (r) => param(1, () => readPcrSelection(r)),
  run(ctx, call, selections) {
    // As libtpms' PCRRead: walk the selections in order, return the first eight selected PCRs and clear
    // every selection bit beyond them, so that pcrSelectionOut names exactly the digests returned.
    const values: Uint8Array[] = [];
    const out = selections.map((s) => ({ hashAlg: s.hashAlg, select: s.select.slice() }));
    for (const sel of out) {
      const bank = ctx.vol.pcrs[hashByAlg(sel.hashAlg)!.name];
      for (let pcr = 0; pcr < PCR_COUNT; pcr++) {
        if (!isPcrSelected(sel, pcr)) continue;
        if (values.length >= PCR_READ_MAX_DIGESTS) sel.select[pcr >> 3]! &= ~(1 << (pcr & 7));
        else values.push(bank[pcr]!.slice());
      }
    }
    call.out.u32(ctx.vol.pcrUpdateCounter);
    writePcrSelection(call.out, out);
    writeDigestList(call.out, values);
  },
});

export const PCR_Extend = defineCommand({
  code: CC.PCR_Extend,
  name: 'PCR_Extend',
  handles: [{ kind: 'pcr', auth: true, allowNull: true }],
  duration: 'medium',
  parse: (r) => param(1, () => readDigestValues(r)),
  run(ctx, call, digests) {
    const pcr = call.handles[0]!;
    // TPM_RH_NULL: success, nothing extended.
    if (pcr === RH.NULL) return;
    checkExtendLocality(pcr, call);
    // Every entry extends its bank, even when an algorithm appears twice.
    for (const d of digests) extendPcr(ctx, pcr, d.alg, d.digest);
  },
});

export const PCR_Event = defineCommand({
  code: CC.PCR_Event,
  name: 'PCR_Event',
  handles: [{ kind: 'pcr', auth: true, allowNull: true }],
  duration: 'short',
  parse: (r) => param(1, () => r.tpm2b(MAX_EVENT_DATA)),
  run(ctx, call, eventData) {
    const pcr = call.handles[0]!;
    checkExtendLocality(pcr, call);
    writeDigestValues(call.out, eventDigests(ctx, pcr, eventData));
    call.extraCostNs += hashCostNs(eventData.length, HASH_ALGS.length);
  },
});

export const PCR_Reset = defineCommand({
  code: CC.PCR_Reset,
  name: 'PCR_Reset',
  handles: [{ kind: 'pcr', auth: true }],
  duration: 'short',
  parse: () => undefined,
  run(ctx, call) {
    const pcr = call.handles[0]!;
    if (!pcrResetAllowed(pcr, call.locality)) {
      throw new TpmError(RC.LOCALITY, `PCR ${pcr} cannot be reset from locality ${call.locality}`);
    }
    // Every bank goes to zeros, also for PCRs 17–22 whose power-on value is all ones.
    for (const alg of HASH_ALGS) ctx.vol.pcrs[alg.name][pcr] = new Uint8Array(alg.digestSize);
    pcrChanged(ctx, pcr);
  },
});

export const PCR_COMMANDS: readonly CommandSpec[] = [PCR_Event, PCR_Reset, PCR_Read, PCR_Extend];
