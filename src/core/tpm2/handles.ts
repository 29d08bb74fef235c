// Validation of the command handle area: ParseHandleBuffer (type checks, TPM_RC_VALUE + RC_H) then
// EntityGetLoadStatus (existence: TPM_RC_HANDLE for NV, TPM_RC_REFERENCE_Hn for transient objects).
import type { HandleSpec } from './command';
import { HT, RH, TRANSIENT_FIRST } from './constants';
import type { TpmContext } from './context';
import { hasAttr, NT, nvType, TPMA_NV } from './nv-public';
import { RC, rcHandle, TpmError } from './rc';
import { MAX_ACTIVE_SESSIONS, MAX_LOADED_OBJECTS, PCR_COUNT } from './state';

function fail(rc: number, n: number, why: string): never {
  throw new TpmError(rcHandle(rc, n), why);
}

/** Checks handle n (1-based) against its spec; returns nothing or throws the reference code's error. */
export function validateHandle(ctx: TpmContext, spec: HandleSpec, handle: number, n: number): void {
  const hex = `0x${handle.toString(16).padStart(8, '0')}`;
  const isNull = handle === RH.NULL;
  if (isNull && spec.allowNull) return;
  switch (spec.kind) {
    case 'hierarchy':
      if (handle !== RH.OWNER && handle !== RH.ENDORSEMENT && handle !== RH.PLATFORM) {
        fail(RC.VALUE, n, `${hex} is not a hierarchy`);
      }
      return;
    case 'provision':
      if (handle !== RH.OWNER && handle !== RH.PLATFORM) fail(RC.VALUE, n, `${hex} is not owner or platform`);
      return;
    case 'hierarchyAuth':
      if (
        handle !== RH.OWNER &&
        handle !== RH.ENDORSEMENT &&
        handle !== RH.PLATFORM &&
        handle !== RH.LOCKOUT
      ) {
        fail(RC.VALUE, n, `${hex} is not a hierarchy`);
      }
      return;
    case 'pcr':
      if (handle >= PCR_COUNT) fail(RC.VALUE, n, `${hex} is not a PCR`);
      return;
    case 'nvIndex':
      if (handle >>> 24 !== HT.NV_INDEX) fail(RC.VALUE, n, `${hex} is not an NV index handle`);
      if (!ctx.findNv(handle)) fail(RC.HANDLE, n, `NV index ${hex} is not defined`);
      return;
    case 'nvAuth':
      if (handle === RH.OWNER || handle === RH.PLATFORM) return;
      if (handle >>> 24 !== HT.NV_INDEX) fail(RC.VALUE, n, `${hex} cannot authorize NV access`);
      if (!ctx.findNv(handle)) fail(RC.HANDLE, n, `NV index ${hex} is not defined`);
      return;
    case 'object':
    case 'sequence':
      // TPMI_DH_OBJECT. A loaded object that is not a sequence, given to a sequence command, gets
      // TPM_RC_MODE from the command itself, numbered per command (observed from swtpm 0.7.1: 0x1c9,
      // 0x189, 0x289).
      validateObjectHandle(ctx, handle, n, hex);
      return;
    case 'context':
      return;
    case 'loadedContext': {
      const ht = handle >>> 24;
      const slot = handle & 0xffffff;
      const session = ht === HT.HMAC_SESSION || ht === HT.POLICY_SESSION;
      if (!(session && slot < MAX_ACTIVE_SESSIONS) && !(ht === HT.TRANSIENT && slot < MAX_LOADED_OBJECTS)) {
        fail(RC.VALUE, n, `${hex} is not a context handle`);
      }
      // Observed from swtpm 0.7.1: ContextSave of an empty object slot or an unknown session is 0x910.
      const loaded = session ? ctx.findSession(handle) : (ctx.findObject(handle) ?? ctx.findSequence(handle));
      if (!loaded) throw new TpmError(RC.REFERENCE_H0 + (n - 1), `${hex} is not loaded`);
      return;
    }
    case 'entity':
      switch (handle >>> 24) {
        case HT.PERMANENT:
          if (
            handle !== RH.OWNER &&
            handle !== RH.ENDORSEMENT &&
            handle !== RH.PLATFORM &&
            handle !== RH.LOCKOUT
          ) {
            fail(RC.VALUE, n, `${hex} is not an entity`);
          }
          return;
        case HT.PCR:
          if (handle >= PCR_COUNT) fail(RC.VALUE, n, `${hex} is not a PCR`);
          return;
        case HT.NV_INDEX:
          if (!ctx.findNv(handle)) fail(RC.HANDLE, n, `NV index ${hex} is not defined`);
          return;
        case HT.TRANSIENT:
        case HT.PERSISTENT:
          validateObjectHandle(ctx, handle, n, hex);
          return;
        default:
          fail(RC.VALUE, n, `${hex} is not an entity`);
      }
  }
}

