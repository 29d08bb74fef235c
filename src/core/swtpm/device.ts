// One swtpm 0.7.1 process, `swtpm socket --tpm2 --flags not-need-init`, around the TPM engine (which
// plays libtpms 0.9.2): the control channel (ctrlchannel.c), the data channel (mainloop.c), the state
// files (swtpm_nvstore.c) and the parts of libtpms' library interface swtpm drives (TPMLIB_MainInit,
// TPMLIB_Terminate, TPMLIB_GetState/SetState, _TPM_Hash_Start/Data/End, the established bit, the buffer
// size). The behaviour follows swtpm's and libtpms' source; the tests marked "observed" in device.test.ts
// compare it with a real swtpm 0.7.1 / libtpms 0.9.2, and the few answers that could not be observed say
// "inferred" below.
//
// Lifecycle, as swtpm's tpm_running flag:
// - running after construction (not-need-init) or a successful CMD_INIT; TPM commands reach the engine.
// - stopped after CMD_STOP or a failed CMD_INIT: TPM commands get TPM_RC_FAILURE, state blobs can be set.
// - terminated after CMD_SHUTDOWN: the process is gone; both channels answer nothing (empty responses).
// CMD_INIT is a power cycle (TPMLIB_Terminate + TPMLIB_MainInit): permanent state from a blob set with
// SET_STATEBLOB or from tpm2-00.permall, volatile state from a blob or tpm2-00.volatilestate if there is
// one (the TPM then continues without TPM2_Startup), otherwise a TPM that waits for TPM2_Startup.
//
// NV that cannot be written: libtpms commits NV at the end of ExecuteCommand (NvCommit →
// _plat__NvCommit → libtpms_plat__NvCommit → swtpm's SWTPM_NVRAM_StoreData). When that fails,
// ExecuteCommand calls FAIL(FATAL_ERROR_INTERNAL): the TPM enters failure mode, _plat__Fail longjmps
// back to _plat__RunCommand, which runs ExecuteCommand again, now in failure mode, so the command that
// changed NV is answered by TpmFailureMode: TPM_RC_FAILURE (not TPM_RC_NV_UNAVAILABLE or NV_RATE,
// which libtpms only gives when NV is unavailable before a command starts, and never with swtpm's
// callbacks). From then on every command is TPM_RC_FAILURE except TPM2_GetTestResult, until CMD_INIT.
import {
  applyBlob,
  BlobError,
  getBlob,
  parseBlob,
  permanentStateText,
  type BlobType,
  type ParsedPermanent,
  type ParsedVolatile,
  type PlatformState,
} from '../tpm2/blob';
import { CC, ST, SU } from '../tpm2/constants';
import { TpmContext, type TpmConfig } from '../tpm2/context';
import { commandDurationNs } from '../tpm2/cost';
import { errorResponse, Tpm2Engine } from '../tpm2/engine';
import { digest, hashByName } from '../tpm2/hash';
import { RC, rcParam } from '../tpm2/rc';
import { MAX_LOADED_OBJECTS, PCR_BANKS } from '../tpm2/state';
import { SEND_COMMAND_PREFIX_SIZE, TPM2_SEND_COMMAND, TPM_BUFFER_MAX } from './framing';
import {
  BLOB_TYPE,
  CMD,
  PTM_GETINFO_SIZE,
  PTM_INIT_FLAG_DELETE_VOLATILE,
  SWTPM_0_7_1_CAPS,
  TPM_RESULT,
  TPMLIB_INFO,
  concat,
  u32be,
} from './ioctl';
import {
  MemoryStateStore,
  STATE_FILE,
  unwrapMigrationBlob,
  unwrapStateFile,
  wrapMigrationBlob,
  wrapStateFile,
  type StateStore,
} from './nvstore';

export type { StateStore } from './nvstore';
export { MemoryStateStore, STATE_FILE } from './nvstore';

/**
 * A state store whose saves reach their medium later (BlobStateStore on an NVRAM drive). settled()
 * resolves once every save and delete issued so far is durable, and rejects when one of them failed.
 */
export interface DeferredStateStore extends StateStore {
  settled(): Promise<void>;
}

function isDeferred(store: StateStore): store is DeferredStateStore {
  return typeof (store as Partial<DeferredStateStore>).settled === 'function';
}

function isPlainMemoryStore(store: StateStore): store is MemoryStateStore {
  return Object.getPrototypeOf(store) === MemoryStateStore.prototype;
}

/** TpmFail's failure code when NvCommit fails in ExecuteCommand (libtpms TpmError.h). */
export const FATAL_ERROR_INTERNAL = 3;

export interface SwtpmDeviceOptions extends TpmConfig {
  /** The --tpmstate directory; an in-memory store when omitted. */
  store?: StateStore;
  /** --flags not-need-init (default true): the TPM is initialised at start; false: it waits for CMD_INIT. */
  notNeedInit?: boolean;
  /** --flags startup-clear: swtpm sends TPM2_Startup(CLEAR) itself when it starts. */
  startupClear?: boolean;
  /**
   * How the data channel is connected. 'server' (--server type=tcp|unixio): CMD_SET_DATAFD answers
   * TPM_IOERROR (observed from swtpm 0.7.1 over TCP). 'datafd' (QEMU/libvirt: --ctrl type=unixio and no
   * --server): the first CMD_SET_DATAFD installs the data socket QEMU passes, later ones get TPM_IOERROR.
   */
  dataChannel?: 'server' | 'datafd';
}

