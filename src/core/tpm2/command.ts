// How a command is described to the dispatcher: its handle area, which handles need authorization, and
// the function that parses parameters and writes response parameters. Mirrors the reference code's
// CommandAttributeData.h (handle counts, auth roles) plus the per-command *_Unmarshal/*_Marshal wrappers.
import type { TpmReader, TpmWriter } from './marshal';
import type { TpmContext } from './context';
import { attribute, rcParam } from './rc';

/** How the dispatcher validates one command handle before the command runs (ParseHandleBuffer). */
export type HandleKind =
  /** TPMI_RH_HIERARCHY (+NULL when allowNull): owner, endorsement, platform. */
  | 'hierarchy'
  /** TPMI_RH_PROVISION: owner or platform. */
  | 'provision'
  /** TPMI_RH_ENABLES-style: owner, endorsement, platform, lockout. */
  | 'hierarchyAuth'
  /** TPMI_DH_PCR: a PCR index 0..23 (or TPM_RH_NULL when allowNull). */
  | 'pcr'
  /** TPMI_RH_NV_INDEX: a defined NV index. */
  | 'nvIndex'
  /** TPMI_RH_NV_AUTH: owner, platform, or an NV index (for NV_Read/NV_Write authorization). */
  | 'nvAuth'
  /** TPMI_DH_OBJECT: a loaded transient object. */
  | 'object'
  /** TPMI_DH_OBJECT for sequences: a loaded hash sequence. */
  | 'sequence'
  /** TPMI_DH_CONTEXT: a transient object, sequence, or session (FlushContext takes it as a parameter). */
  | 'context'
  /** TPMI_DH_ENTITY: a hierarchy, PCR, NV index, or loaded object (StartAuthSession's bind). */
  | 'entity'
  /** TPMI_DH_CONTEXT in the handle area (ContextSave): a loaded transient object, sequence or session. */
  | 'loadedContext';

export interface HandleSpec {
  kind: HandleKind;
  /** The handle needs an authorization session (USER or ADMIN role in the reference tables). */
  auth: boolean;
  allowNull?: boolean;
}

export type DurationClass = 'short' | 'medium' | 'long' | 'longLong';

export interface CommandSpec<P = unknown> {
  code: number;
  name: string;
  handles: readonly HandleSpec[];
  /** The response carries a handle before the parameters (CreatePrimary, HashSequenceStart, ...). */
  responseHandle?: boolean;
  /** Linux's duration class for this ordinal (tpm2_ordinal_duration_index); the cost model refines it. */
  duration: DurationClass;
  /**
   * Unmarshals the parameters. Runs before anything changes: the dispatcher then checks that no bytes
   * are left over (TPM_RC_SIZE), as the reference *_In_Unmarshal wrappers do, and only then calls run.
   * Wrap each read in param(n, ...) so errors carry the parameter number.
   */
  parse(params: TpmReader): P;
  /**
   * The command writes the NV index it is authorized for (libtpms' IS_WRITE): a password for the index
   * itself then needs TPMA_NV_AUTHWRITE, otherwise (a read) TPMA_NV_AUTHREAD (see authValueAvailable).
   */
  nvWrite?: boolean;
  /**
   * The command takes no authorization area at all (libtpms: ContextSave, ContextLoad, FlushContext):
   * TPM_ST_SESSIONS with a well-sized area is TPM_RC_AUTH_CONTEXT (observed from swtpm 0.7.1).
   */
  noSessions?: boolean;
  /** Executes with parsed parameters and writes the response parameters to call.out. */
  run(ctx: TpmContext, call: CommandCall, params: P): void;
}

/** Keeps each command's parameter type while letting the table hold them side by side. */
export function defineCommand<P>(spec: CommandSpec<P>): CommandSpec<unknown> {
  return spec as CommandSpec<unknown>;
}

/** Reads parameter n; a bare format-one error from the reader gets the parameter number (RC_P + n). */
export function param<T>(n: number, read: () => T): T {
  try {
    return read();
  } catch (e) {
    return attribute(e, (rc) => rcParam(rc, n));
  }
}

export interface CommandCall {
  handles: number[];
  out: TpmWriter;
  locality: number;
  /** Set by commands that return a handle in the response handle area. */
  responseHandle?: number;
  /** Extra virtual cost this execution reported (e.g. prime candidates tried), in nanoseconds. */
  extraCostNs: number;
}
