// QEMU's TPM backend as it talks to swtpm: backends/tpm/tpm_backend.c (deliver a request, the worker
// thread, the completion bottom half, finish_sync) plus backends/tpm/tpm_emulator.c (locality, the data
// channel, the control channel), driven by the kernel Scheduler in virtual time.
//
// Timeline of one command delivered at t (h = transportHopNs, one message on one swtpm socket):
//   t                       tpm_backend_deliver_request, tpm_emulator_handle_request (+ set_locality)
//   t0 = t [+ 2h] + h       tpm_emulator_unix_tx_bufs: the command reaches the TPM, whose cost model
//                           decides its duration (the SET_LOCALITY round trip comes first when sent)
//   t1 = t0 + duration + h  tpm_backend_worker_thread: the response is back, the thread returns
//   t1 + bottomHalfDelayNs  tpm_backend_request_completed: the bottom half on the main loop calls the
//                           frontend's requestCompleted, then the backend is free again
// t1 and the bottom half are separate scheduler events, so a snapshot can cut between them.
//
// The determinism rule for asynchronous transports (the TPM Worker): every answer the TPM gives is
// consumed by a scheduler event of this backend, never where it arrives. The event's time never depends
// on when the answer arrives, only on virtual time and on the answer's own durationNs, and every event
// is scheduled from inside another event (or a port call), so equal-time ties get the same seq either
// way. An event must not be dispatched before its answer is there: drive the scheduler through run() /
// finishSync() (which await `pendingAnswer` before each dispatch), or await `pendingAnswer` yourself.
// With an InProcessTransport the answer exists as soon as the request is made, so the plain Scheduler
// run methods work too, and both give the same trace.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isRecord, isSafeNonNegInt } from '../kernel/checks';
import type { JsonValue, RunResult, Scheduler, TraceLog } from '../kernel';
import { CMD, ctrlRequest, ctrlResponse, PTM_CAP } from '../swtpm/ioctl';
import type { SwtpmDevice } from '../swtpm';
import type { BackendCmd, TpmBackendPort, TpmFrontend } from '../tis/backend-port';
import { InProcessTransport } from './transport';
import type { TpmCommandResult, TpmTransport } from './transport';

export interface EmulatorBackendConfig {
  scheduler: Scheduler;
  trace: TraceLog;
  transport: TpmTransport;
  /** One message on one of swtpm's sockets, one way (default 10 µs). A round trip costs two. */
  transportHopNs?: number;
  /** From the thread pool's completion to the bottom half running on the main loop (default 2 µs). */
  bottomHalfDelayNs?: number;
  /** Prefix of this backend's scheduler event kinds; unique per backend on one scheduler (default 'tpm0'). */
  name?: string;
}

export const DEFAULT_TRANSPORT_HOP_NS = 10_000;
export const DEFAULT_BOTTOM_HALF_DELAY_NS = 2_000;
/** TPM_TIS_BUFFER_MAX: tpm_tis_reset starts the TPM with MIN(backend buffer size, 4096). */
const TIS_BUFFER_MAX = 4096;
/** tpm_emulator_inst_init: cur_locty_number = ~0 (uint8_t), so the first command always sets it. */
const NO_LOCALITY = 0xff;
/** TPM_ORD_ContinueSelfTest: the only ordinal tpm_util_is_selftest recognises (a TPM 1.2 one). */
const TPM_ORD_CONTINUE_SELFTEST = 0x53;
const TPM_FAIL = 9;
const TPM_TAG_RSP_COMMAND = 0xc4;
const TPM2_ST_NO_SESSIONS = 0x8001;
/** TPM2_ReadClock, the probe tpm_util_test_tpmdev sends first. */
const READ_CLOCK = Uint8Array.of(0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x81);
const MIN_CAPS_TPM2 =
  PTM_CAP.INIT |
  PTM_CAP.SHUTDOWN |
  PTM_CAP.GET_TPMESTABLISHED |
  PTM_CAP.SET_LOCALITY |
  PTM_CAP.RESET_TPMESTABLISHED |
  PTM_CAP.SET_DATAFD |
  PTM_CAP.STOP |
  PTM_CAP.SET_BUFFERSIZE;