/**
 * TPMI_DH_OBJECT: a transient slot (TRANSIENT_FIRST .. + MAX_LOADED_OBJECTS - 1) or a persistent handle.
 * Beyond the slots is TPM_RC_VALUE, a missing persistent object TPM_RC_HANDLE, an empty slot
 * TPM_RC_REFERENCE_Hn (ReadPublic of 0x80000003: 0x184, of 0x81000005: 0x18b; observed from swtpm 0.7.1).
 */
function validateObjectHandle(ctx: TpmContext, handle: number, n: number, hex: string): void {
  if (handle >>> 24 === HT.PERSISTENT) {
    if (ctx.findObject(handle)) return;
    // ObjectLoadEvict takes a free slot before it looks the handle up in NV (observed: 0x902 with
    // three sequences loaded, 0x18b otherwise).
    if (ctx.vol.objects.length + ctx.vol.sequences.length >= MAX_LOADED_OBJECTS) {
      throw new TpmError(RC.OBJECT_MEMORY, `no slot to load ${hex}`);
    }
    fail(RC.HANDLE, n, `persistent object ${hex} does not exist`);
  }
  if (handle >>> 24 !== HT.TRANSIENT || handle - TRANSIENT_FIRST >= MAX_LOADED_OBJECTS) {
    fail(RC.VALUE, n, `${hex} is not an object handle`);
  }
  if (!ctx.findObject(handle) && !ctx.findSequence(handle)) {
    throw new TpmError(RC.REFERENCE_H0 + (n - 1), `object ${hex} is not loaded`);
  }
}

/** The authValue that a password session must present for this handle. */
export function authValueOf(ctx: TpmContext, handle: number): Uint8Array {
  const ht = handle >>> 24;
  if (ht === HT.PERMANENT) return ctx.hierarchyAuth(handle);
  if (ht === HT.NV_INDEX) return ctx.findNv(handle)?.authValue ?? new Uint8Array(0);
  if (ht === HT.TRANSIENT) {
    return ctx.findObject(handle)?.authValue ?? ctx.findSequence(handle)?.authValue ?? new Uint8Array(0);
  }
  // PCRs: no per-PCR auth is set in this engine (PCR_SetAuthValue is not implemented), so EmptyAuth.
  return new Uint8Array(0);
}

/** TPMA_OBJECT noDA (bit 10) and TPMA_NV_NO_DA (bit 25). */
const TPMA_OBJECT_NO_DA = 0x400;
const TPMA_NV_NO_DA = 0x02000000;

/**
 * IsDAExempted: a wrong password for a DA-exempt entity is TPM_RC_BAD_AUTH, for a DA-protected one
 * TPM_RC_AUTH_FAIL. Observed from swtpm 0.7.1: owner, PCRs and hash sequences answer 0x9a2, lockout and
 * a key without noDA 0x98e.
 */
export function isDaExempt(ctx: TpmContext, handle: number): boolean {
  switch (handle >>> 24) {
    case HT.PCR:
      return true;
    case HT.PERMANENT:
      return handle !== RH.LOCKOUT;
    case HT.NV_INDEX:
      return ((ctx.findNv(handle)?.attributes ?? 0) & TPMA_NV_NO_DA) !== 0;
    case HT.TRANSIENT:
    case HT.PERSISTENT: {
      if (ctx.findSequence(handle)) return true;
      const pub = ctx.findObject(handle)?.publicArea;
      // TPMT_PUBLIC: type (2), nameAlg (2), objectAttributes (4).
      if (!pub || pub.length < 8) return false;
      const attributes = ((pub[4]! << 24) | (pub[5]! << 16) | (pub[6]! << 8) | pub[7]!) >>> 0;
      return (attributes & TPMA_OBJECT_NO_DA) !== 0;
    }
    default:
      return false;
  }
}

/**
 * IsAuthValueAvailable for a password session: whether the entity's authValue may authorize this command
 * (else TPM_RC_AUTH_UNAVAILABLE, observed from swtpm 0.7.1 as a bare 0x12f). An NV index lends its
 * authValue to a write only with TPMA_NV_AUTHWRITE and to anything else only with TPMA_NV_AUTHREAD; a PIN
 * index only once written and while pinCount < pinLimit.
 */
export function authValueAvailable(ctx: TpmContext, handle: number, nvWrite: boolean): boolean {
  if (handle >>> 24 !== HT.NV_INDEX) return true;
  const index = ctx.findNv(handle);
  if (!index) return true;
  const a = index.attributes;
  if (nvWrite) return hasAttr(a, TPMA_NV.AUTHWRITE);
  const type = nvType(a);
  if (type === NT.PIN_FAIL || type === NT.PIN_PASS) {
    if (!hasAttr(a, TPMA_NV.WRITTEN)) return false;
    const d = index.data;
    const pinCount = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    const pinLimit = ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0;
    return pinCount < pinLimit;
  }
  return hasAttr(a, TPMA_NV.AUTHREAD);
}