export interface CommandResult {
  response: Uint8Array;
  /** Virtual time the TPM spent; 0 when swtpm answered without the TPM (stopped, malformed). */
  durationNs: number;
}

/** libtpms TPM2_SetBufferSize: MAX_CONTEXT_SIZE (2680) + 128 ... TPM_BUFFER_MAX. Observed: 0xaf8, 0x1000. */
export const MIN_BUFFER_SIZE = 2680 + 128;
export const MAX_BUFFER_SIZE = TPM_BUFFER_MAX;

/** The vTPM proxy's TPM2_CC_SET_LOCALITY, which swtpm refuses unless --locality allow-set-locality. */
const TPM2_CC_SET_LOCALITY = 0x20001000;

const DRTM_PCR = 17;
const HCRTM_PCR = 0;
/** PCRResetDynamics: the PCRs a DRTM sequence resets (observed from swtpm 0.7.1: 17–22, not 16 or 23). */
const DYNAMIC_PCRS = [17, 18, 19, 20, 21, 22];

/** TPMLIB_GetInfo of libtpms 0.9.2 as swtpm 0.7.1 returns it (observed). */
const INFO_PARTS: readonly [number, string][] = [
  [TPMLIB_INFO.TPMSPECIFICATION, '"TPMSpecification":{"family":"2.0","level":0,"revision":164}'],
  [
    TPMLIB_INFO.TPMATTRIBUTES,
    '"TPMAttributes":{"manufacturer":"id:00001014","version":"id:20191023","model":"swtpm"}',
  ],
  [TPMLIB_INFO.TPMFEATURES, '"TPMFeatures":{"RSAKeySizes":[1024,2048,3072],"CamelliaKeySizes":[128,256]}'],
];

/** A state blob set with SET_STATEBLOB, waiting for the next CMD_INIT (libtpms' cached state). */
type Cached<P> = { kind: 'empty' } | { kind: 'blob'; parsed: P };

const EMPTY: Uint8Array = new Uint8Array(0);

function nvFailureText(why: string): string {
  return `NV could not be written (${why}); libtpms entered failure mode`;
}

/** A TCG send-command prefix (TPM2_SEND_COMMAND, locality, length) in front of the command. */
function hasSendCommandPrefix(input: Uint8Array): boolean {
  if (input.length < 10) return false;
  const tag = (input[0]! << 8) | input[1]!;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  return tag !== ST.NO_SESSIONS && tag !== ST.SESSIONS && view.getUint32(0) === TPM2_SEND_COMMAND;
}

/** The response to a command that came with a TCG send-command prefix. */
function wrapPrefixed(result: CommandResult): CommandResult {
  return {
    response: concat(u32be(result.response.length), result.response, u32be(0)),
    durationNs: result.durationNs,
  };
}

/**
 * The result code libtpms' TPM2_SetState gives for a blob it cannot load. Observed from swtpm 0.7.1 with
 * damaged libtpms blobs: TPM_RC_INSUFFICIENT for a cut-off blob, TPM_RC_HASH for a damaged volatile blob,
 * TPM_RC_BAD_VERSION for a header version it does not know. From libtpms' NVMarshal.c: TPM_RC_BAD_TAG
 * for a wrong magic, TPM_RC_SIZE for a wrong array size (used here for every malformed field and for
 * extra bytes, where libtpms' answer depends on the blob: it ignores them in permanent state).
 */
export function blobErrorResult(e: BlobError): number {
  switch (e.kind) {
    case 'truncated':
      return TPM_RESULT.RC_INSUFFICIENT;
    case 'magic':
      return TPM_RESULT.RC_BAD_TAG;
    case 'version':
      return TPM_RESULT.BAD_VERSION;
    case 'flags':
      return TPM_RESULT.BAD_PARAMETER;
    case 'hash':
      return TPM_RESULT.RC_HASH;
    case 'oversized':
    case 'shape':
      return TPM_RESULT.RC_SIZE;
  }
}

/**
 * Commands that never change the TPM's permanent state (no NV attribute in TPM 2.0 Part 3, and no
 * write to ctx.perm in this engine): after them the device skips comparing its permanent state.
 */
const READS_NO_NV: ReadonlySet<number> = new Set([
  CC.GetRandom,
  CC.GetCapability,
  CC.GetTestResult,
  CC.PCR_Read,
  CC.ReadPublic,
  CC.ReadClock,
  CC.NV_ReadPublic,
  CC.Hash,
]);

export class SwtpmDevice {
  readonly engine: Tpm2Engine;
  readonly store: StateStore;
  private readonly dataChannel: 'server' | 'datafd';
  private running = false;
  private terminatedFlag = false;
  private localityValue = 0;
  private bufferSizeValue = TPM_BUFFER_MAX;
  private cancelFlag = false;
  private dataFdInstalled = false;
  private cachedPermanent: Cached<ParsedPermanent> | undefined;
  private cachedVolatile: Cached<ParsedVolatile> | undefined;
  /** Data of the DRTM sequence in progress (_TPM_Hash_Start seen, _TPM_Hash_End not yet). */
  private drtm: Uint8Array[] | null = null;
  /** g_DrtmPreStartup: an H-CRTM sequence ended before TPM2_Startup; PCR 0 keeps its value. */
  private hcrtmPending = false;
  /** The permanent state as last written to tpm2-00.permall. */
  private storedPermanent: string | undefined;
  private lastErrorText: string | undefined;
  /** No TPMLIB_MainInit has run in this process yet: the engine is as constructed. */
  private firstInit = true;
  /** libtpms' g_inFailureMode, with why (for people) and the code GetTestResult reports. */
  private failure: { code: number; why: string } | undefined;
  /** tpm2-00.permall was saved while the current request was handled. */
  private permanentSaved = false;

