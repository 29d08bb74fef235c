// The authorization area of a command (TPM 2.0 Part 1 §18, the reference code's ParseSessionBuffer):
// password sessions (TPM_RS_PW) are checked here; HMAC and policy sessions cannot be loaded in this
// engine (it does not implement StartAuthSession), so a command naming one gets TPM_RC_REFERENCE_Sn.
import { HT, RH, SESSION_ATTR } from './constants';
import { TpmReader, TpmWriter } from './marshal';
import { attribute, RC, rcSession, TpmError } from './rc';

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

/** Checks sessions that are not password sessions: none can be loaded here. */
export function checkSessionsLoaded(sessions: readonly CommandSession[]): void {
  sessions.forEach((s, i) => {
    if (s.handle !== RH.PW) {
      throw new TpmError(RC.REFERENCE_S0 + i, `session 0x${s.handle.toString(16)} is not loaded`);
    }
    // A password session has no nonce and cannot audit or encrypt (Part 1 §19.8.4).
    if (s.nonce.length !== 0) throw new TpmError(rcSession(RC.NONCE, i + 1), 'password session with a nonce');
    const forbidden = SESSION_ATTR.audit | SESSION_ATTR.encrypt | SESSION_ATTR.decrypt;
    if (s.attributes & forbidden) {
      throw new TpmError(rcSession(RC.ATTRIBUTES, i + 1), 'password session with audit/encrypt/decrypt');
    }
  });
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

/**
 * The response session for a password session: empty nonce, continueSession set whatever the command
 * said (a password session is never closed), empty hmac — as swtpm answers.
 */
export function writeResponseSessions(w: TpmWriter, sessions: readonly CommandSession[]): void {
  for (let i = 0; i < sessions.length; i++) {
    w.u16(0);
    w.u8(SESSION_ATTR.continueSession);
    w.u16(0);
  }
}

/** A password session must authorize a handle: one beyond the handles needing auth is TPM_RC_HANDLE. */
export function checkNoSpareSessions(sessions: readonly CommandSession[], authCount: number): void {
  if (sessions.length > authCount) {
    throw new TpmError(rcSession(RC.HANDLE, authCount + 1), 'password session without a handle to authorize');
  }
}
