// The authorization area of a command (TPM 2.0 Part 1 §18–§21, the reference code's ParseSessionBuffer
// and BuildResponseSession in SessionProcess.c): password sessions (TPM_RS_PW) and HMAC sessions
// (session.ts) authorize handles; an HMAC session beyond the authorized handles may encrypt the first
// command or response parameter. Audit sessions are not implemented (TPM_RC_ATTRIBUTES + session).
import type { CommandSpec } from './command';
import { ALG, HT, RH, SESSION_ATTR } from './constants';
import type { TpmContext } from './context';
import { authValueAvailable, authValueOf, isDaExempt } from './handles';
import { TpmReader, TpmWriter } from './marshal';
import { attribute, RC, rcSession, TpmError } from './rc';
import {
  allowsDecrypt,
  allowsEncrypt,
  concat,
  cpHash,
  cryptParameter,
  entityName,
  isBoundTo,
  rpHash,
  sessionHash,
  sessionHmac,
} from './session';
import type { AuthSession } from './state';

/** The reference implementation allows at most three sessions per command (MAX_SESSION_NUM). */
export const MAX_SESSION_NUM = 3;
/** sizeof(TPMU_HA) with SHA-512 compiled in: the capacity of TPM2B_NONCE and TPM2B_AUTH. */
const MAX_NONCE_AUTH = 64;

export interface CommandSession {
  handle: number;
  nonce: Uint8Array;
  attributes: number;
  hmac: Uint8Array;
}

/** Parses the authorization area (after authSize); `n` in errors is the 1-based session number. */
export function parseSessions(r: TpmReader, authSize: number): CommandSession[] {
  const sessions: CommandSession[] = [];
  const outerEnd = r.limit(authSize);
  while (r.remaining > 0) {
    const n = sessions.length + 1;
    if (n > MAX_SESSION_NUM) throw new TpmError(RC.AUTHSIZE, 'more than three sessions');
    try {
      const handle = r.u32();
      const ht = handle >>> 24;
      if (handle !== RH.PW && ht !== HT.HMAC_SESSION && ht !== HT.POLICY_SESSION) {
        throw new TpmError(RC.VALUE, `0x${handle.toString(16)} is not a session handle`);
      }
      const nonce = r.tpm2b(MAX_NONCE_AUTH);
      const attributes = r.u8();
      const hmac = r.tpm2b(MAX_NONCE_AUTH);
      sessions.push({ handle, nonce, attributes, hmac });
    } catch (e) {
      attribute(e, (rc) => rcSession(rc, n));
    }
  }
  r.restoreLimit(outerEnd);
  return sessions;
}

/** Removes trailing zero octets, as the TPM does before comparing authValues (Part 1 §19.6.4.3). */
export function trimAuth(auth: Uint8Array): Uint8Array {
  let end = auth.length;
  while (end > 0 && auth[end - 1] === 0) end--;
  return auth.subarray(0, end);
}