  constructor(opts: SwtpmDeviceOptions) {
    const config: TpmConfig = { seed: opts.seed };
    if (opts.speed !== undefined) config.speed = opts.speed;
    this.engine = new Tpm2Engine(config);
    this.store = opts.store ?? new MemoryStateStore();
    this.dataChannel = opts.dataChannel ?? 'server';
    if (opts.notNeedInit ?? true) {
      const res = this.start(0);
      if (res !== TPM_RESULT.SUCCESS) {
        throw new Error(
          `swtpm: could not initialize the TPM (result 0x${res.toString(16)}): ${this.lastErrorText ?? ''}`,
        );
      }
      // swtpm's mainloop sends the Startup itself; a TPM restored from volatile state answers
      // TPM_RC_INITIALIZE, which swtpm ignores.
      if (opts.startupClear)
        this.runEngine(Uint8Array.of(0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, SU.CLEAR), {});
    }
  }

  /**
   * clone() and copyFrom() can copy this device: its state files are in a plain MemoryStateStore (a
   * subclass may behave differently, which a copy of its files would not).
   */
  get cloneable(): boolean {
    return isPlainMemoryStore(this.store);
  }

  /**
   * Another swtpm process in exactly this one's state (TPM, state files, channel settings), sharing
   * nothing: both answer alike from here on. Cheaper than starting one, which manufactures a TPM and sends
   * it TPM2_Startup. Only for a device whose state files are in memory (cloneable).
   */
  clone(): SwtpmDevice {
    const copy = Object.create(SwtpmDevice.prototype) as SwtpmDevice;
    copy.copyFrom(this);
    return copy;
  }

  /** Puts this device into exactly `other`'s state, as clone() makes it. */
  copyFrom(other: SwtpmDevice): void {
    if (!isPlainMemoryStore(other.store)) {
      throw new Error('SwtpmDevice: only a device whose state files are in a MemoryStateStore can be copied');
    }
    // Every other field is a primitive or a value that is replaced whole, never changed in place (the
    // cached parsed blobs are copied when applied; failure is a new object each time).
    Object.assign(this, other, {
      engine: other.engine.clone(),
      store: other.store.clone(),
      drtm: other.drtm && other.drtm.map((d) => d.slice()),
    });
  }

  /** swtpm's tpm_running: TPM commands reach the TPM. */
  get isRunning(): boolean {
    return this.running;
  }

  /** CMD_SHUTDOWN was received: the process has exited. */
  get terminated(): boolean {
    return this.terminatedFlag;
  }

  /** The locality TPM commands arrive on (CMD_SET_LOCALITY, or a TCG send-command prefix). */
  get locality(): number {
    return this.localityValue;
  }

  /** The TPM buffer size (CMD_SET_BUFFERSIZE): commands larger than this get TPM_RC_COMMAND_SIZE. */
  get bufferSize(): number {
    return this.bufferSizeValue;
  }

  /** CMD_CANCEL_TPM_CMD was received since the last command started (libtpms' s_isCanceled). */
  get cancelRequested(): boolean {
    return this.cancelFlag;
  }

  get tpmEstablished(): boolean {
    return this.engine.ctx.perm.tpmEstablished;
  }

  /** libtpms' failure mode: every command but TPM2_GetTestResult is TPM_RC_FAILURE until CMD_INIT. */
  get inFailureMode(): boolean {
    return this.failure !== undefined;
  }

  /** Why the TPM entered failure mode, for people (libtpms logs "Entering failure mode"). */
  get failureReason(): string | undefined {
    return this.failure?.why;
  }

  /** Why the last state blob or CMD_INIT was refused, for people (swtpm logs this). */
  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  // ---- data channel -----------------------------------------------------------------------------

  /**
   * One TPM command in, one response out (mainloop.c). `bytes` is one command as tpmCommandLength frames
   * a stream (at most MAX_DATA_READ bytes; swtpm would read anything beyond that as the next command).
   */
  handleCommand(bytes: Uint8Array, opts: { nowNs?: number } = {}): CommandResult {
    if (this.terminatedFlag) return { response: EMPTY, durationNs: 0 };
    this.permanentSaved = false;
    const { command, prefixed } = this.unprefix(bytes);
    const result = this.running
      ? this.process(command, opts)
      : { response: errorResponse(RC.FAILURE), durationNs: 0 };
    return prefixed ? wrapPrefixed(result) : result;
  }

