// TPM2_ContextSave (Part 3 §28.2) and TPM2_ContextLoad (§28.3) for transient objects and hash sequences,
// with the checks and codes of libtpms 0.9 (ContextCommands.c, Context_spt.c) as swtpm 0.7.1 answers.
//
// TPMS_CONTEXT: sequence (u64) | savedHandle | hierarchy | contextBlob, where contextBlob is
//   TPM2B integrity (HMAC-SHA512, 64 octets, as libtpms) || AES-256-CFB(sequence || object)
// keyed from the hierarchy's proof: KDFa(SHA-384, proof, "CONTEXT", sequence, resetCount) gives key || IV,
// and the HMAC covers resetCount || sequence || savedHandle || hierarchy || the encrypted part. A changed
// octet, another hierarchy, or a TPM Reset since the save (resetCount, and the null hierarchy's proof)
// make ContextLoad fail with TPM_RC_INTEGRITY + P1. The object inside is this engine's own encoding.
//
// Not implemented: saving session contexts (this engine keeps sessions loaded until flushed).
import { cfb } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { defineCommand, param, type CommandSpec } from '../command';
import { CC, HT, RH, TRANSIENT_FIRST } from '../constants';
import type { TpmContext } from '../context';
import { kdfa } from '../crypto/kdf';
import { hashByName } from '../hash';
import { TpmReader, TpmWriter } from '../marshal';
import { OBJECT_ATTR } from '../public-area';
import { RC, rcHandle, rcParam, TpmError } from '../rc';
import type { HashSequence, LoadedObject } from '../state';

/** The largest contextBlob ContextLoad accepts (observed from swtpm 0.7.1: 0xabc, one more is 0x1d5). */
export const MAX_CONTEXT_BLOB = 0xabc;
const INTEGRITY_SIZE = 64;
const FINGERPRINT_SIZE = 8;
/** savedHandle of a saved object, a saved hash sequence, and a saved stClear object (libtpms). */
const SAVED_OBJECT = TRANSIENT_FIRST;
const SAVED_SEQUENCE = TRANSIENT_FIRST + 1;
const SAVED_ST_CLEAR = TRANSIENT_FIRST + 2;
const KIND_OBJECT = 0;
const KIND_SEQUENCE = 1;

interface SavedContext {
  sequence: bigint;
  savedHandle: number;
  hierarchy: number;
  blob: Uint8Array;
}

function u64(v: bigint): Uint8Array {
  return new TpmWriter(8).u64(v).finish();
}

function protectionKey(ctx: TpmContext, c: Omit<SavedContext, 'blob'>): { key: Uint8Array; iv: Uint8Array } {
  const material = kdfa(
    hashByName('sha384'),
    ctx.hierarchyProof(c.hierarchy),
    'CONTEXT',
    u64(c.sequence),
    u64(BigInt(ctx.perm.resetCount)),
    (32 + 16) * 8,
  );
  return { key: material.subarray(0, 32), iv: material.subarray(32, 48) };
}

function integrity(ctx: TpmContext, c: Omit<SavedContext, 'blob'>, encrypted: Uint8Array): Uint8Array {
  return hmac
    .create(sha512, ctx.hierarchyProof(c.hierarchy))
    .update(u64(BigInt(ctx.perm.resetCount)))
    .update(u64(c.sequence))
    .update(new TpmWriter(8).u32(c.savedHandle).u32(c.hierarchy).finish())
    .update(encrypted)
    .digest();
}

function encodeObject(w: TpmWriter, o: LoadedObject): void {
  w.u8(KIND_OBJECT)
    .tpm2b(o.publicArea)
    .tpm2b(o.name)
    .tpm2b(o.qualifiedName)
    .tpm2b(o.authValue)
    .tpm2b(o.sensitive);
}

function encodeSequence(w: TpmWriter, s: HashSequence): void {
  w.u8(KIND_SEQUENCE)
    .u16(s.hashAlg)
    .tpm2b(s.authValue)
    .u8(s.ticketSafe === undefined ? 2 : s.ticketSafe ? 1 : 0)
    .u32(s.data.length)
    .bytes(s.data);
}

/** TPMI_DH_SAVED: an object, sequence or stClear object context, or a session; else TPM_RC_VALUE. */
function readSavedHandle(r: TpmReader): number {
  const h = r.u32();
  const ht = h >>> 24;
  const ok =
    (h >= SAVED_OBJECT && h <= SAVED_ST_CLEAR) ||
    ((ht === HT.HMAC_SESSION || ht === HT.POLICY_SESSION) && (h & 0xffffff) < 64);
  if (!ok) throw new TpmError(RC.VALUE, `0x${h.toString(16)} is not a saved context handle`);
  return h;
}

/** TPMI_RH_HIERARCHY+: owner, endorsement, platform or null; else TPM_RC_VALUE. */
function readHierarchy(r: TpmReader): number {
  const h = r.u32();
  if (h !== RH.OWNER && h !== RH.ENDORSEMENT && h !== RH.PLATFORM && h !== RH.NULL) {
    throw new TpmError(RC.VALUE, `0x${h.toString(16)} is not a hierarchy`);
  }
  return h;
}