export function authMatches(given: Uint8Array, expected: Uint8Array): boolean {
  const a = trimAuth(given);
  const b = trimAuth(expected);
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** One session of the authorization area, resolved against the loaded sessions. */
export interface SessionUse {
  cmd: CommandSession;
  /** The loaded HMAC session; undefined for a password session. */
  session?: AuthSession;
  /** The handle this session authorizes, or undefined for an encrypt/decrypt-only session. */
  associated?: number;
  /** The associated entity's authValue is part of the HMAC key (libtpms includeAuth). */
  includeAuth: boolean;
}

export interface AuthArea {
  uses: SessionUse[];
  /** Index of the session that decrypts the first command parameter, or -1. */
  decryptIndex: number;
  /** Index of the session that encrypts the first response parameter, or -1. */
  encryptIndex: number;
}

/**
 * RetrieveSessionData's per-session checks: a password session has no nonce and no
 * audit/encrypt/decrypt; an HMAC session must be loaded (TPM_RC_REFERENCE_Sn), named once, and may set
 * decrypt/encrypt only on a command that allows it and with a symmetric algorithm.
 */
export function resolveSessions(ctx: TpmContext, spec: CommandSpec, sessions: CommandSession[]): AuthArea {
  const area: AuthArea = { uses: [], decryptIndex: -1, encryptIndex: -1 };
  sessions.forEach((s, i) => {
    const n = i + 1;
    if (s.handle === RH.PW) {
      const forbidden = SESSION_ATTR.audit | SESSION_ATTR.encrypt | SESSION_ATTR.decrypt;
      // A password session has no nonce and cannot audit or encrypt (Part 1 §19.8.4).
      if (s.attributes & forbidden) {
        throw new TpmError(rcSession(RC.ATTRIBUTES, n), 'password session with audit/encrypt/decrypt');
      }
      if (s.nonce.length !== 0) throw new TpmError(rcSession(RC.NONCE, n), 'password session with a nonce');
      area.uses.push({ cmd: s, includeAuth: true });
      return;
    }
    const session = ctx.findSession(s.handle);
    if (!session) {
      throw new TpmError(RC.REFERENCE_S0 + i, `session 0x${s.handle.toString(16)} is not loaded`);
    }
    if (sessions.slice(0, i).some((o) => o.handle === s.handle)) {
      throw new TpmError(rcSession(RC.HANDLE, n), 'the same session twice');
    }
    if (s.attributes & SESSION_ATTR.decrypt) {
      if (!allowsDecrypt(spec.code) || area.decryptIndex >= 0) {
        throw new TpmError(rcSession(RC.ATTRIBUTES, n), `${spec.name} cannot decrypt its first parameter`);
      }
      if (session.symAlgorithm === ALG.NULL) throw new TpmError(rcSession(RC.SYMMETRIC, n), 'no symmetric');
      area.decryptIndex = i;
    }
    if (s.attributes & SESSION_ATTR.encrypt) {
      if (!allowsEncrypt(spec.code) || area.encryptIndex >= 0) {
        throw new TpmError(rcSession(RC.ATTRIBUTES, n), `${spec.name} cannot encrypt its response`);
      }
      if (session.symAlgorithm === ALG.NULL) throw new TpmError(rcSession(RC.SYMMETRIC, n), 'no symmetric');
      area.encryptIndex = i;
    }
    if (s.attributes & SESSION_ATTR.audit) {
      throw new TpmError(rcSession(RC.ATTRIBUTES, n), 'audit sessions are not implemented');
    }
    area.uses.push({ cmd: s, session, includeAuth: false });
  });
  return area;
}

/**
 * The authorization checks of ParseSessionBuffer, session by session: session i authorizes auth handle
 * i; a password session must have one (TPM_RC_HANDLE + session), a session without one must
 * encrypt/decrypt (TPM_RC_ATTRIBUTES + session). Then the decrypt session decrypts the first parameter;
 * returns the parameter bytes to unmarshal.
 */
export function authorize(
  ctx: TpmContext,
  spec: CommandSpec,
  handles: readonly number[],
  area: AuthArea,
  params: Uint8Array,
): Uint8Array {
  const authHandles = spec.handles.flatMap((h, i) => (h.auth ? [handles[i]!] : []));
  let names: Uint8Array[] | undefined;
  const cp = new Map<number, Uint8Array>();
  const cpHashFor = (session: AuthSession) => {
    names ??= handles.map((h) => entityName(ctx, h));
    let v = cp.get(session.authHash);
    if (!v) {
      v = cpHash(sessionHash(session), spec.code, names, params);
      cp.set(session.authHash, v);
    }
    return v;
  };
  area.uses.forEach((use, i) => {
    const n = i + 1;
    const associated = authHandles[i];
    use.associated = associated;
    const session = use.session;
    if (!session) {
      if (associated === undefined) {
        throw new TpmError(rcSession(RC.HANDLE, n), 'password session without a handle to authorize');
      }
      checkAvailable(ctx, spec, associated);
      if (!authMatches(use.cmd.hmac, authValueOf(ctx, associated))) {
        const rc = isDaExempt(ctx, associated) ? RC.BAD_AUTH : RC.AUTH_FAIL;
        throw new TpmError(rcSession(rc, n), `wrong password for session ${n}`);
      }
      return;
    }
    if (associated === undefined) {
      const either = SESSION_ATTR.audit | SESSION_ATTR.encrypt | SESSION_ATTR.decrypt;
      if ((use.cmd.attributes & either) === 0) {
        throw new TpmError(rcSession(RC.ATTRIBUTES, n), 'a session that neither authorizes nor encrypts');
      }
      use.includeAuth = false;
    } else {
      use.includeAuth = !isBoundTo(ctx, session, associated);
      checkAvailable(ctx, spec, associated);
    }
    const key = hmacKey(ctx, use);
    if (key.length === 0 && use.cmd.hmac.length === 0) return; // an empty key allows an empty HMAC
    const nonces = [use.cmd.nonce, session.nonceTPM];
    // The first authorization session also covers the nonces of other decrypt/encrypt sessions.
    if (i === 0 && associated !== undefined) {
      if (area.decryptIndex > 0) nonces.push(area.uses[area.decryptIndex]!.session!.nonceTPM);
      if (area.encryptIndex > 0 && area.encryptIndex !== area.decryptIndex) {
        nonces.push(area.uses[area.encryptIndex]!.session!.nonceTPM);
      }
    }
    const expected = sessionHmac(sessionHash(session), key, cpHashFor(session), nonces, use.cmd.attributes);
    if (!bytesEq(expected, use.cmd.hmac)) {
      // IncrementLockout: no DA consequence unless the entity or the bind is DA-protected.
      const exempt = associated === undefined || isDaExempt(ctx, associated) || !use.includeAuth;
      const rc = !session.daBound && exempt ? RC.BAD_AUTH : RC.AUTH_FAIL;
      throw new TpmError(rcSession(rc, n), `wrong HMAC in session ${n}`);
    }
  });
  if (area.decryptIndex < 0) return params;
  const use = area.uses[area.decryptIndex]!;
  const out = params.slice();
  const size = out.length >= 2 ? (out[0]! << 8) | out[1]! : -1;
  if (size < 0 || size > out.length - 2) {
    throw new TpmError(
      rcSession(RC.SIZE, area.decryptIndex + 1),
      'encrypted parameter larger than the command',
    );
  }
  cryptParameter(
    use.session!,
    associatedAuth(ctx, use),
    use.cmd.nonce,
    use.session!.nonceTPM,
    out.subarray(2, 2 + size),
    false,
  );
  return out;
}

function checkAvailable(ctx: TpmContext, spec: CommandSpec, handle: number): void {
  if (!authValueAvailable(ctx, handle, spec.nvWrite === true)) {
    throw new TpmError(
      RC.AUTH_UNAVAILABLE,
      `the authValue of 0x${handle.toString(16)} cannot authorize ${spec.name}`,
    );
  }
}

function associatedAuth(ctx: TpmContext, use: SessionUse): Uint8Array {
  return use.associated === undefined ? new Uint8Array(0) : trimAuth(authValueOf(ctx, use.associated));
}

/** sessionKey || authValue of the authorized entity (unless the session is bound to it). */
function hmacKey(ctx: TpmContext, use: SessionUse): Uint8Array {
  const session = use.session!;
  return use.includeAuth ? concat(session.sessionKey, associatedAuth(ctx, use)) : session.sessionKey;
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * BuildResponseSession: every HMAC session gets a new nonceTPM, the encrypt session encrypts the first
 * response parameter (in `params`, in place), then each session's response HMAC over rpHash. A password
 * session answers with continueSession set; an HMAC session without continueSession is flushed.
 * Returns the response authorization area.
 */
export function finishSessions(
  ctx: TpmContext,
  code: number,
  area: AuthArea,
  params: Uint8Array,
): Uint8Array {
  for (const use of area.uses) {
    if (use.session) use.session.nonceTPM = ctx.random(use.session.nonceTPM.length);
  }
  if (area.encryptIndex >= 0) {
    const use = area.uses[area.encryptIndex]!;
    const size = params.length >= 2 ? (params[0]! << 8) | params[1]! : 0;
    cryptParameter(
      use.session!,
      associatedAuth(ctx, use),
      use.session!.nonceTPM,
      use.cmd.nonce,
      params.subarray(2, 2 + size),
      true,
    );
  }
  const w = new TpmWriter(64 * area.uses.length);
  const rp = new Map<number, Uint8Array>();
  for (const use of area.uses) {
    const session = use.session;
    if (!session) {
      w.u16(0).u8(SESSION_ATTR.continueSession).u16(0);
      continue;
    }
    const key = hmacKey(ctx, use);
    let hmac: Uint8Array = new Uint8Array(0);
    if (key.length !== 0 || use.cmd.hmac.length !== 0) {
      let r = rp.get(session.authHash);
      if (!r) {
        r = rpHash(sessionHash(session), code, params);
        rp.set(session.authHash, r);
      }
      hmac = sessionHmac(sessionHash(session), key, r, [session.nonceTPM, use.cmd.nonce], use.cmd.attributes);
    }
    w.tpm2b(session.nonceTPM).u8(use.cmd.attributes).tpm2b(hmac);
    if ((use.cmd.attributes & SESSION_ATTR.continueSession) === 0) {
      ctx.vol.sessions = ctx.vol.sessions.filter((s) => s !== session);
    }
  }
  return w.finish();
}