  /**
   * handleCommand for a store whose saves finish later: the answer waits until the state the command
   * wrote is durable, as swtpm's SWTPM_NVRAM_StoreData returns only once the file is written. A save that
   * failed puts the TPM into failure mode and the command is answered TPM_RC_FAILURE, as libtpms'
   * ExecuteCommand does when NvCommit fails. With a synchronous store this is handleCommand.
   */
  async handleCommandDurable(bytes: Uint8Array, opts: { nowNs?: number } = {}): Promise<CommandResult> {
    const result = this.handleCommand(bytes, opts);
    const failed = await this.storeFailure();
    // A command writes only NV (tpm2-00.permall); nothing written, nothing failed for libtpms.
    if (failed === undefined || !this.permanentSaved) return result;
    this.enterFailureMode(failed);
    const failure: CommandResult = { response: errorResponse(RC.FAILURE), durationNs: result.durationNs };
    return hasSendCommandPrefix(bytes) ? wrapPrefixed(failure) : failure;
  }

  /**
   * handleControl for a store whose saves finish later. CMD_STORE_VOLATILE answers TPM_FAIL when the
   * volatile state could not be written (SWTPM_NVRAM_StoreData's result); a permanent state that could
   * not be written (CMD_INIT or GET_STATEBLOB writing NV) puts the TPM into failure mode.
   */
  async handleControlDurable(request: Uint8Array): Promise<Uint8Array> {
    this.permanentSaved = false;
    const response = this.handleControl(request);
    const failed = await this.storeFailure();
    if (failed === undefined) return response;
    this.lastErrorText = `a state file could not be written: ${failed}`;
    if (this.permanentSaved) this.enterFailureMode(failed);
    const cmd = request.length >= 4 ? new DataView(request.buffer, request.byteOffset, 4).getUint32(0) : -1;
    return cmd === CMD.STORE_VOLATILE ? u32be(TPM_RESULT.FAIL) : response;
  }

  /**
   * Waits for the state the device wrote when it started (a deferred store); one that could not be
   * written puts the TPM into failure mode, as a failing NvCommit would.
   */
  async ready(): Promise<void> {
    const failed = await this.storeFailure();
    if (failed !== undefined && this.permanentSaved) this.enterFailureMode(failed);
  }

