// The TPM 2.0 command processor: header checks, handle area, authorization area, dispatch, response
// header — in the order of the reference code's ExecuteCommand (libtpms src/tpm2/ExecCommand.c).
import { authorize, finishSessions, parseSessions, resolveSessions, type AuthArea } from './auth';
import type { CommandCall, CommandSpec } from './command';
import { MAX_COMMAND_SIZE, ST, TPM_HEADER_SIZE } from './constants';
import { TpmContext, type TpmConfig } from './context';
import { commandDurationNs } from './cost';
import { validateHandle } from './handles';
import { TpmReader, TpmWriter } from './marshal';
import { attribute, RC, rcHandle, TpmError } from './rc';
import { COMMANDS } from './commands';

export interface ExecuteOptions {
  /** Locality the command arrived on (swtpm's SET_LOCALITY); 0–4. */
  locality?: number;
  /** Virtual time at which the command starts, in ns; defaults to the engine's own running time. */
  nowNs?: number;
}

export interface ExecuteResult {
  response: Uint8Array;
  /** Response code from the header (0 = success). */
  rc: number;
  /** Command code, or -1 when the header could not be parsed. */
  commandCode: number;
  /** Virtual time the TPM spends on this command, scaled by the TPM speed. */
  durationNs: number;
}

const BY_CODE = new Map<number, CommandSpec>(COMMANDS.map((c) => [c.code, c]));

export function commandSpec(code: number): CommandSpec | undefined {
  return BY_CODE.get(code);
}

export function implementedCommands(): readonly CommandSpec[] {
  return COMMANDS;
}

export function errorResponse(rc: number): Uint8Array {
  return new TpmWriter(TPM_HEADER_SIZE).u16(ST.NO_SESSIONS).u32(TPM_HEADER_SIZE).u32(rc).finish();
}

export class Tpm2Engine {
  readonly ctx: TpmContext;

  /** A TPM manufactured from `config`, or one running on an existing context. */
  constructor(config: TpmConfig | TpmContext) {
    this.ctx = config instanceof TpmContext ? config : new TpmContext(config);
  }

  /** An independent copy in the same state (the engine keeps no state outside its context). */
  clone(): Tpm2Engine {
    return new Tpm2Engine(this.ctx.clone());
  }

  /** Executes one command. Never throws for bad input: every failure is a TPM response code. */
  execute(command: Uint8Array, opts: ExecuteOptions = {}): ExecuteResult {
    const ctx = this.ctx;
    if (opts.nowNs !== undefined) ctx.nowNs = Math.max(ctx.nowNs, opts.nowNs);
    let code = -1;
    let spec: CommandSpec | undefined;
    const call: CommandCall = {
      handles: [],
      out: new TpmWriter(),
      locality: opts.locality ?? 0,
      extraCostNs: 0,
    };
    let response: Uint8Array;
    let rc: number = RC.SUCCESS;
    try {
      const r = new TpmReader(command);
      const header = this.parseHeader(r, command.length);
      code = header.code;
      spec = header.spec;
      response = this.runCommand(r, header.tag, spec, call);
    } catch (e) {
      if (!(e instanceof TpmError)) {
        // An engine bug must not take the simulated TPM down: report TPM_RC_FAILURE like a TPM would.
        rc = RC.FAILURE;
      } else {
        rc = e.rc;
      }
      response = errorResponse(rc);
    }
    const durationNs = commandDurationNs(code, rc, call.extraCostNs, ctx.speed);
    ctx.nowNs += durationNs;
    return { response, rc, commandCode: code, durationNs };
  }

