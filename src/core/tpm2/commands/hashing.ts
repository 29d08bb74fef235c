// The hash commands (TPM 2.0 Part 3 §15.4, §17): Hash, HashSequenceStart, SequenceUpdate,
// SequenceComplete and EventSequenceComplete, as libtpms 0.9 (HashCommands.c, Hash in SymmetricCommands.c,
// Ticket.c), checked against swtpm 0.7.1 (see commands/hashing.test.ts for the observed codes).
//
// A sequence keeps all its data (state.ts HashSequence) and is hashed on completion; what libtpms tracks
// incrementally and a client can notice — whether the ticket is safe — is kept in `ticketSafe`.
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { defineCommand, param } from '../command';
import type { CommandSpec } from '../command';
import { ALG, CC, RH, ST } from '../constants';
import type { TpmContext } from '../context';
import { digest, HASH_ALGS, hashByAlg, type HashAlg } from '../hash';
import type { TpmReader, TpmWriter } from '../marshal';
import { readHashAlg, writeDigestValues } from '../pcr-select';
import { RC, rcHandle, rcParam, TpmError } from '../rc';
import type { HashSequence } from '../state';
import { checkExtendLocality, eventDigests, hashCostNs } from './pcr';
import { trimAuth } from '../auth';

/** TPM2B_MAX_BUFFER capacity (MAX_DIGEST_BUFFER in libtpms). */
export const MAX_BUFFER = 1024;
/** TPM2B_AUTH capacity: sizeof(TPMU_HA) with SHA-512 compiled in. */
const MAX_AUTH = 64;
/** TPM_GENERATED_VALUE: data starting with it never gets a hashcheck ticket. */
const TPM_GENERATED_VALUE = [0xff, 0x54, 0x43, 0x47] as const;

/** TicketIsSafe: a buffer shorter than TPM_GENERATED_VALUE, or one starting with it, is not safe. */
function ticketIsSafe(data: Uint8Array): boolean {
  if (data.length < TPM_GENERATED_VALUE.length) return false;
  return !TPM_GENERATED_VALUE.every((b, i) => data[i] === b);
}

function u16(v: number): Uint8Array {
  return new Uint8Array([(v >>> 8) & 0xff, v & 0xff]);
}

/**
 * TicketComputeHashCheck: HMAC(proof, TPM_ST_HASHCHECK || hashAlg || digest), keyed with the hierarchy's
 * proof, using CONTEXT_INTEGRITY_HASH_ALG — SHA-512 in libtpms 0.9, which is why swtpm's hashcheck
 * tickets carry a 64-octet digest (observed). Exported for commands that verify such tickets.
 */
export function hashCheckTicketDigest(
  ctx: TpmContext,
  hierarchy: number,
  hashAlg: number,
  dataDigest: Uint8Array,
): Uint8Array {
  const h = hmac.create(sha512, ctx.hierarchyProof(hierarchy));
  h.update(u16(ST.HASHCHECK));
  h.update(u16(hashAlg));
  h.update(dataDigest);
  return h.digest();
}

/** TPMT_TK_HASHCHECK: a real ticket when `safe` and the hierarchy is not TPM_RH_NULL, else the NULL ticket. */
function writeHashCheck(
  ctx: TpmContext,
  w: TpmWriter,
  hierarchy: number,
  safe: boolean,
  alg: HashAlg,
  dataDigest: Uint8Array,
): void {
  w.u16(ST.HASHCHECK);
  if (hierarchy === RH.NULL || !safe) {
    w.u32(RH.NULL).u16(0);
    return;
  }
  w.u32(hierarchy).tpm2b(hashCheckTicketDigest(ctx, hierarchy, alg.alg, dataDigest));
}

