// Validation of the command handle area: ParseHandleBuffer (type checks, TPM_RC_VALUE + RC_H) then
// EntityGetLoadStatus (existence: TPM_RC_HANDLE for NV, TPM_RC_REFERENCE_Hn for transient objects).
import type { HandleSpec } from './command';
import { HT, RH } from './constants';
import type { TpmContext } from './context';
import { RC, rcHandle, TpmError } from './rc';
import { PCR_COUNT } from './state';

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
      if (handle !== RH.OWNER && handle !== RH.ENDORSEMENT && handle !== RH.PLATFORM && handle !== RH.LOCKOUT) {
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
      if (handle >>> 24 !== HT.TRANSIENT && handle >>> 24 !== HT.PERSISTENT) {
        fail(RC.VALUE, n, `${hex} is not an object handle`);
      }
      if (!ctx.findObject(handle) && !ctx.findSequence(handle)) {
        throw new TpmError(RC.REFERENCE_H0 + (n - 1), `object ${hex} is not loaded`);
      }
      return;
    case 'sequence':
      if (handle >>> 24 !== HT.TRANSIENT) fail(RC.VALUE, n, `${hex} is not a transient handle`);
      if (!ctx.findObject(handle) && !ctx.findSequence(handle)) {
        throw new TpmError(RC.REFERENCE_H0 + (n - 1), `sequence ${hex} is not loaded`);
      }
      if (!ctx.findSequence(handle)) fail(RC.TYPE, n, `${hex} is not a sequence object`);
      return;
    case 'context':
      return;
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
