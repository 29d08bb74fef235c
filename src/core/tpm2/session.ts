// HMAC sessions (TPM 2.0 Part 1 §19, Part 3 §11.1): TPM2_StartAuthSession, the session HMACs over cpHash
// and rpHash, and parameter encryption (Part 1 §21: AES-CFB or XOR), after libtpms SessionCommands.c,
// Session.c, SessionProcess.c and CryptUtil.c. The authorization area itself is processed in auth.ts.
//
// Not implemented: salted sessions (tpmKey other than TPM_RH_NULL), policy and trial sessions, audit.
import { cfb } from '@noble/ciphers/aes.js';
import { defineCommand, param } from './command';
import { ALG, CC, HMAC_SESSION_FIRST, HT, RH } from './constants';
import type { TpmContext } from './context';
import { kdfa } from './crypto/kdf';
import { digest, hashByAlg, hmacDigest, type HashAlg } from './hash';
import { authValueOf, isDaExempt } from './handles';
import { TpmWriter, type TpmReader } from './marshal';
import { nvName, nvPublicOf } from './nv-public';
import { handleName, readHashAlg } from './public-area';
import { RC, rcParam, TpmError } from './rc';
import { MAX_ACTIVE_SESSIONS, MAX_LOADED_SESSIONS, type AuthSession } from './state';

/** TPM_SE session types (Part 2 §6.11). */
export const SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/** TPM2B_NONCE / TPM2B_AUTH capacity (sizeof(TPMU_HA) with SHA-512). */
const MAX_NONCE = 64;
/** TPM2B_ENCRYPTED_SECRET capacity (sizeof(TPMU_ENCRYPTED_SECRET): an RSA-3072 ciphertext). */
const MAX_ENCRYPTED_SECRET = 384;
/** The smallest nonceCaller StartAuthSession accepts (Part 3 §11.1). */
const MIN_NONCE_CALLER = 16;

/**
 * Commands whose first command parameter (decrypt) or first response parameter (encrypt) is a TPM2B with
 * a 2-byte size, so that a session may encrypt it: libtpms' DECRYPT_2 / ENCRYPT_2 command attributes for
 * the commands this engine implements. A session asking for it on any other command is
 * TPM_RC_ATTRIBUTES + the session number.
 */
const PARAM_ENCRYPTION = new Map<number, { decrypt: boolean; encrypt: boolean }>([
  [CC.NV_UndefineSpace, { decrypt: false, encrypt: false }],
  [CC.HierarchyChangeAuth, { decrypt: true, encrypt: false }],
  [CC.NV_DefineSpace, { decrypt: true, encrypt: false }],
  [CC.CreatePrimary, { decrypt: true, encrypt: true }],
  [CC.NV_Increment, { decrypt: false, encrypt: false }],
  [CC.NV_Write, { decrypt: true, encrypt: false }],
  [CC.EventSequenceComplete, { decrypt: true, encrypt: false }],
  [CC.StirRandom, { decrypt: true, encrypt: false }],
  [CC.SequenceComplete, { decrypt: true, encrypt: true }],
  [CC.NV_Read, { decrypt: false, encrypt: true }],
  [CC.PCR_Event, { decrypt: true, encrypt: false }],
  [CC.NV_ReadPublic, { decrypt: false, encrypt: true }],
  [CC.ReadPublic, { decrypt: false, encrypt: true }],
  [CC.StartAuthSession, { decrypt: true, encrypt: true }],
  [CC.GetRandom, { decrypt: false, encrypt: true }],
  [CC.Hash, { decrypt: true, encrypt: true }],
  [CC.SequenceUpdate, { decrypt: true, encrypt: false }],
  [CC.HashSequenceStart, { decrypt: true, encrypt: false }],
  [CC.GetTestResult, { decrypt: false, encrypt: true }],
]);

export function allowsDecrypt(code: number): boolean {
  return PARAM_ENCRYPTION.get(code)?.decrypt === true;
}

export function allowsEncrypt(code: number): boolean {
  return PARAM_ENCRYPTION.get(code)?.encrypt === true;
}

export function sessionHash(session: AuthSession): HashAlg {
  return hashByAlg(session.authHash)!;
}

/**
 * EntityGetName: an NV index's Name is nameAlg || H(TPMS_NV_PUBLIC), an object's its stored Name, a hash
 * sequence's the Empty Buffer; every other handle (permanent, PCR, session) is named by its 4 octets.
 */