export type BackendPhase = 'idle' | 'transmitting' | 'executing' | 'bottomHalfPending';

interface CommandAnswer {
  kind: 'command';
  ret: number;
  response: Uint8Array;
  durationNs: number;
  localitySet: boolean;
  error: string | null;
}
interface StartupAnswer {
  kind: 'startup';
  error: string | null;
  bufferSize: number;
  minSize: number;
  maxSize: number;
}
interface EstablishedAnswer {
  kind: 'established';
  error: string | null;
  flag: boolean;
}
type Answer = CommandAnswer | StartupAnswer | EstablishedAnswer;

interface InFlight {
  cmd: BackendCmd;
  io: number;
  phase: Exclude<BackendPhase, 'idle'>;
  isSelftest: boolean;
  ret: number;
}

/** The backend's plain state for snapshots (no TPM state: that travels in the tpm-emulator blobs). */
export interface EmulatorBackendState {
  curLocality: number;
  establishedCached: boolean;
  establishedFlag: boolean;
  bufferSize: number;
  hadStartupError: boolean;
  nextIo: number;
  inFlight: null | {
    locality: number;
    input: string;
    output: string | null;
    selftestDone: boolean;
    io: number;
    phase: Exclude<BackendPhase, 'idle'>;
    isSelftest: boolean;
    ret: number;
  };
  /** Answers the TPM gave that an event of this backend has not consumed yet, by io number. */
  answers: { io: number; answer: JsonValue }[];
}

type Maybe<T> = T | Promise<T>;