/** TPMI_RH_HIERARCHY+ as a parameter: owner, endorsement, platform or TPM_RH_NULL; else TPM_RC_VALUE. */
function readHierarchy(r: TpmReader): number {
  const h = r.u32();
  if (h !== RH.OWNER && h !== RH.ENDORSEMENT && h !== RH.PLATFORM && h !== RH.NULL) {
    throw new TpmError(RC.VALUE, `0x${h.toString(16)} is not a hierarchy`);
  }
  return h;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The sequence behind a handle the dispatcher validated, or TPM_RC_MODE with the number libtpms uses for
 * that command (a loaded object that is not a sequence of the wanted kind).
 */
function sequenceOrMode(ctx: TpmContext, handle: number, rcIfNot: number): HashSequence {
  const seq = ctx.findSequence(handle);
  if (!seq) throw new TpmError(rcIfNot, `0x${handle.toString(16)} is not a sequence object`);
  return seq;
}

function isEventSequence(seq: HashSequence): boolean {
  return seq.hashAlg === ALG.NULL;
}

export const Hash = defineCommand({
  code: CC.Hash,
  name: 'Hash',
  handles: [],
  duration: 'short',
  parse: (r) => ({
    data: param(1, () => r.tpm2b(MAX_BUFFER)),
    alg: param(2, () => readHashAlg(r)),
    hierarchy: param(3, () => readHierarchy(r)),
  }),
  run(ctx, call, { data, alg, hierarchy }) {
    const outHash = digest(alg, data);
    call.out.tpm2b(outHash);
    // TPM2_Hash (unlike a sequence) tickets data shorter than TPM_GENERATED_VALUE (observed).
    const safe = data.length < TPM_GENERATED_VALUE.length || ticketIsSafe(data);
    writeHashCheck(ctx, call.out, hierarchy, safe, alg, outHash);
    call.extraCostNs += hashCostNs(data.length);
  },
});

export const HashSequenceStart = defineCommand({
  code: CC.HashSequenceStart,
  name: 'HashSequenceStart',
  handles: [],
  responseHandle: true,
  duration: 'medium',
  parse: (r) => ({
    auth: param(1, () => r.tpm2b(MAX_AUTH)),
    // TPM_ALG_NULL starts an event sequence (hashed with every bank's algorithm).
    alg: param(2, () => readHashAlg(r, true)),
  }),
  run(ctx, call, { auth, alg }) {
    const handle = ctx.allocateTransientHandle();
    ctx.vol.sequences.push({
      handle,
      hashAlg: alg?.alg ?? ALG.NULL,
      authValue: trimAuth(auth).slice(),
      data: new Uint8Array(0),
    });
    call.responseHandle = handle;
  },
});

export const SequenceUpdate = defineCommand({
  code: CC.SequenceUpdate,
  name: 'SequenceUpdate',
  handles: [{ kind: 'sequence', auth: true }],
  duration: 'medium',
  parse: (r) => param(1, () => r.tpm2b(MAX_BUFFER)),
  run(ctx, call, buffer) {
    // libtpms 0.9.2 numbers this one as parameter 1: 0x1c9 (observed from swtpm 0.7.1).
    const seq = sequenceOrMode(ctx, call.handles[0]!, rcParam(RC.MODE, 1));
    if (!isEventSequence(seq) && seq.ticketSafe === undefined) seq.ticketSafe = ticketIsSafe(buffer);
    seq.data = concat(seq.data, buffer);
    call.extraCostNs += hashCostNs(buffer.length, isEventSequence(seq) ? HASH_ALGS.length : 1);
  },
});

export const SequenceComplete = defineCommand({
  code: CC.SequenceComplete,
  name: 'SequenceComplete',
  handles: [{ kind: 'sequence', auth: true }],
  duration: 'medium',
  parse: (r) => ({
    buffer: param(1, () => r.tpm2b(MAX_BUFFER)),
    hierarchy: param(2, () => readHierarchy(r)),
  }),
  run(ctx, call, { buffer, hierarchy }) {
    const handle = call.handles[0]!;
    const seq = sequenceOrMode(ctx, handle, rcHandle(RC.MODE, 1));
    if (isEventSequence(seq))
      throw new TpmError(rcHandle(RC.MODE, 1), 'an event sequence needs EventSequenceComplete');
    const alg = hashByAlg(seq.hashAlg)!;
    const result = digest(alg, seq.data, buffer);
    const safe = seq.ticketSafe ?? ticketIsSafe(buffer);
    call.out.tpm2b(result);
    writeHashCheck(ctx, call.out, hierarchy, safe, alg, result);
    ctx.flushTransient(handle);
    call.extraCostNs += hashCostNs(buffer.length);
  },
});

export const EventSequenceComplete = defineCommand({
  code: CC.EventSequenceComplete,
  name: 'EventSequenceComplete',
  handles: [
    { kind: 'pcr', auth: true, allowNull: true },
    { kind: 'sequence', auth: true },
  ],
  duration: 'medium',
  parse: (r) => param(1, () => r.tpm2b(MAX_BUFFER)),
  run(ctx, call, buffer) {
    const pcr = call.handles[0]!;
    const handle = call.handles[1]!;
    // The sequence check comes before the locality check (observed: 0x289 from locality 0 for PCR 17).
    const seq = sequenceOrMode(ctx, handle, rcHandle(RC.MODE, 2));
    if (!isEventSequence(seq)) throw new TpmError(rcHandle(RC.MODE, 2), 'not an event sequence');
    checkExtendLocality(pcr, call);
    writeDigestValues(call.out, eventDigests(ctx, pcr, concat(seq.data, buffer)));
    ctx.flushTransient(handle);
    call.extraCostNs += hashCostNs(buffer.length, HASH_ALGS.length);
  },
});

export const HASH_COMMANDS: readonly CommandSpec[] = [
  SequenceComplete,
  SequenceUpdate,
  Hash,
  EventSequenceComplete,
  HashSequenceStart,
];