  /** Waits for a deferred store's writes; the failure's message, or undefined when all were written. */
  private async storeFailure(): Promise<string | undefined> {
    if (!isDeferred(this.store)) return undefined;
    try {
      await this.store.settled();
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  /** tpmlib_handle_tcg_tpm2_cmd_header: a TCG send-command prefix sets the locality. */
  private unprefix(input: Uint8Array): { command: Uint8Array; prefixed: boolean } {
    if (!hasSendCommandPrefix(input)) return { command: input, prefixed: false };
    this.localityValue = input[4]!;
    return { command: input.subarray(SEND_COMMAND_PREFIX_SIZE), prefixed: true };
  }

  private process(command: Uint8Array, opts: { nowNs?: number }): CommandResult {
    // tpmlib_process (swtpm built with the vTPM proxy): short commands and the proxy's SET_LOCALITY are
    // answered by swtpm itself.
    if (command.length < 10) return { response: errorResponse(RC.INSUFFICIENT), durationNs: 0 };
    const view = new DataView(command.buffer, command.byteOffset, command.byteLength);
    if (view.getUint32(6) === TPM2_CC_SET_LOCALITY) {
      return { response: errorResponse(command.length >= 11 ? RC.FAILURE : RC.INSUFFICIENT), durationNs: 0 };
    }
    return this.runEngine(command, opts);
  }

  /** TPMLIB_Process: what libtpms' ExecuteCommand does around the engine. */
  private runEngine(command: Uint8Array, opts: { nowNs?: number }): CommandResult {
    const ctx = this.engine.ctx;
    // Any command ends a DRTM sequence in progress; a cancel only applies to a command that has started.
    this.drtm = null;
    this.cancelFlag = false;
    if (opts.nowNs !== undefined) ctx.nowNs = Math.max(ctx.nowNs, opts.nowNs);
    if (this.failure) return this.failureModeAnswer(command);
    const view = new DataView(command.buffer, command.byteOffset, command.byteLength);
    const tag = command.length >= 2 ? view.getUint16(0) : 0;
    // MAX_COMMAND_SIZE is the buffer size in libtpms; the check comes right after the tag's. Observed
    // from swtpm 0.7.1 with buffer size 2808: 2808 bytes are parsed, 2809 get TPM_RC_COMMAND_SIZE.
    if ((tag === ST.NO_SESSIONS || tag === ST.SESSIONS) && command.length > this.bufferSizeValue) {
      return this.answerWithoutEngine(RC.COMMAND_SIZE, -1);
    }
    const isStartup =
      command.length === 12 &&
      tag === ST.NO_SESSIONS &&
      view.getUint32(2) === 12 &&
      view.getUint32(6) === CC.Startup;
    // Observed from swtpm 0.7.1: after an H-CRTM sequence, TPM2_Startup(STATE) is TPM_RC_VALUE + P1.
    if (this.hcrtmPending && isStartup && !ctx.started && view.getUint16(10) === SU.STATE) {
      return this.answerWithoutEngine(rcParam(RC.VALUE, 1), CC.Startup);
    }
    const pcr0 =
      this.hcrtmPending && isStartup ? PCR_BANKS.map((b) => ctx.vol.pcrs[b][HCRTM_PCR]!.slice()) : undefined;
    const r = this.engine.execute(command, { locality: this.localityValue });
    if (pcr0 && r.rc === RC.SUCCESS && r.commandCode === CC.Startup) {
      // PCRStartup leaves the H-CRTM PCR alone after an H-CRTM event (observed: PCR 0 survives Startup).
      PCR_BANKS.forEach((b, i) => (ctx.vol.pcrs[b][HCRTM_PCR] = pcr0[i]!));
      this.hcrtmPending = false;
    }
    // libtpms writes NV only when a command changed it (g_updateNV); commands the TPM 2.0 spec (Part 3)
    // does not mark as writing NV cannot have, so their permanent state is not even compared.
    if (!READS_NO_NV.has(r.commandCode) && !this.syncPermanent()) {
      return { response: errorResponse(RC.FAILURE), durationNs: r.durationNs };
    }
    return { response: r.response, durationNs: r.durationNs };
  }

  /**
   * TpmFailureMode: TPM2_GetTestResult (exactly a 10-byte command) reports the failure: outData is
   * s_failFunction, s_failLine and s_failCode (function and line are not modelled: 0), testResult
   * TPM_RC_FAILURE. Everything else is TPM_RC_FAILURE. (libtpms also answers a TPM_PROPERTIES
   * GetCapability for the vendor properties; not modelled.)
   */
  private failureModeAnswer(command: Uint8Array): CommandResult {
    const view = new DataView(command.buffer, command.byteOffset, command.byteLength);
    const isGetTestResult =
      command.length >= 10 &&
      view.getUint16(0) === ST.NO_SESSIONS &&
      view.getUint32(2) === 10 &&
      view.getUint32(6) === CC.GetTestResult;
    if (!isGetTestResult) return this.answerWithoutEngine(RC.FAILURE, -1);
    const { durationNs } = this.answerWithoutEngine(RC.SUCCESS, CC.GetTestResult);
    const body = concat(Uint8Array.of(0, 12), u32be(0, 0, this.failure!.code, RC.FAILURE));
    const header = concat(Uint8Array.of(ST.NO_SESSIONS >> 8, ST.NO_SESSIONS & 0xff), u32be(10 + body.length));
    return { response: concat(header, u32be(RC.SUCCESS), body), durationNs };
  }

  /** libtpms TpmSetFailureMode via FAIL(FATAL_ERROR_INTERNAL) after NvCommit failed. */
  private enterFailureMode(why: string): void {
    if (this.failure) return;
    this.failure = { code: FATAL_ERROR_INTERNAL, why: nvFailureText(why) };
  }

  private answerWithoutEngine(rc: number, code: number): CommandResult {
    const ctx = this.engine.ctx;
    const durationNs = commandDurationNs(code, rc, 0, ctx.speed);
    ctx.nowNs += durationNs;
    return { response: errorResponse(rc), durationNs };
  }

  // ---- control channel --------------------------------------------------------------------------

  /**
   * One complete control request in (as ctrlRequestLength frames it), one complete response out
   * (ctrlchannel_process_fd). An incomplete request gets no answer (swtpm waits 500 ms, then drops the
   * connection), as does everything after CMD_SHUTDOWN: the response is then empty.
   */
  handleControl(request: Uint8Array): Uint8Array {
    if (this.terminatedFlag || request.length < 4) return EMPTY;
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    const cmd = view.getUint32(0);
    const body = request.subarray(4);
    const n = body.length;
    const bad = u32be(TPM_RESULT.BAD_PARAMETER);
    const notRunning = u32be(TPM_RESULT.BAD_ORDINAL);
    const ok = (res: number): Uint8Array => u32be(res);
    switch (cmd) {
      case CMD.GET_CAPABILITY:
        return u32be(0, SWTPM_0_7_1_CAPS);
      case CMD.INIT:
        if (n < 4) return EMPTY;
        if (n !== 4) return bad;
        return ok(this.init(view.getUint32(4)));
      case CMD.STOP:
        if (n !== 0) return bad;
        this.terminate();
        return ok(TPM_RESULT.SUCCESS);
      case CMD.SHUTDOWN:
        if (n !== 0) return bad;
        this.terminate();
        this.terminatedFlag = true;
        return ok(TPM_RESULT.SUCCESS);
      case CMD.GET_TPMESTABLISHED:
        if (!this.running) return notRunning;
        if (n !== 0) return bad;
        return Uint8Array.of(0, 0, 0, 0, this.tpmEstablished ? 1 : 0, 0, 0, 0);
      case CMD.RESET_TPMESTABLISHED:
        if (n < 1) return EMPTY;
        if (!this.running) return notRunning;
        return ok(this.resetEstablished(body[0]!));
      case CMD.SET_LOCALITY: {
        if (n < 1) return EMPTY;
        const loc = body[0]!;
        if (loc > 4) return ok(TPM_RESULT.BAD_LOCALITY);
        this.localityValue = loc;
        return ok(TPM_RESULT.SUCCESS);
      }
      case CMD.HASH_START:
        if (!this.running) return notRunning;
        if (n !== 0) return bad;
        this.hashStart();
        return ok(TPM_RESULT.SUCCESS);
      case CMD.HASH_DATA: {
        if (n < 4) return EMPTY;
        const length = view.getUint32(4);
        if (n - 4 < length) return EMPTY;
        if (!this.running) return notRunning;
        this.drtm?.push(body.slice(4, 4 + length));
        return ok(TPM_RESULT.SUCCESS);
      }
      case CMD.HASH_END:
        if (!this.running) return notRunning;
        if (n !== 0) return bad;
        this.hashEnd();
        return ok(TPM_RESULT.SUCCESS);
      case CMD.CANCEL_TPM_CMD:
        if (!this.running) return notRunning;
        if (n !== 0) return bad;
        // TPMLIB_CancelCommand: a flag the TPM polls during long operations; cleared when a command starts.
        this.cancelFlag = true;
        return ok(TPM_RESULT.SUCCESS);
      case CMD.STORE_VOLATILE:
        if (!this.running) return notRunning;
        if (n !== 0) return bad;
        this.storeVolatile();
        return ok(TPM_RESULT.SUCCESS);
      case CMD.GET_STATEBLOB:
        if (n < 12) return EMPTY;
        if (!this.running) return notRunning;
        return this.getStateBlob(view.getUint32(8), view.getUint32(12));
      case CMD.SET_STATEBLOB: {
        if (n < 12) return EMPTY;
        const length = view.getUint32(12);
        if (n - 12 < length) return EMPTY;
        if (this.running) return notRunning;
        // ctrlchannel_receive_state: more bytes than announced is TPM_BAD_PARAMETER.
        if (n - 12 > length) return bad;
        return ok(this.setStateBlob(view.getUint32(8), view.getUint32(4), body.subarray(12)));
      }
      case CMD.GET_CONFIG:
        if (n !== 0) return bad;
        // No state encryption key and no migration key.
        return u32be(TPM_RESULT.SUCCESS, 0);
      case CMD.SET_DATAFD:
        if (this.dataChannel === 'server' || this.dataFdInstalled) return ok(TPM_RESULT.IOERROR);
        this.dataFdInstalled = true;
        return ok(TPM_RESULT.SUCCESS);
      case CMD.SET_BUFFERSIZE: {
        if (n < 4) return bad;
        const wanted = view.getUint32(4);
        if (wanted > 0 && this.running) return notRunning;
        if (wanted > 0) this.bufferSizeValue = Math.min(Math.max(wanted, MIN_BUFFER_SIZE), MAX_BUFFER_SIZE);
        return u32be(TPM_RESULT.SUCCESS, this.bufferSizeValue, MIN_BUFFER_SIZE, MAX_BUFFER_SIZE);
      }
      case CMD.GET_INFO:
        if (n < 16) return bad;
        return this.getInfo(view.getBigUint64(4), view.getUint32(12));
      default:
        // Includes CMD_LOCK_STORAGE, which swtpm 0.7.1 does not know.
        return notRunning;
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** TPMLIB_Terminate: the TPM loses its volatile state (the files and cached blobs stay). */
  private terminate(): void {
    this.running = false;
    this.drtm = null;
  }

  /** CMD_INIT: TPMLIB_Terminate, then tpmlib_start. */
  private init(flags: number): number {
    this.terminate();
    return this.start(flags);
  }

  /** tpmlib_start: TPMLIB_MainInit, then delete the volatile state file if asked to. */
  private start(flags: number): number {
    const res = this.mainInit();
    if (res !== TPM_RESULT.SUCCESS) return res;
    if (flags & PTM_INIT_FLAG_DELETE_VOLATILE) this.store.delete(STATE_FILE.volatile);
    this.running = true;
    return TPM_RESULT.SUCCESS;
  }

  /**
   * TPMLIB_MainInit + _TPM_Init: permanent state from a cached blob or tpm2-00.permall (a new TPM is
   * manufactured when there is neither), volatile state from a cached blob or tpm2-00.volatilestate.
   * Everything is parsed before anything is applied.
   */
  private mainInit(): number {
    const cachedPerm = this.cachedPermanent;
    const cachedVol = this.cachedVolatile;
    this.cachedPermanent = undefined;
    this.cachedVolatile = undefined;
    let perm: ParsedPermanent | 'manufacture';
    let vol: ParsedVolatile | undefined;
    try {
      perm =
        cachedPerm?.kind === 'blob' ? cachedPerm.parsed : (this.loadStateFile('permanent') ?? 'manufacture');
      if (cachedVol?.kind === 'blob') vol = cachedVol.parsed;
      else if (cachedVol === undefined) vol = this.loadStateFile('volatile');
    } catch (e) {
      if (!(e instanceof BlobError)) throw e;
      // Inferred: libtpms enters failure mode when it cannot load its state, so TPMLIB_MainInit fails with
      // TPM_RC_FAILURE.
      this.lastErrorText = `TPM could not start: ${e.message}`;
      return TPM_RESULT.RC_FAILURE;
    }
    const ctx = this.engine.ctx;
    const firstInit = this.firstInit;
    this.firstInit = false;
    // TPMLIB_MainInit starts the TPM anew: out of failure mode (inferred from TPM2_MainInit, which
    // clears g_inFailureMode before _TPM_Init).
    this.failure = undefined;
    // The established bit is a libtpms global: it survives a power cycle of the process, not a restart.
    const established = firstInit ? false : ctx.perm.tpmEstablished;
    if (perm !== 'manufacture') {
      applyBlob(ctx, perm);
    } else if (!firstInit) {
      // No NV any more (the state directory was emptied): TPM_Manufacture again.
      ctx.perm = new TpmContext(ctx.config).perm;
      ctx.saved = null;
    }
    ctx.perm.tpmEstablished = established;
    if (vol) {
      applyBlob(ctx, vol);
      this.drtm = vol.platform.drtmData ? [vol.platform.drtmData.slice()] : null;
      this.hcrtmPending = vol.platform.hcrtmPending;
    } else {
      // A power cycle: the TPM needs TPM2_Startup. (At the first start the engine is fresh already.)
      if (!firstInit) ctx.vol = ctx.freshVolatile();
      ctx.started = false;
      this.drtm = null;
      this.hcrtmPending = false;
    }
    this.storedPermanent = undefined;
    // A state that cannot be written leaves a TPM in failure mode rather than a process that fails.
    this.syncPermanent();
    return TPM_RESULT.SUCCESS;
  }

  /** A state file's libtpms blob, parsed; undefined when the file does not exist. Throws BlobError. */
  private loadStateFile<T extends 'permanent' | 'volatile'>(type: T) {
    const file = this.store.load(STATE_FILE[type]);
    if (file === undefined) return undefined;
    const unwrapped = unwrapStateFile(file);
    if (!unwrapped.ok) throw new BlobError(type, 'shape', `${STATE_FILE[type]} has no data record`);
    return parseBlob(type, unwrapped.blob);
  }

  /**
   * libtpms writes NV (tpm2-00.permall) when a command changed it, and not in failure mode. A save that
   * throws puts the TPM into failure mode (false).
   */
  private syncPermanent(): boolean {
    if (this.failure) return true;
    const text = permanentStateText(this.engine.ctx);
    if (text === this.storedPermanent) return true;
    try {
      this.store.save(STATE_FILE.permanent, wrapStateFile(getBlob(this.engine.ctx, 'permanent')));
    } catch (e) {
      this.enterFailureMode(e instanceof Error ? e.message : String(e));
      return false;
    }
    this.storedPermanent = text;
    this.permanentSaved = true;
    return true;
  }

  private platform(): PlatformState {
    return {
      tpmEstablished: this.engine.ctx.perm.tpmEstablished,
      drtmData: this.drtm ? concat(...this.drtm) : null,
      hcrtmPending: this.hcrtmPending,
    };
  }

  /** SWTPM_NVRAM_Store_Volatile. */
  private storeVolatile(): void {
    this.store.save(
      STATE_FILE.volatile,
      wrapStateFile(getBlob(this.engine.ctx, 'volatile', this.platform())),
    );
  }

  // ---- state blobs ------------------------------------------------------------------------------

  /**
   * ctrlchannel_return_state: the blob comes from the state file (the volatile one is written for the
   * occasion and deleted again); no file is TPM_RETRY with no data, which is always the case for
   * SAVESTATE on a TPM 2.0. Everything from `offset` on comes in this one answer.
   */
  private getStateBlob(type: number, offset: number): Uint8Array {
    const name = this.stateFileName(type);
    if (type === BLOB_TYPE.VOLATILE) this.storeVolatile();
    if (type === BLOB_TYPE.PERMANENT) this.syncPermanent();
    let res: number = TPM_RESULT.SUCCESS;
    let blob: Uint8Array = EMPTY;
    const file = name === undefined ? undefined : this.store.load(name);
    if (file === undefined) {
      res = TPM_RESULT.RETRY;
    } else {
      const unwrapped = unwrapStateFile(file);
      if (unwrapped.ok) blob = wrapMigrationBlob(unwrapped.blob);
      else res = unwrapped.result;
    }
    if (type === BLOB_TYPE.VOLATILE) this.store.delete(STATE_FILE.volatile);
    const length = res === TPM_RESULT.SUCCESS && offset < blob.length ? blob.length - offset : 0;
    const header = u32be(res, 0, length, length);
    return length > 0 ? concat(header, blob.subarray(offset)) : header;
  }

  private stateFileName(type: number): string | undefined {
    switch (type) {
      case BLOB_TYPE.PERMANENT:
        return STATE_FILE.permanent;
      case BLOB_TYPE.VOLATILE:
        return STATE_FILE.volatile;
      case BLOB_TYPE.SAVESTATE:
        return STATE_FILE.savestate;
      default:
        return undefined;
    }
  }

  /**
   * SWTPM_NVRAM_SetStateBlob + libtpms TPM2_SetState: check swtpm's wrapping, then validate the blob and
   * keep it for the next CMD_INIT. A refused blob changes nothing but drops all cached blobs, as libtpms'
   * ClearAllCachedState does (observed: after a refused volatile blob, CMD_INIT needs TPM2_Startup).
   */
  private setStateBlob(type: number, stateFlags: number, data: Uint8Array): number {
    if (type !== BLOB_TYPE.PERMANENT && type !== BLOB_TYPE.VOLATILE && type !== BLOB_TYPE.SAVESTATE) {
      this.lastErrorText = `unknown blob type ${type}`;
      return TPM_RESULT.BAD_PARAMETER;
    }
    const unwrapped = unwrapMigrationBlob(data, stateFlags);
    if (!unwrapped.ok) {
      this.lastErrorText = `state blob refused by swtpm (result 0x${unwrapped.result.toString(16)})`;
      return unwrapped.result;
    }
    if (unwrapped.blob === null) {
      // TPMLIB_SetState(type, NULL): "no state of this type" for the next CMD_INIT.
      if (type === BLOB_TYPE.PERMANENT) this.cachedPermanent = { kind: 'empty' };
      if (type === BLOB_TYPE.VOLATILE) this.cachedVolatile = { kind: 'empty' };
      return TPM_RESULT.SUCCESS;
    }
    const blob = unwrapped.blob;
    const refuse = (res: number, why: string): number => {
      this.cachedPermanent = undefined;
      this.cachedVolatile = undefined;
      this.lastErrorText = why;
      return res;
    };
    try {
      if (type === BLOB_TYPE.SAVESTATE) {
        return refuse(
          TPM_RESULT.BAD_TYPE,
          'a TPM 2.0 keeps its save state in NV and takes no save-state blob',
        );
      }
      if (type === BLOB_TYPE.PERMANENT) {
        this.cachedPermanent = { kind: 'blob', parsed: parseBlob('permanent', blob) };
        return TPM_RESULT.SUCCESS;
      }
      // Volatile state is loaded on top of the permanent state, which must exist (inferred from
      // TPM2_SetState: no cached or stored permanent state is TPM_RETRY from the NV load).
      const perm = this.cachedPermanent;
      if (perm?.kind === 'empty')
        return refuse(TPM_RESULT.RC_INSUFFICIENT, 'volatile state set without permanent state');
      if (perm === undefined && this.loadStateFile('permanent') === undefined) {
        return refuse(TPM_RESULT.RETRY, 'volatile state set, but there is no permanent state');
      }
      this.cachedVolatile = { kind: 'blob', parsed: parseBlob('volatile', blob) };
      return TPM_RESULT.SUCCESS;
    } catch (e) {
      if (!(e instanceof BlobError)) throw e;
      return refuse(blobErrorResult(e), e.message);
    }
  }

  // ---- established bit and DRTM -----------------------------------------------------------------

  /** TPM2_IO_TpmEstablished_Reset: only from locality 3 or 4. */
  private resetEstablished(locality: number): number {
    if (locality !== 3 && locality !== 4) return TPM_RESULT.BAD_LOCALITY;
    this.engine.ctx.perm.tpmEstablished = false;
    return TPM_RESULT.SUCCESS;
  }

  /**
   * _TPM_Hash_Start: a DRTM event sequence takes an object slot; if all are taken, the lowest transient
   * handle is flushed for it (observed: with three sequences loaded, 0x80000000 disappears). The slot
   * itself is not modelled: any TPM command ends the sequence before it runs, so nothing can see it.
   */
  private hashStart(): void {
    const vol = this.engine.ctx.vol;
    const handles = [...vol.objects, ...vol.sequences].map((o) => o.handle).sort((a, b) => a - b);
    if (handles.length >= MAX_LOADED_OBJECTS) this.engine.ctx.flushTransient(handles[0]!);
    this.drtm = [];
    this.engine.ctx.perm.tpmEstablished = true;
  }

  /**
   * _TPM_Hash_End: after TPM2_Startup, reset PCRs 17–22, extend the digest of the data into PCR 17 of every
   * bank and count a restart; before it (H-CRTM), PCR 0 becomes 0…04 extended with the digest and keeps
   * that value through TPM2_Startup(CLEAR).
   */
  private hashEnd(): void {
    if (this.drtm === null) return;
    const data = concat(...this.drtm);
    this.drtm = null;
    const ctx = this.engine.ctx;
    const vol = ctx.vol;
    let pcr: number;
    if (ctx.started) {
      for (const bank of PCR_BANKS) {
        for (const i of DYNAMIC_PCRS) vol.pcrs[bank][i] = new Uint8Array(hashByName(bank).digestSize);
      }
      pcr = DRTM_PCR;
      vol.restartCount = (vol.restartCount + 1) >>> 0;
    } else {
      pcr = HCRTM_PCR;
      this.hcrtmPending = true;
    }
    for (const bank of PCR_BANKS) {
      const alg = hashByName(bank);
      const start = new Uint8Array(alg.digestSize);
      if (!ctx.started) start[alg.digestSize - 1] = 4;
      vol.pcrs[bank][pcr] = digest(alg, start, digest(alg, data));
      // PCRExtend once per bank; PCRs 0 and 17 count in pcrUpdateCounter (observed: +1 per bank).
      vol.pcrUpdateCounter = (vol.pcrUpdateCounter + 1) >>> 0;
    }
  }

  // ---- GET_INFO ---------------------------------------------------------------------------------

  private getInfo(flags: bigint, offset: number): Uint8Array {
    const parts = INFO_PARTS.filter(([bit]) => (flags & BigInt(bit)) !== 0n).map(([, text]) => text);
    const text = new TextEncoder().encode(`{${parts.join(',')}}`);
    if (offset >= text.length) return u32be(TPM_RESULT.BAD_PARAMETER);
    const withNul = concat(text, Uint8Array.of(0));
    const chunk = withNul.subarray(offset, offset + PTM_GETINFO_SIZE);
    return concat(u32be(TPM_RESULT.SUCCESS, withNul.length, chunk.length), chunk);
  }

  /** The blob a state file holds, for tests and tools (the libtpms blob, without swtpm's wrapping). */
  stateFileBlob(type: Exclude<BlobType, 'savestate'>): Uint8Array | undefined {
    const file = this.store.load(STATE_FILE[type]);
    if (file === undefined) return undefined;
    const unwrapped = unwrapStateFile(file);
    return unwrapped.ok ? unwrapped.blob : undefined;
  }
}
