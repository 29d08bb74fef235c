// TPM_RC response codes (TPM 2.0 Part 2 §6.6) and the error type handlers throw.

export const RC_VER1 = 0x100;
export const RC_FMT1 = 0x080;
export const RC_WARN = 0x900;

export const RC = {
  SUCCESS: 0x000,
  BAD_TAG: 0x01e,
  // Format-zero, version 1 errors.
  INITIALIZE: 0x100,
  FAILURE: 0x101,
  SEQUENCE: 0x103,
  PRIVATE: 0x10b,
  HMAC: 0x119,
  DISABLED: 0x120,
  EXCLUSIVE: 0x121,
  AUTH_TYPE: 0x124,
  AUTH_MISSING: 0x125,
  POLICY: 0x126,
  PCR: 0x127,
  PCR_CHANGED: 0x128,
  UPGRADE: 0x12d,
  TOO_MANY_CONTEXTS: 0x12e,
  AUTH_UNAVAILABLE: 0x12f,
  REBOOT: 0x130,
  UNBALANCED: 0x131,
  COMMAND_SIZE: 0x142,
  COMMAND_CODE: 0x143,
  AUTHSIZE: 0x144,
  AUTH_CONTEXT: 0x145,
  NV_RANGE: 0x146,
  NV_SIZE: 0x147,
  NV_LOCKED: 0x148,
  NV_AUTHORIZATION: 0x149,
  NV_UNINITIALIZED: 0x14a,
  NV_SPACE: 0x14b,
  NV_DEFINED: 0x14c,
  BAD_CONTEXT: 0x150,
  CPHASH: 0x151,
  PARENT: 0x152,
  NEEDS_TEST: 0x153,
  NO_RESULT: 0x154,
  SENSITIVE: 0x155,
  // Format-one errors: a handle, parameter or session number is added with rcHandle/rcParam/rcSession.
  ASYMMETRIC: 0x081,
  ATTRIBUTES: 0x082,
  HASH: 0x083,
  VALUE: 0x084,
  HIERARCHY: 0x085,
  KEY_SIZE: 0x087,
  MGF: 0x088,
  MODE: 0x089,
  TYPE: 0x08a,
  HANDLE: 0x08b,
  KDF: 0x08c,
  RANGE: 0x08d,
  AUTH_FAIL: 0x08e,
  NONCE: 0x08f,
  PP: 0x090,
  SCHEME: 0x092,
  SIZE: 0x095,
  SYMMETRIC: 0x096,
  TAG: 0x097,
  SELECTOR: 0x098,
  INSUFFICIENT: 0x09a,
  SIGNATURE: 0x09b,
  KEY: 0x09c,
  POLICY_FAIL: 0x09d,
  INTEGRITY: 0x09f,
  TICKET: 0x0a0,
  RESERVED_BITS: 0x0a1,
  BAD_AUTH: 0x0a2,
  EXPIRED: 0x0a3,
  POLICY_CC: 0x0a4,
  BINDING: 0x0a5,
  CURVE: 0x0a6,
  ECC_POINT: 0x0a7,
  // Warnings.
  CONTEXT_GAP: 0x901,
  OBJECT_MEMORY: 0x902,
  SESSION_MEMORY: 0x903,
  MEMORY: 0x904,
  SESSION_HANDLES: 0x905,
  OBJECT_HANDLES: 0x906,
  LOCALITY: 0x907,
  YIELDED: 0x908,
  CANCELED: 0x909,
  TESTING: 0x90a,
  REFERENCE_H0: 0x910,
  REFERENCE_S0: 0x918,
  NV_RATE: 0x920,
  LOCKOUT: 0x921,
  RETRY: 0x922,
  NV_UNAVAILABLE: 0x923,
} as const;

const RC_H = 0x000;
const RC_P = 0x040;
const RC_S = 0x800;

/** A format-one code attributed to command handle n (1-based), as the reference code's `+ RC_H + RC_n`. */
export function rcHandle(rc: number, n: number): number {
  return rc + RC_H + (n << 8);
}

/** A format-one code attributed to command parameter n (1-based). */
export function rcParam(rc: number, n: number): number {
  return rc + RC_P + (n << 8);
}

/** A format-one code attributed to authorization session n (1-based). */
export function rcSession(rc: number, n: number): number {
  return rc + RC_S + (n << 8);
}

/** Thrown by unmarshalling and handlers; the engine turns it into a 10-byte error response. */
export class TpmError extends Error {
  constructor(
    readonly rc: number,
    message?: string,
  ) {
    super(message ?? `TPM_RC 0x${rc.toString(16).padStart(3, '0')}`);
    this.name = 'TpmError';
  }
}

/** Re-attributes a bare format-one code (from an unmarshal helper) to a parameter, handle or session. */
export function attribute(err: unknown, where: (rc: number) => number): never {
  if (err instanceof TpmError && (err.rc & RC_FMT1) !== 0 && (err.rc & 0xf40) === 0) {
    throw new TpmError(where(err.rc), err.message);
  }
  throw err;
}

const NAMES = new Map<number, string>(Object.entries(RC).map(([k, v]) => [v, `TPM_RC_${k}`]));

/** A readable name for a response code, e.g. 0x1da → "TPM_RC_INSUFFICIENT (parameter 1)". */
export function describeRc(rc: number): string {
  if (rc & RC_FMT1) {
    const base = rc & 0x0bf;
    const n = (rc >> 8) & 0xf;
    const name = NAMES.get(base) ?? `format-one 0x${base.toString(16)}`;
    if (n === 0) return name;
    if (rc & 0x040) return `${name} (parameter ${n})`;
    return n & 0x8 ? `${name} (session ${n & 0x7})` : `${name} (handle ${n})`;
  }
  if (rc >= RC.REFERENCE_H0 && rc <= RC.REFERENCE_H0 + 6) return `TPM_RC_REFERENCE_H${rc - RC.REFERENCE_H0}`;
  if (rc >= RC.REFERENCE_S0 && rc <= RC.REFERENCE_S0 + 6) return `TPM_RC_REFERENCE_S${rc - RC.REFERENCE_S0}`;
  return NAMES.get(rc) ?? `TPM_RC 0x${rc.toString(16)}`;
}