export function entityName(ctx: TpmContext, handle: number): Uint8Array {
  switch (handle >>> 24) {
    case HT.NV_INDEX: {
      const index = ctx.findNv(handle);
      return index ? nvName(nvPublicOf(index)) : handleName(handle);
    }
    case HT.TRANSIENT:
    case HT.PERSISTENT: {
      const object = ctx.findObject(handle);
      if (object) return object.name;
      return ctx.findSequence(handle) ? new Uint8Array(0) : handleName(handle);
    }
    default:
      return handleName(handle);
  }
}

/** cpHash := H_authHash(commandCode || Name1 || Name2 || ... || parameters), as received (encrypted). */
export function cpHash(
  hash: HashAlg,
  code: number,
  names: readonly Uint8Array[],
  params: Uint8Array,
): Uint8Array {
  return digest(hash, new TpmWriter(4).u32(code).finish(), ...names, params);
}

/** rpHash := H_authHash(TPM_RC_SUCCESS || commandCode || parameters), as sent (encrypted). */
export function rpHash(hash: HashAlg, code: number, params: Uint8Array): Uint8Array {
  return digest(hash, new TpmWriter(8).u32(RC.SUCCESS).u32(code).finish(), params);
}

/** HMAC_authHash(key, pHash || nonceNewer || nonceOlder || [extra nonces] || sessionAttributes). */
export function sessionHmac(
  hash: HashAlg,
  key: Uint8Array,
  pHash: Uint8Array,
  nonces: readonly Uint8Array[],
  attributes: number,
): Uint8Array {
  return hmacDigest(hash, key, pHash, ...nonces, Uint8Array.of(attributes));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Parameter encryption of `data` in place (Part 1 §21): AES-CFB with key || IV from
 * KDFa(authHash, sessionKey || authValue, "CFB", nonceNewer, nonceOlder, keyBits + 128), or XOR with the
 * mask KDFa(authHash, sessionKey || authValue, "XOR", nonceNewer, nonceOlder, 8 * size).
 * For a command the newer nonce is nonceCaller; for a response it is the new nonceTPM.
 */
export function cryptParameter(
  session: AuthSession,
  authValue: Uint8Array,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  data: Uint8Array,
  encrypt: boolean,
): void {
  const hash = sessionHash(session);
  const key = concat(session.sessionKey, authValue);
  if (session.symAlgorithm === ALG.XOR) {
    const mask = kdfa(hash, key, 'XOR', nonceNewer, nonceOlder, data.length * 8);
    for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ mask[i]!;
    return;
  }
  const keyBytes = session.symKeyBits / 8;
  const material = kdfa(hash, key, 'CFB', nonceNewer, nonceOlder, session.symKeyBits + 128);
  const cipher = cfb(material.subarray(0, keyBytes), material.subarray(keyBytes, keyBytes + 16));
  data.set(encrypt ? cipher.encrypt(data) : cipher.decrypt(data));
}

/** The lowest free session context slot, as libtpms' ContextIdSessionCreate. */
function allocateSessionHandle(ctx: TpmContext): number {
  // SessionCreate: no free loaded-session slot is TPM_RC_SESSION_MEMORY (observed 0x903 from swtpm 0.7.1).
  if (ctx.vol.sessions.length >= MAX_LOADED_SESSIONS) {
    throw new TpmError(RC.SESSION_MEMORY, 'all session slots are in use');
  }
  const used = new Set(ctx.vol.sessions.map((s) => s.handle & 0xffffff));
  for (let slot = 0; slot < MAX_ACTIVE_SESSIONS; slot++) {
    if (!used.has(slot)) return HMAC_SESSION_FIRST + slot;
  }
  throw new TpmError(RC.SESSION_HANDLES, 'no session handle is free');
}

interface StartAuthSessionParams {
  nonceCaller: Uint8Array;
  encryptedSalt: Uint8Array;
  sessionType: number;
  symAlgorithm: number;
  symKeyBits: number;
  symMode: number;
  authHash: number;
}

/** TPMT_SYM_DEF+ (TPMI_ALG_SYM: AES, XOR or NULL; AES key bits 128/256; any TPMI_ALG_SYM_MODE). */
function readSymDef(r: TpmReader): { alg: number; keyBits: number; mode: number } {
  const alg = r.u16();
  if (alg === ALG.NULL) return { alg, keyBits: 0, mode: ALG.NULL };
  if (alg === ALG.XOR) return { alg, keyBits: readHashAlg(r, false), mode: ALG.NULL };
  if (alg !== ALG.AES) throw new TpmError(RC.SYMMETRIC, `symmetric algorithm 0x${alg.toString(16)}`);
  const keyBits = r.u16();
  if (keyBits !== 128 && keyBits !== 256) throw new TpmError(RC.VALUE, `AES key size ${keyBits}`);
  const mode = r.u16();
  const modes: number[] = [ALG.CTR, ALG.OFB, ALG.CBC, ALG.CFB, ALG.ECB, ALG.NULL];
  if (!modes.includes(mode)) throw new TpmError(RC.MODE, `symmetric mode 0x${mode.toString(16)}`);
  return { alg, keyBits, mode };
}

export const StartAuthSession = defineCommand<StartAuthSessionParams>({
  code: CC.StartAuthSession,
  name: 'StartAuthSession',
  handles: [
    { kind: 'object', auth: false, allowNull: true },
    { kind: 'entity', auth: false, allowNull: true },
  ],
  responseHandle: true,
  duration: 'medium',
  parse: (r) => {
    const nonceCaller = param(1, () => r.tpm2b(MAX_NONCE));
    const encryptedSalt = param(2, () => r.tpm2b(MAX_ENCRYPTED_SECRET));
    const sessionType = param(3, () => {
      const t = r.u8();
      if (t !== SE.HMAC && t !== SE.POLICY && t !== SE.TRIAL) {
        throw new TpmError(RC.VALUE, `session type 0x${t.toString(16)}`);
      }
      return t;
    });
    const sym = param(4, () => readSymDef(r));
    const authHash = param(5, () => readHashAlg(r, false));
    return {
      nonceCaller,
      encryptedSalt,
      sessionType,
      symAlgorithm: sym.alg,
      symKeyBits: sym.keyBits,
      symMode: sym.mode,
      authHash,
    };
  },
  run(ctx, call, p) {
    const [tpmKey, bind] = call.handles as [number, number];
    const hash = hashByAlg(p.authHash)!;
    if (p.nonceCaller.length < MIN_NONCE_CALLER || p.nonceCaller.length > hash.digestSize) {
      throw new TpmError(rcParam(RC.SIZE, 1), `nonceCaller of ${p.nonceCaller.length} bytes`);
    }
    if (tpmKey !== RH.NULL) {
      // Salt decryption (RSA-OAEP / ECDH with the tpmKey) is not implemented in this engine.
      throw new TpmError(rcParam(RC.VALUE, 2), 'salted sessions are not implemented');
    }
    if (p.encryptedSalt.length !== 0) throw new TpmError(rcParam(RC.VALUE, 2), 'a salt without tpmKey');
    if (p.sessionType !== SE.HMAC) {
      // Policy sessions need the Policy* commands, which this engine does not implement.
      throw new TpmError(rcParam(RC.VALUE, 3), 'only HMAC sessions are implemented');
    }
    if (p.symAlgorithm !== ALG.NULL && p.symAlgorithm !== ALG.XOR && p.symMode !== ALG.CFB) {
      throw new TpmError(rcParam(RC.MODE, 4), 'parameter encryption needs CFB mode');
    }
    const handle = allocateSessionHandle(ctx);
    // libtpms SessionCreate: nonceTPM has the size of nonceCaller (observed: 16 octets for 16).
    const nonceTPM = ctx.random(p.nonceCaller.length);
    const bound = bind !== RH.NULL;
    const bindAuth = bound ? trimZeros(authValueOf(ctx, bind)) : new Uint8Array(0);
    // Unbound and unsalted: the session key is empty (Part 1 §19.6.8).
    const sessionKey = bound
      ? kdfa(hash, bindAuth, 'ATH', nonceTPM, p.nonceCaller, hash.digestSize * 8)
      : new Uint8Array(0);
    const session: AuthSession = {
      handle,
      authHash: p.authHash,
      symAlgorithm: p.symAlgorithm,
      symKeyBits: p.symKeyBits,
      symMode: p.symMode,
      sessionKey,
      nonceTPM,
      bound,
      boundName: bound ? entityName(ctx, bind) : new Uint8Array(0),
      boundAuth: bindAuth,
      daBound: bound && !isDaExempt(ctx, bind),
    };
    ctx.vol.sessions.push(session);
    call.responseHandle = handle;
    call.out.tpm2b(nonceTPM);
  },
});

function trimZeros(auth: Uint8Array): Uint8Array {
  let end = auth.length;
  while (end > 0 && auth[end - 1] === 0) end--;
  return auth.slice(0, end);
}

/** IsSessionBindEntity: the session is bound to this entity, whose Name and authValue are unchanged. */
export function isBoundTo(ctx: TpmContext, session: AuthSession, handle: number): boolean {
  if (!session.bound) return false;
  return (
    bytesEqual(entityName(ctx, handle), session.boundName) &&
    bytesEqual(trimZeros(authValueOf(ctx, handle)), session.boundAuth)
  );
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