  private parseHeader(r: TpmReader, requestSize: number): { tag: number; code: number; spec: CommandSpec } {
    const tag = r.u16();
    // libtpms answers TPM_RC_BAD_TAG in its unmarshal code, but swtpm 0.7.1/libtpms 0.9.2 on the wire
    // answers TPM_RC_VALUE (0x084) for any tag other than NO_SESSIONS/SESSIONS (checked with
    // scripts/swtpm-compare): we match the wire.
    if (tag !== ST.NO_SESSIONS && tag !== ST.SESSIONS)
      throw new TpmError(RC.VALUE, `bad tag 0x${tag.toString(16)}`);
    const size = r.u32();
    if (size !== requestSize || size > MAX_COMMAND_SIZE) {
      throw new TpmError(RC.COMMAND_SIZE, `commandSize ${size} but ${requestSize} bytes received`);
    }
    const code = r.u32();
    const spec = BY_CODE.get(code);
    if (!spec) throw new TpmError(RC.COMMAND_CODE, `command code 0x${code.toString(16)} is not implemented`);
    const isStartup = spec.name === 'Startup';
    if (this.ctx.started === isStartup) {
      throw new TpmError(RC.INITIALIZE, isStartup ? 'TPM already started' : 'TPM2_Startup has not been sent');
    }
    return { tag, code, spec };
  }

  private runCommand(r: TpmReader, tag: number, spec: CommandSpec, call: CommandCall): Uint8Array {
    const ctx = this.ctx;
    // Handle area.
    spec.handles.forEach((h, i) => {
      // A short handle area is TPM_RC_INSUFFICIENT + RC_Hn (0x19a for ReadPublic, observed from swtpm 0.7.1).
      let handle = 0;
      try {
        handle = r.u32();
      } catch (e) {
        attribute(e, (rc) => rcHandle(rc, i + 1));
      }
      call.handles.push(handle);
      validateHandle(ctx, h, handle, i + 1);
    });
    // Authorization area.
    let area: AuthArea | undefined;
    const authCount = spec.handles.filter((h) => h.auth).length;
    if (tag === ST.SESSIONS) {
      const authSize = r.u32();
      if (authSize < 9 || authSize > r.remaining)
        throw new TpmError(RC.SIZE, `authorization size ${authSize}`);
      if (spec.noSessions) throw new TpmError(RC.AUTH_CONTEXT, `${spec.name} takes no sessions`);
      const sessions = parseSessions(r, authSize);
      area = resolveSessions(ctx, spec, sessions);
      if (sessions.length < authCount) throw new TpmError(RC.AUTH_MISSING, 'not enough sessions');
    } else if (authCount > 0) {
      throw new TpmError(RC.AUTH_MISSING, `${spec.name} needs an authorization session`);
    }
    // Session checks (HMACs over the parameters as received), then parameter decryption.
    let pr = r;
    if (area) {
      const raw = r.bytes(r.remaining);
      pr = new TpmReader(authorize(ctx, spec, call.handles, area, raw));
    }
    // Parameters: parse everything, refuse left-over bytes, then execute.
    const parsed = spec.parse(pr);
    if (pr.remaining !== 0) throw new TpmError(RC.SIZE, `${pr.remaining} bytes left after the parameters`);
    spec.run(ctx, call, parsed);
    return buildResponse(ctx, tag, spec, call, area);
  }
}

function buildResponse(
  ctx: TpmContext,
  tag: number,
  spec: CommandSpec,
  call: CommandCall,
  area: AuthArea | undefined,
): Uint8Array {
  const w = new TpmWriter(TPM_HEADER_SIZE + call.out.length + 32);
  w.u16(tag);
  w.u32(0); // responseSize: the whole response, filled in below
  w.u32(RC.SUCCESS);
  if (spec.responseHandle) w.u32(call.responseHandle ?? 0);
  const params = call.out.finish().slice();
  const sessions = area && finishSessions(ctx, spec.code, area, params);
  if (tag === ST.SESSIONS) w.u32(params.length);
  w.bytes(params);
  if (sessions) w.bytes(sessions);
  const out = w.finish();
  new DataView(out.buffer).setUint32(2, out.length);
  return out;
}