function then<T, U>(x: Maybe<T>, f: (v: T) => Maybe<U>): Maybe<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function u32At(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** tpm_util_write_fatal_error_response: a TPM 1.2-style TPM_FAIL header. */
function fatalErrorResponse(): Uint8Array {
  return Uint8Array.of(0, TPM_TAG_RSP_COMMAND, 0, 0, 0, 10, 0, 0, 0, TPM_FAIL);
}

/** tpm_util_is_selftest: in_len >= 10 and the ordinal is TPM_ORD_ContinueSelfTest. */
export function isSelftestCommand(input: Uint8Array): boolean {
  return input.length >= 10 && u32At(input, 6) === TPM_ORD_CONTINUE_SELFTEST;
}

export class EmulatorBackend implements TpmBackendPort {
  private readonly scheduler: Scheduler;
  private readonly trace: TraceLog;
  private readonly transport: TpmTransport;
  /** Set for an InProcessTransport: requests are answered synchronously, in the call. */
  private readonly device: SwtpmDevice | null;
  private readonly hopNs: number;
  private readonly bhDelayNs: number;
  private readonly kinds: { tx: string; worker: string; bh: string; startup: string; established: string };
  private frontend: TpmFrontend | null = null;

  private caps = 0;
  private tpmVersion: 1 | 2 = 2;
  private curLocality = NO_LOCALITY;
  private establishedCached = false;
  private establishedFlag = false;
  private bufferSize = TIS_BUFFER_MAX;
  private startupError = false;
  private inFlight: InFlight | null = null;

  private nextIo = 1;
  private readonly answers = new Map<number, Answer>();
  private outstanding = 0;
  /** Serialises asynchronous requests in issue order, as QEMU's synchronous socket calls are. Never rejects. */
  private tail: Promise<void> = Promise.resolve();

  constructor(config: EmulatorBackendConfig) {
    this.scheduler = config.scheduler;
    this.trace = config.trace;
    this.transport = config.transport;
    this.device = config.transport instanceof InProcessTransport ? config.transport.device : null;
    this.hopNs = config.transportHopNs ?? DEFAULT_TRANSPORT_HOP_NS;
    this.bhDelayNs = config.bottomHalfDelayNs ?? DEFAULT_BOTTOM_HALF_DELAY_NS;
    for (const [what, v] of [
      ['transportHopNs', this.hopNs],
      ['bottomHalfDelayNs', this.bhDelayNs],
    ] as const) {
      if (!isSafeNonNegInt(v))
        throw new RangeError(`EmulatorBackend: ${what} must be a non-negative integer`);
    }
    const name = config.name ?? 'tpm0';
    this.kinds = {
      tx: `${name}:tpm_emulator_unix_tx_bufs`,
      worker: `${name}:tpm_backend_worker_thread`,
      bh: `${name}:tpm_backend_request_completed`,
      startup: `${name}:tpm_emulator_startup_tpm`,
      established: `${name}:tpm_emulator_get_tpm_established_flag`,
    };
    this.scheduler.on(this.kinds.tx, (p) => this.onTransmitted(ioOf(p)));
    this.scheduler.on(this.kinds.worker, (p) => this.onWorkerThreadDone(ioOf(p)));
    this.scheduler.on(this.kinds.bh, (p) => this.onBottomHalf(ioOf(p)));
    this.scheduler.on(this.kinds.startup, (p) => this.onStartupDone(ioOf(p)));
    this.scheduler.on(this.kinds.established, (p) => this.onEstablishedFetched(ioOf(p)));
  }

  // ---- set-up -------------------------------------------------------------------------------------

  /** tpm_backend_init: the frontend whose request_completed the bottom half calls. */
  setFrontend(frontend: TpmFrontend): void {
    if (this.frontend) throw new Error('EmulatorBackend: the TPM backend is already initialized');
    this.frontend = frontend;
  }

  /**
   * tpm_emulator_handle_device_opts without the data fd: tpm_util_test_tpmdev (TPM2_ReadClock, to learn
   * the version), tpm_emulator_probe_caps + check_caps, then the buffer size query and the established
   * flag. Deviation: QEMU's get_buffer_size sends CMD_STOP first; here the query is SET_BUFFERSIZE(0) alone,
   * so a TPM that was started with --flags startup-clear keeps running until reset() (which does stop it).
   * With an InProcessTransport everything is done when this returns.
   */
  init(): Promise<void> {
    try {
      return Promise.resolve(then(this.sendCommand(READ_CLOCK, this.scheduler.nowNs), (r) => this.probed(r)));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** After tpm_util_test_tpmdev: a TPM 2 answers TPM2_ReadClock with a TPM2_ST_NO_SESSIONS tag. */
  private probed(r: TpmCommandResult): Maybe<void> {
    const tag = r.response.length >= 2 ? (r.response[0]! << 8) | r.response[1]! : 0;
    this.tpmVersion = tag === TPM2_ST_NO_SESSIONS ? 2 : 1;
    this.log(`tpm_emulator_handle_device_opts_${this.tpmVersion === 2 ? 'tpm2' : 'tpm12'}`, {});
    return then(this.sendControl(ctrlRequest.bare(CMD.GET_CAPABILITY)), (capBytes) => {
      // tpm_emulator_probe_caps + tpm_emulator_check_caps
      this.caps = Number(ctrlResponse.capability(capBytes) & 0xffffffffn);
      this.log('tpm_emulator_probe_caps', { caps: hex32(this.caps) });
      if (this.tpmVersion === 2 && (this.caps & MIN_CAPS_TPM2) !== MIN_CAPS_TPM2) {
        throw new Error(
          'tpm-emulator: TPM does not implement minimum set of required capabilities for TPM 2 ' +
            `(${hex32(MIN_CAPS_TPM2)})`,
        );
      }
      return then(this.sendControl(ctrlRequest.setBufferSize(0)), (bs) => {
        const b = ctrlResponse.bufferSize(bs);
        if (b.result === 0) this.bufferSize = b.bufferSize;
        this.log('tpm_emulator_set_buffer_size', {
          buffersize: b.bufferSize,
          minsize: b.minSize,
          maxsize: b.maxSize,
        });
        return then(this.sendControl(ctrlRequest.bare(CMD.GET_TPMESTABLISHED)), (est) =>
          this.applyEstablished(ctrlResponse.established(est)),
        );
      });
    });
  }

  // ---- TpmBackendPort -----------------------------------------------------------------------------

  /** tpm_backend_deliver_request, then (in the worker thread) tpm_emulator_handle_request. */
  deliverRequest(cmd: BackendCmd): void {
    const data = { locality: cmd.locality, inLen: cmd.input.length };
    if (this.inFlight) {
      this.log('tpm_backend_deliver_request', { ...data, error: 'There is a TPM request pending' });
      return;
    }
    this.log('tpm_backend_deliver_request', data);
    const io = this.nextIo++;
    this.inFlight = { cmd, io, phase: 'transmitting', isSelftest: isSelftestCommand(cmd.input), ret: 0 };
    this.log('tpm_emulator_handle_request', {});
    // tpm_emulator_set_locality: only when the locality differs from the last one set.
    const setLocality = cmd.locality !== this.curLocality;
    if (setLocality) this.log('tpm_emulator_set_locality', { locality: cmd.locality });
    const arrivesNs = this.scheduler.nowNs + (setLocality ? 2 * this.hopNs : 0) + this.hopNs;
    const input = cmd.input.slice();
    this.issue(io, () => this.handleRequest(cmd.locality, setLocality, input, arrivesNs));
    this.scheduler.scheduleAt(arrivesNs, this.kinds.tx, { io });
  }

  /** tpm_emulator_cancel_cmd. The engine runs a command whole when it arrives, so a cancel never changes a response. */
  cancelCmd(): void {
    if ((this.caps & PTM_CAP.CANCEL_TPM_CMD) === 0) {
      this.log('tpm_emulator_cancel_cmd_not_supt', {});
      return;
    }
    this.log('tpm_emulator_cancel_cmd', { busy: this.inFlight !== null });
    this.issue(this.nextIo++, () => then(this.sendControl(ctrlRequest.bare(CMD.CANCEL_TPM_CMD)), () => null));
  }

  /** tpm_emulator_get_tpm_established_flag: the cached bit (refreshed after a reset of the flag). */
  getTpmEstablishedFlag(): boolean {
    return this.establishedFlag;
  }

  /**
   * tpm_emulator_reset_tpm_established_flag: CMD_RESET_TPMESTABLISHED with the locality last *set*
   * (cur_locty_number; QEMU ignores the locty argument here), then the cache is invalidated. QEMU re-reads
   * the bit on the next ACCESS read, synchronously; here the re-read is issued right away and lands one
   * control round trip later (reads before that see the old bit).
   */
  resetTpmEstablishedFlag(locality: number): void {
    if (this.tpmVersion !== 2) return;
    this.log('tpm_emulator_reset_tpm_established_flag', { locality, curLocality: this.curLocality });
    const io = this.nextIo++;
    const loc = this.curLocality;
    this.issue(io, () =>
      then(this.sendControl(ctrlRequest.resetEstablished(loc)), (r) => {
        const res = ctrlResponse.result(r);
        if (res !== 0) {
          return {
            kind: 'established',
            error: `tpm-emulator: TPM result for rest established flag: ${hex32(res)}`,
            flag: this.establishedFlag,
          } as Answer;
        }
        return then(this.sendControl(ctrlRequest.bare(CMD.GET_TPMESTABLISHED)), (est) => {
          const e = ctrlResponse.established(est);
          return {
            kind: 'established',
            error: e.result === 0 ? null : 'tpm-emulator: Could not get the TPM established flag',
            flag: e.bit,
          } as Answer;
        });
      }),
    );
    this.scheduler.schedule(4 * this.hopNs, this.kinds.established, { io });
  }

  /** tpm_emulator_get_buffer_size: the size learnt in init() (or the last startup). */
  getBufferSize(): number {
    return this.bufferSize;
  }

  getTpmVersion(): 1 | 2 {
    return this.tpmVersion;
  }

  /**
   * tpm_backend_reset (finish_sync), then tpm_backend_startup_tpm(MIN(buffer size, 4096)) as tpm_tis_reset
   * does: finish_sync, tpm_emulator_startup_tpm_resume(size, false) = CMD_STOP, CMD_SET_BUFFERSIZE, CMD_INIT.
   * The TPM then needs TPM2_Startup from the guest. The answers land after three control round trips.
   */
  reset(): void {
    this.log('tpm_backend_reset', {});
    this.waitCmdCompleted();
    this.startupError = false;
    const size = Math.min(this.bufferSize, TIS_BUFFER_MAX);
    this.log('tpm_emulator_startup_tpm_resume', { isResume: false, buffersize: size });
    const io = this.nextIo++;
    this.issue(io, () => this.startupChain(size));
    this.scheduler.schedule(6 * this.hopNs, this.kinds.startup, { io });
  }

  // ---- for pre_save, the UI and the run loop ---------------------------------------------------------

  get isBusy(): boolean {
    return this.inFlight !== null;
  }

  get phase(): BackendPhase {
    return this.inFlight?.phase ?? 'idle';
  }

  /** The response is back from the TPM, the bottom half has not run yet (a migration cut point). */
  get responseWaitingForBottomHalf(): boolean {
    return this.inFlight?.phase === 'bottomHalfPending';
  }

  /** The command the backend holds (s->cmd), from delivery until its bottom half ran; null when idle. */
  get inFlightCommand(): { locality: number; input: Uint8Array } | null {
    const f = this.inFlight;
    return f && { locality: f.cmd.locality, input: f.cmd.input.slice() };
  }

  /** tpm_backend_had_startup_error */
  get hadStartupError(): boolean {
    return this.startupError;
  }

  /** Resolves when every request made so far has its answer; null when none is outstanding. */
  get pendingAnswer(): Promise<void> | null {
    return this.outstanding > 0 ? this.tail : null;
  }

  /**
   * tpm_backend_finish_sync: runs the scheduler until no command is in flight, bottom half included.
   * QEMU only polls the main loop here with the vCPUs stopped: pause the vCPUs before calling it. Throws if
   * an asynchronous answer would be needed: use finishSync() then.
   */
  waitCmdCompleted(): void {
    if (!this.inFlight) return;
    this.log('tpm_backend_finish_sync', {});
    this.scheduler.runUntilPredicate(() => !this.inFlight || this.outstanding > 0);
    if (this.inFlight) {
      throw new Error(
        'EmulatorBackend.waitCmdCompleted: the TPM has not answered yet (asynchronous transport); await finishSync() instead',
      );
    }
  }

  /** tpm_backend_finish_sync for any transport. */
  async finishSync(): Promise<void> {
    if (!this.inFlight) return;
    this.log('tpm_backend_finish_sync', {});
    await this.run({ until: () => !this.inFlight });
  }

  /**
   * Scheduler.runUntilPredicate that honours the determinism rule: before each dispatch it waits until
   * every TPM answer asked for so far has arrived.
   */
  async run(opts: { until?: () => boolean; limitNs?: number; maxEvents?: number } = {}): Promise<RunResult> {
    const until = opts.until ?? (() => false);
    let dispatched = 0;
    for (;;) {
      while (this.outstanding > 0) await this.tail;
      const left = opts.maxEvents === undefined ? undefined : opts.maxEvents - dispatched;
      const r = this.scheduler.runUntilPredicate(() => until() || this.outstanding > 0, {
        ...(opts.limitNs === undefined ? {} : { limitNs: opts.limitNs }),
        ...(left === undefined ? {} : { maxEvents: left }),
      });
      dispatched += r.dispatched;
      if (r.reason !== 'predicate' || until()) return { reason: r.reason, dispatched };
    }
  }

  // ---- snapshots ----------------------------------------------------------------------------------

  /**
   * One request on swtpm's control channel, outside the scheduler: what tpm_emulator_pre_save and
   * post_load do with the VM stopped (GET_STATEBLOB, STOP, SET_STATEBLOB, INIT). Synchronous with an
   * in-process TPM, a promise otherwise. Not while a TPM answer is on its way (await pendingAnswer).
   */
  controlRequest(bytes: Uint8Array): Uint8Array | Promise<Uint8Array> {
    if (this.outstanding > 0) {
      throw new Error(
        'EmulatorBackend.controlRequest: a TPM answer is still on its way; await pendingAnswer first',
      );
    }
    return this.sendControl(bytes);
  }

  /** The TPM behind an InProcessTransport (null for any other transport), for copying a machine. */
  get inProcessDevice(): SwtpmDevice | null {
    return this.device;
  }

  /** A trace event from the backend's thread of control (the migration code speaks for tpm_emulator.c). */
  note(kind: string, data: { [k: string]: JsonValue }): void {
    this.log(kind, data);
  }

  save(): EmulatorBackendState {
    if (this.outstanding > 0) {
      throw new Error('EmulatorBackend.save: a TPM answer is still on its way; await pendingAnswer first');
    }
    const f = this.inFlight;
    return {
      curLocality: this.curLocality,
      establishedCached: this.establishedCached,
      establishedFlag: this.establishedFlag,
      bufferSize: this.bufferSize,
      hadStartupError: this.startupError,
      nextIo: this.nextIo,
      inFlight: f && {
        locality: f.cmd.locality,
        input: bytesToHex(f.cmd.input),
        output: f.cmd.output && bytesToHex(f.cmd.output),
        selftestDone: f.cmd.selftestDone,
        io: f.io,
        phase: f.phase,
        isSelftest: f.isSelftest,
        ret: f.ret,
      },
      answers: [...this.answers].map(([io, a]) => ({ io, answer: answerToJson(a) })),
    };
  }

  /**
   * Replaces the backend's state with a saved one (the scheduler's queue is restored separately). The
   * frontend may pass the BackendCmd object it restored for the command in flight; otherwise one is made.
   */
  restore(state: EmulatorBackendState, cmd?: BackendCmd): void {
    if (this.outstanding > 0) throw new Error('EmulatorBackend.restore: a TPM answer is still on its way');
    if (!isRecord(state) || !isSafeNonNegInt(state.nextIo) || !Array.isArray(state.answers)) {
      throw new TypeError('EmulatorBackend.restore: malformed state');
    }
    const answers = state.answers.map(({ io, answer }) => [io, answerFromJson(answer)] as const);
    this.curLocality = state.curLocality;
    this.establishedCached = state.establishedCached;
    this.establishedFlag = state.establishedFlag;
    this.bufferSize = state.bufferSize;
    this.startupError = state.hadStartupError;
    this.nextIo = state.nextIo;
    this.answers.clear();
    for (const [io, a] of answers) this.answers.set(io, a);
    const f = state.inFlight;
    if (!f) {
      this.inFlight = null;
      return;
    }
    const c = cmd ?? { locality: f.locality, input: hexToBytes(f.input), output: null, selftestDone: false };
    c.output = f.output === null ? null : hexToBytes(f.output);
    c.selftestDone = f.selftestDone;
    this.inFlight = { cmd: c, io: f.io, phase: f.phase, isSelftest: f.isSelftest, ret: f.ret };
  }

  // ---- scheduler events ---------------------------------------------------------------------------

  /** The command reached the TPM; its duration is known from the cost model. */
  private onTransmitted(io: number): void {
    const a = this.peek(io, 'command'); // taken when the worker thread returns
    const f = this.current(io);
    if (a.localitySet) this.curLocality = f.cmd.locality;
    f.phase = 'executing';
    this.log('tpm_emulator_unix_tx_bufs', { inLen: f.cmd.input.length, durationNs: a.durationNs });
    const back = a.error === null ? a.durationNs + this.hopNs : 0;
    this.scheduler.schedule(back, this.kinds.worker, { io });
  }

  /** tpm_backend_worker_thread returns: the response is in cmd.output (QEMU writes the TIS buffer here). */
  private onWorkerThreadDone(io: number): void {
    const a = this.take(io, 'command');
    const f = this.current(io);
    f.cmd.output = a.response;
    // tpm_emulator_unix_tx_bufs: selftest_done only for a self-test whose response has errcode 0.
    f.cmd.selftestDone = f.isSelftest && a.error === null && u32At(a.response, 6) === 0;
    f.ret = a.ret;
    f.phase = 'bottomHalfPending';
    if (a.error !== null) this.log('error_report', { message: a.error });
    this.log('tpm_backend_worker_thread', {
      ret: a.ret,
      outLen: a.response.length,
      rc: hex32(u32At(a.response, 6)),
      selftestDone: f.cmd.selftestDone,
    });
    this.scheduler.schedule(this.bhDelayNs, this.kinds.bh, { io });
  }

  /** tpm_backend_request_completed: request_completed on the frontend, then s->cmd = NULL. */
  private onBottomHalf(io: number): void {
    const f = this.current(io);
    this.log('tpm_backend_request_completed', { locality: f.cmd.locality, ret: f.ret });
    try {
      this.frontend?.requestCompleted(f.cmd, f.ret);
    } finally {
      this.inFlight = null;
    }
  }

  private onStartupDone(io: number): void {
    const a = this.take(io, 'startup');
    if (a.bufferSize > 0) {
      this.bufferSize = a.bufferSize;
      this.log('tpm_emulator_set_buffer_size', {
        buffersize: a.bufferSize,
        minsize: a.minSize,
        maxsize: a.maxSize,
      });
    }
    if (a.error !== null) {
      this.startupError = true;
      this.log('error_report', { message: a.error });
    }
  }

  private onEstablishedFetched(io: number): void {
    const a = this.take(io, 'established');
    if (a.error !== null) {
      this.log('error_report', { message: a.error });
      return;
    }
    this.applyEstablished({ result: 0, bit: a.flag });
  }

  // ---- the swtpm conversation -----------------------------------------------------------------------

  /** tpm_emulator_handle_request: set_locality (if needed), then unix_tx_bufs; a failure gives TPM_FAIL. */
  private handleRequest(loc: number, setLocality: boolean, input: Uint8Array, nowNs: number): Maybe<Answer> {
    const fail = (error: string): Answer => ({
      kind: 'command',
      ret: -1,
      response: fatalErrorResponse(),
      durationNs: 0,
      localitySet: false,
      error,
    });
    const sendCommand = (localitySet: boolean): Maybe<Answer> =>
      then(this.sendCommand(input, nowNs), (r): Answer => {
        // tpm_emulator_unix_tx_bufs reads the 10-byte header, then the rest by its size field.
        if (r.response.length < 10 || u32At(r.response, 2) !== r.response.length) {
          return {
            ...(fail('tpm-emulator: short or malformed response from the TPM') as CommandAnswer),
            localitySet,
          };
        }
        return {
          kind: 'command',
          ret: 0,
          response: r.response,
          durationNs: r.durationNs,
          localitySet,
          error: null,
        };
      });
    if (!setLocality) return this.guard(() => sendCommand(false), fail);
    return this.guard(
      () =>
        then(this.sendControl(ctrlRequest.setLocality(loc)), (r) => {
          const res = ctrlResponse.result(r);
          return res === 0
            ? sendCommand(true)
            : fail(`tpm-emulator: TPM result for set locality : ${hex32(res)}`);
        }),
      fail,
    );
  }

  /** tpm_emulator_startup_tpm_resume(size, false): set_buffer_size (CMD_STOP + SET_BUFFERSIZE), CMD_INIT. */
  private startupChain(size: number): Maybe<Answer> {
    const answer = (error: string | null, b = { bufferSize: 0, minSize: 0, maxSize: 0 }): Answer => ({
      kind: 'startup',
      error,
      ...b,
    });
    return this.guard(
      () =>
        then(this.sendControl(ctrlRequest.bare(CMD.STOP)), (stop) => {
          const res = ctrlResponse.result(stop);
          if (res !== 0) return answer(`tpm-emulator: TPM result for CMD_STOP: ${hex32(res)}`);
          return then(this.sendControl(ctrlRequest.setBufferSize(size)), (bs) => {
            const b = ctrlResponse.bufferSize(bs);
            if (b.result !== 0)
              return answer(`tpm-emulator: TPM result for set buffer size : ${hex32(b.result)}`);
            const sizes = { bufferSize: b.bufferSize, minSize: b.minSize, maxSize: b.maxSize };
            return then(this.sendControl(ctrlRequest.init(0)), (init) => {
              const r = ctrlResponse.result(init);
              return answer(r === 0 ? null : `tpm-emulator: TPM result for CMD_INIT: ${hex32(r)}`, sizes);
            });
          });
        }),
      (e) => answer(e),
    );
  }

  private applyEstablished(e: { result: number; bit: boolean }): void {
    if (e.result !== 0) {
      this.log('error_report', { message: 'tpm-emulator: Could not get the TPM established flag' });
      return;
    }
    this.log('tpm_emulator_get_tpm_established_flag', { flag: e.bit ? 1 : 0 });
    this.establishedCached = true;
    this.establishedFlag = e.bit;
  }

  // ---- requests and their answers ------------------------------------------------------------------

  private sendControl(bytes: Uint8Array): Maybe<Uint8Array> {
    return this.device ? this.device.handleControl(bytes) : this.transport.control(bytes);
  }

  private sendCommand(bytes: Uint8Array, nowNs: number): Maybe<TpmCommandResult> {
    return this.device ? this.device.handleCommand(bytes, { nowNs }) : this.transport.command(bytes, nowNs);
  }

  /** Runs a request chain, turning a throw or a rejection into the chain's own failure answer. */
  private guard(run: () => Maybe<Answer>, fail: (message: string) => Answer): Maybe<Answer> {
    const message = (e: unknown) => `tpm-emulator: ${e instanceof Error ? e.message : String(e)}`;
    try {
      const r = run();
      return r instanceof Promise ? r.catch((e: unknown) => fail(message(e))) : r;
    } catch (e) {
      return fail(message(e));
    }
  }

  /** Makes a request now (in process) or after the earlier ones (asynchronous); stores its answer by io. */
  private issue(io: number, run: () => Maybe<Answer | null>): void {
    if (this.device) {
      const a = run();
      if (a instanceof Promise) throw new Error('EmulatorBackend: an in-process request went asynchronous');
      if (a) this.answers.set(io, a);
      return;
    }
    this.outstanding++;
    this.tail = this.tail
      .then(run)
      .then(
        (a) => {
          if (a) this.answers.set(io, a);
        },
        () => undefined,
      )
      .finally(() => {
        this.outstanding--;
      });
  }

  private take<K extends Answer['kind']>(io: number, kind: K): Extract<Answer, { kind: K }> {
    const a = this.peek(io, kind);
    this.answers.delete(io);
    return a;
  }

  private peek<K extends Answer['kind']>(io: number, kind: K): Extract<Answer, { kind: K }> {
    const a = this.answers.get(io);
    if (!a) {
      throw new Error(
        `EmulatorBackend: the TPM's answer to request ${io} has not arrived, but its event is being dispatched; ` +
          'with an asynchronous transport drive the scheduler through backend.run() or await backend.pendingAnswer before each step',
      );
    }
    if (a.kind !== kind) throw new Error(`EmulatorBackend: request ${io} was a ${a.kind}, not a ${kind}`);
    return a as Extract<Answer, { kind: K }>;
  }

  private current(io: number): InFlight {
    const f = this.inFlight;
    if (!f || f.io !== io)
      throw new Error(`EmulatorBackend: event for request ${io}, but it is not in flight`);
    return f;
  }

  private log(kind: string, data: { [k: string]: JsonValue }): void {
    this.trace.append(this.scheduler.nowNs, 'backend', kind, data);
  }
}

function ioOf(p: JsonValue): number {
  if (isRecord(p) && isSafeNonNegInt(p.io)) return p.io;
  throw new TypeError('EmulatorBackend: event payload without an io number');
}

function answerToJson(a: Answer): JsonValue {
  return a.kind === 'command' ? { ...a, response: bytesToHex(a.response) } : { ...a };
}

function answerFromJson(j: JsonValue): Answer {
  if (!isRecord(j)) throw new TypeError('EmulatorBackend.restore: malformed answer');
  if (j.kind === 'command' && typeof j.response === 'string') {
    return { ...(j as unknown as CommandAnswer), response: hexToBytes(j.response) };
  }
  if (j.kind === 'startup' || j.kind === 'established') return { ...(j as unknown as Answer) };
  throw new TypeError('EmulatorBackend.restore: malformed answer');
}