export const ContextSave = defineCommand({
  code: CC.ContextSave,
  name: 'ContextSave',
  handles: [{ kind: 'loadedContext', auth: false }],
  noSessions: true,
  duration: 'short',
  parse: () => undefined,
  run(ctx, call) {
    const handle = call.handles[0]!;
    if (handle >>> 24 !== HT.TRANSIENT) {
      throw new TpmError(rcHandle(RC.HANDLE, 1), 'saving a session context is not implemented');
    }
    const body = new TpmWriter();
    let savedHandle: number;
    let hierarchy: number;
    const object = ctx.findObject(handle);
    if (object) {
      encodeObject(body, object);
      const pub = object.publicArea;
      const attributes = ((pub[4]! << 24) | (pub[5]! << 16) | (pub[6]! << 8) | pub[7]!) >>> 0;
      savedHandle = attributes & OBJECT_ATTR.stClear ? SAVED_ST_CLEAR : SAVED_OBJECT;
      hierarchy = object.hierarchy;
    } else {
      const seq = ctx.findSequence(handle)!;
      encodeSequence(body, seq);
      savedHandle = SAVED_SEQUENCE;
      // A sequence belongs to the null hierarchy (libtpms ObjectGetHierarchy of a sequence object).
      hierarchy = RH.NULL;
    }
    const contents = body.finish();
    if (2 + INTEGRITY_SIZE + FINGERPRINT_SIZE + contents.length > MAX_CONTEXT_BLOB) {
      throw new TpmError(RC.MEMORY, 'the sequence has too much data to save in a context');
    }
    const sequence = BigInt(ctx.vol.objectContextId + 1);
    const c = { sequence, savedHandle, hierarchy };
    const { key, iv } = protectionKey(ctx, c);
    const plain = new TpmWriter(FINGERPRINT_SIZE + contents.length).u64(sequence).bytes(contents).finish();
    const encrypted = cfb(key, iv).encrypt(plain);
    ctx.vol.objectContextId += 1;
    call.out
      .u64(sequence)
      .u32(savedHandle)
      .u32(hierarchy)
      .u16(2 + INTEGRITY_SIZE + encrypted.length)
      .tpm2b(integrity(ctx, c, encrypted))
      .bytes(encrypted);
  },
});

export const ContextLoad = defineCommand<SavedContext>({
  code: CC.ContextLoad,
  name: 'ContextLoad',
  handles: [],
  responseHandle: true,
  noSessions: true,
  duration: 'short',
  parse: (r) =>
    param(1, () => ({
      sequence: r.u64(),
      savedHandle: readSavedHandle(r),
      hierarchy: readHierarchy(r),
      blob: r.tpm2b(MAX_CONTEXT_BLOB),
    })),
  run(ctx, call, c) {
    const r = new TpmReader(c.blob);
    // An unreadable integrity field is a bare unmarshal code (observed: 0x09a for a 0–2 octet blob).
    const given = r.tpm2b(INTEGRITY_SIZE);
    if (given.length !== INTEGRITY_SIZE || r.remaining < FINGERPRINT_SIZE) {
      throw new TpmError(rcParam(RC.SIZE, 1), 'context blob too short');
    }
    const encrypted = r.bytes(r.remaining);
    const expected = integrity(ctx, c, encrypted);
    let diff = 0;
    for (let i = 0; i < INTEGRITY_SIZE; i++) diff |= expected[i]! ^ given[i]!;
    if (diff !== 0) throw new TpmError(rcParam(RC.INTEGRITY, 1), 'context integrity check failed');
    const { key, iv } = protectionKey(ctx, c);
    const plain = new TpmReader(cfb(key, iv).decrypt(encrypted));
    // A matching HMAC with a wrong fingerprint means a broken TPM: libtpms enters failure mode.
    if (plain.u64() !== c.sequence) throw new TpmError(RC.FAILURE, 'context fingerprint mismatch');
    const handle = ctx.allocateTransientHandle();
    if (plain.u8() === KIND_OBJECT) {
      const object: LoadedObject = {
        handle,
        hierarchy: c.hierarchy,
        publicArea: plain.tpm2b(0xffff),
        name: plain.tpm2b(0xffff),
        qualifiedName: plain.tpm2b(0xffff),
        authValue: plain.tpm2b(0xffff),
        sensitive: plain.tpm2b(0xffff),
      };
      ctx.vol.objects.push(object);
    } else {
      const hashAlg = plain.u16();
      const authValue = plain.tpm2b(0xffff);
      const safe = plain.u8();
      const data = plain.bytes(plain.u32());
      const seq: HashSequence = { handle, hashAlg, authValue, data };
      if (safe !== 2) seq.ticketSafe = safe === 1;
      ctx.vol.sequences.push(seq);
    }
    call.responseHandle = handle;
  },
});

export const CONTEXT_COMMANDS: readonly CommandSpec[] = [ContextSave, ContextLoad];
