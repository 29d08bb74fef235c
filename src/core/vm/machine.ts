// The whole machine: a vCPU running the guest program, the memory map with QEMU's TIS at 0xFED40000, QEMU's
// TPM emulator backend and the in-process swtpm-like TPM, on one scheduler and one trace; plus run control
// (run, pause = vm_stop, resume, the step buttons, run until a condition) and a plain-data view for the UI.
//
// Run control never leaves the world half-stepped: every method returns between two scheduler events.
// Stepping (stepKvm, stepInstruction, stepDriverOp, run with a condition) freezes the machine like a
// breakpoint, with the VM still in the running state; pause() is vm_stop, the only thing that applies
// completeMmioBeforeStop. A snapshot (next issue) is taken after pause().
import { EmulatorBackend, type BackendPhase } from '../backend/emulator-backend';
import { InProcessTransport, type TpmTransport } from '../backend/transport';
import { cloneJson, Scheduler, TraceLog, type JsonValue } from '../kernel';
import { createGuestProgram, formatConsoleLine, type ConsoleLine } from '../guest';
import type { GuestInput, GuestOp, GuestProgramFactory } from '../guest/program';
import { SwtpmDevice, type SwtpmDeviceOptions } from '../swtpm';
import {
  REG_DATA_FIFO,
  REG_DATA_XFIFO,
  REG_DATA_XFIFO_END,
  TIS_ADDR_BASE,
  TIS_ADDR_SIZE,
} from '../tis/registers';
import { TisDevice } from '../tis/tis-device';
import { MmioBus } from './bus';
import { parseMachineConfig, type MachineConfig } from './machine-config';
import { conditionPredicate, type RunOptions, type RunOutcome, type RunProbe } from './run-control';
import { HAZARD_TITLES, type CutPoint, type Hazard, type HazardKind } from './hazards';
import { RamBlock, TPM_PPI_ADDR_BASE, TPM_PPI_SIZE } from './ram-block';
import { Vcpu, type VcpuView } from './vcpu';
import type { MmioExit } from './vcpu-state';

export interface MachineOptions {
  /** How many recent trace events the trace window keeps (default 10,000; the hash covers all). */
  traceWindow?: number;
  /** Runs this program instead of the one config.guest describes (tests, benchmarks). */
  program?: GuestProgramFactory;
  /**
   * The TPM to talk to (a Worker's MessageTransport in the browser, a socket to swtpm). Default: an
   * in-process swtpm-like TPM made from config.seed and config.tpmSpeed.
   */
  transport?: TpmTransport;
}

/** A plain-data picture of the machine for the UI. */
export interface MachineView {
  timeNs: number;
  /** False after pause() (vm_stop) until resume() or the next run/step. */
  vmRunning: boolean;
  completeMmioBeforeStop: boolean;
  vcpu: VcpuView;
  /** The last console lines, dmesg-formatted. */
  console: string[];
  transactionsDone: number;
  responseBytesRead: number;
  backendPhase: BackendPhase;
  traceCount: number;
  /** Hazards seen so far on this machine (after a migration), oldest first. */
  hazards: Hazard[];
}

/** What the guest did, kept by the machine for the console and run control; migrates with the guest. */
export interface GuestRecord {
  console: ConsoleLine[];
  transactions: JsonValue[];
  marks: [string, number][];
  responseBytes: number;
}

/**
 * A load whose instruction the destination executes again because the source was saved between its exit
 * and its re-entry: the source's device already performed it and run->mmio.data, which held the value,
 * did not travel.
 */
export interface ReexecutedRead {
  rip: number;
  addr: number;
  size: 1 | 2 | 4;
  /** The value the source's device returned, lost with run->mmio.data. */
  lostValue: number;
  cut: CutPoint;
}

/** How many console lines the view carries; Machine.consoleLines has them all. */
const VIEW_CONSOLE_LINES = 200;

export class Machine implements RunProbe {
  readonly config: MachineConfig;
  readonly scheduler: Scheduler;
  readonly trace: TraceLog;
  readonly backend: EmulatorBackend;
  readonly tis: TisDevice;
  readonly bus: MmioBus;
  readonly vcpu: Vcpu;
  /** Everything the guest printed. */
  readonly consoleLines: ConsoleLine[] = [];
  /** The data of every 'transaction.end' mark, in order. */
  readonly transactions: JsonValue[] = [];
  /** The PPI memory, RAMBlock "tpm-ppi". */
  readonly ppi = new RamBlock('tpm-ppi', TPM_PPI_SIZE);
  readonly hazards: Hazard[] = [];
  private readonly hazardListeners = new Set<(h: Hazard) => void>();
  private reexecuted: ReexecutedRead | null = null;
  private vmRunning = true;
  private responseBytes = 0;
  private readonly marks = new Map<string, number>();
  private readonly consoleListeners = new Set<(line: ConsoleLine) => void>();

  /** Use createMachine: the backend must have been initialised. */
  constructor(
    config: MachineConfig,
    parts: { scheduler: Scheduler; trace: TraceLog; backend: EmulatorBackend },
    program: GuestProgramFactory,
  ) {
    this.config = config;
    ({ scheduler: this.scheduler, trace: this.trace, backend: this.backend } = parts);
    const { scheduler, trace } = this;
    this.tis = new TisDevice(this.backend, {
      trace: (kind, data) => trace.append(scheduler.nowNs, 'tis', kind, data),
    });
    this.backend.setFrontend(this.tis);
    this.bus = new MmioBus({ trace, now: () => scheduler.nowNs });
    this.bus.map({ name: 'tpm-tis-mmio', base: TIS_ADDR_BASE, size: TIS_ADDR_SIZE, device: this.tis });
    this.bus.map({ name: 'tpm-ppi', base: TPM_PPI_ADDR_BASE, size: TPM_PPI_SIZE, device: this.ppi });
    this.vcpu = new Vcpu({
      scheduler,
      trace,
      bus: this.bus,
      program,
      ...(config.steps ? { steps: config.steps } : {}),
      completeMmioBeforeStop: config.completeMmioBeforeStop ?? true,
      onRetire: (op, input) => this.observe(op, input),
      onDispatched: (exit, rip) => this.checkReexecuted(exit, rip),
    });
  }

  // ---- hazards -------------------------------------------------------------------------------------

  /** Calls listener with each hazard as the machine detects it; returns the unsubscribe function. */
  onHazard(listener: (h: Hazard) => void): () => void {
    const entry = (h: Hazard) => listener(h);
    this.hazardListeners.add(entry);
    return () => this.hazardListeners.delete(entry);
  }

  /** Names a hazard: in Machine.hazards, as a trace event (source 'hazard'), and to the listeners. */
  reportHazard(kind: HazardKind, cut: CutPoint, detail: string): Hazard {
    const h: Hazard = { kind, title: HAZARD_TITLES[kind], atNs: this.scheduler.nowNs, cut, detail };
    this.hazards.push(h);
    this.trace.append(h.atNs, 'hazard', kind, { title: h.title, detail, cut: cut.description });
    for (const l of this.hazardListeners) l(h);
    return h;
  }

  /** Arms the check for a load the destination will execute again (set up by a migration's load). */
  expectReexecutedRead(read: ReexecutedRead): void {
    this.reexecuted = read;
  }

  /** After QEMU dispatched an access: if it is the re-executed load and it moved the device, name it. */
  private checkReexecuted(exit: MmioExit, rip: number): void {
    const w = this.reexecuted;
    if (w === null) return;
    this.reexecuted = null;
    if (exit.isWrite || rip !== w.rip || exit.addr !== w.addr) return;
    const before = this.rwOffsetAtLoad;
    const after = this.tis.snapshot().rwOffset;
    this.trace.append(this.scheduler.nowNs, 'vcpu', 'mmio_reexecuted', {
      rip,
      addr: exit.addr,
      len: exit.size,
    });
    const got = exit.data ?? 0;
    // A repeated FIFO read either takes the next byte (rw_offset moves) or, after the last one, reads
    // "no data" (0xff): either way the guest never gets the byte the source read. Other registers have
    // no read side effects: reading them again only gives a fresher value.
    if (after === before && !(isFifo(exit.addr) && got !== w.lostValue)) return;
    const hex = (n: number) => `0x${n.toString(16).padStart(w.size * 2, '0')}`;
    const moved =
      after === before
        ? `rw_offset stayed at ${after}, past the end of the response`
        : `rw_offset moved ${before} → ${after}`;
    this.reportHazard(
      'duplicated-mmio-read',
      w.cut,
      `the ${w.size}-byte read at 0x${w.addr.toString(16)} (RIP ${rip}) ran again on the destination: the source ` +
        `had read ${hex(w.lostValue)}, lost with run->mmio.data; the destination read ${hex(got)} and ` +
        `${moved}, so the guest never sees ${hex(w.lostValue)}`,
    );
  }

  /** rw_offset as the load left it, for the re-executed read's check. */
  private rwOffsetAtLoad = 0;

  /** Where the source was cut, for a machine loaded from a snapshot that records it; else null. */
  loadedCut: CutPoint | null = null;

  /** After a snapshot was loaded: the VM is stopped (runstate inmigrate → paused) until resume or run. */
  enterLoadedState(cut: CutPoint | null = null): void {
    this.loadedCut = cut;
    this.vmRunning = false;
    this.rwOffsetAtLoad = this.tis.snapshot().rwOffset;
    this.trace.append(this.scheduler.nowNs, 'qemu', 'vm_state_notify', { running: 0, reason: 'inmigrate' });
  }

  /** An exact copy (migration/fork.ts) is running or paused as its original. */
  copyRunState(original: Machine): void {
    this.vmRunning = !original.isPaused;
  }

  /** What the guest did so far (console, transactions, marks), to travel with the guest's state. */
  saveGuestRecord(): GuestRecord {
    return {
      console: this.consoleLines.map((l) => ({ ...l })),
      transactions: this.transactions.map((t) => cloneJson(t)),
      marks: [...this.marks],
      responseBytes: this.responseBytes,
    };
  }

  restoreGuestRecord(r: GuestRecord): void {
    this.consoleLines.splice(0, this.consoleLines.length, ...r.console.map((l) => ({ ...l })));
    this.transactions.splice(0, this.transactions.length, ...r.transactions);
    this.marks.clear();
    for (const [k, v] of r.marks) this.marks.set(k, v);
    this.responseBytes = r.responseBytes;
  }

  // ---- run control -----------------------------------------------------------------------------------

  /** Runs (resuming a paused VM) until the condition holds, the guest halts, or a limit is reached. */
  run(opts: RunOptions = {}): Promise<RunOutcome> {
    const until = opts.until;
    const cond =
      until === undefined
        ? () => false
        : typeof until === 'function'
          ? until
          : conditionPredicate(until, this);
    return this.dispatch(cond, opts);
  }

  /**
   * vm_stop: the vCPU stops at the next boundary it may stop at. With completeMmioBeforeStop a pending MMIO
   * exit is completed first (re-entry with immediate_exit), which takes its virtual time; devices run on
   * meanwhile, as QEMU's main loop does.
   */
  async pause(): Promise<void> {
    if (!this.vmRunning) return;
    this.vmRunning = false;
    this.vcpu.requestStop();
    if (!this.vcpu.isStopped) await this.backend.run({ until: () => this.vcpu.isStopped });
    this.trace.append(this.scheduler.nowNs, 'qemu', 'vm_state_notify', { running: 0, reason: 'paused' });
  }

  /** vm_start: the vCPU continues where it stopped (nothing is dispatched until the next run or step). */
  resume(): void {
    if (this.vmRunning) return;
    this.vmRunning = true;
    this.trace.append(this.scheduler.nowNs, 'qemu', 'vm_state_notify', { running: 1, reason: 'running' });
    this.vcpu.cont();
  }

  get isPaused(): boolean {
    return !this.vmRunning;
  }

  /** One vCPU step (kvm_exit, dispatch, kvm_run, or a one-step operation), and device events before it. */
  stepKvm(): Promise<RunOutcome> {
    const start = this.vcpu.kvmSteps;
    return this.dispatch(() => this.vcpu.kvmSteps > start, {});
  }

  /** Until the current guest operation has finished (an MMIO access: all three steps). */
  stepInstruction(): Promise<RunOutcome> {
    const start = this.vcpu.completedOps;
    return this.dispatch(() => this.vcpu.completedOps > start, {});
  }

  /** Until the guest enters its next driver function (the next 'driver.op' mark). */
  stepDriverOp(): Promise<RunOutcome> {
    return this.run({ until: { kind: 'mark', name: 'driver.op' } });
  }

  set completeMmioBeforeStop(on: boolean) {
    this.vcpu.completeMmioBeforeStop = on;
  }

  get completeMmioBeforeStop(): boolean {
    return this.vcpu.completeMmioBeforeStop;
  }

  private async dispatch(cond: () => boolean, opts: RunOptions): Promise<RunOutcome> {
    this.resume();
    const halted = () => this.vcpu.isHalted;
    const r = await this.backend.run({
      until: () => cond() || halted(),
      ...(opts.limitNs === undefined ? {} : { limitNs: opts.limitNs }),
      ...(opts.maxEvents === undefined ? {} : { maxEvents: opts.maxEvents }),
    });
    let reason: RunOutcome['reason'] = r.reason === 'predicate' ? 'condition' : r.reason;
    if (!cond() && halted() && (reason === 'condition' || reason === 'idle')) reason = 'halted';
    return { reason, dispatched: r.dispatched, timeNs: this.scheduler.nowNs };
  }

  // ---- what the guest did ------------------------------------------------------------------------------

  get responseBytesRead(): number {
    return this.responseBytes;
  }

  get transactionsDone(): number {
    return this.transactions.length;
  }

  markCount(name: string): number {
    return this.marks.get(name) ?? 0;
  }

  get commandInFlight(): boolean {
    return this.backend.isBusy;
  }

  get responseWaitingForBottomHalf(): boolean {
    return this.backend.responseWaitingForBottomHalf;
  }

  /** Calls listener with each console line as the guest prints it; returns the unsubscribe function. */
  onConsole(listener: (line: ConsoleLine) => void): () => void {
    const entry = (line: ConsoleLine) => listener(line);
    this.consoleListeners.add(entry);
    return () => this.consoleListeners.delete(entry);
  }

  get view(): MachineView {
    return {
      timeNs: this.scheduler.nowNs,
      vmRunning: this.vmRunning,
      completeMmioBeforeStop: this.vcpu.completeMmioBeforeStop,
      vcpu: this.vcpu.view,
      console: this.consoleLines.slice(-VIEW_CONSOLE_LINES).map((l) => formatConsoleLine(l.ns, l.text)),
      transactionsDone: this.transactions.length,
      responseBytesRead: this.responseBytes,
      backendPhase: this.backend.phase,
      traceCount: this.trace.totalCount,
      hazards: this.hazards.map((h) => ({ ...h, cut: { ...h.cut } })),
    };
  }

  /** Every operation the guest retires passes here. */
  private observe(op: GuestOp, _input: GuestInput): void {
    switch (op.op) {
      case 'read':
        if (isFifo(op.addr)) this.responseBytes += op.size;
        break;
      case 'print': {
        const line: ConsoleLine = { ns: this.scheduler.nowNs, text: op.text, level: op.level ?? 'info' };
        this.consoleLines.push(line);
        for (const listener of this.consoleListeners) listener(line);
        break;
      }
      case 'mark':
        this.marks.set(op.name, (this.marks.get(op.name) ?? 0) + 1);
        if (op.name === 'transaction.start') this.responseBytes = 0;
        if (op.name === 'transaction.end') this.transactions.push(op.data ?? null);
        break;
    }
  }
}

/** A read of the TIS data FIFO (DATA_FIFO or the XFIFO window) of any locality: response bytes. */
function isFifo(addr: number): boolean {
  const offset = addr - TIS_ADDR_BASE;
  if (offset < 0 || offset >= TIS_ADDR_SIZE) return false;
  const reg = offset & 0xfff;
  return (
    (reg >= REG_DATA_FIFO && reg < REG_DATA_FIFO + 4) ||
    (reg >= REG_DATA_XFIFO && reg < REG_DATA_XFIFO_END + 4)
  );
}

/**
 * Builds a machine from a JSON config (checked; a MachineConfigError names the bad field) and boots the
 * guest: the TPM is up (started with TPM2_Startup(CLEAR), as firmware leaves it) and the vCPU's first step
 * is scheduled. Nothing runs until run() or a step.
 */
export async function createMachine(rawConfig: unknown, options: MachineOptions = {}): Promise<Machine> {
  const machine = await assembleMachine(rawConfig, options);
  machine.vcpu.boot();
  return machine;
}

/** The in-process TPM a machine gets when MachineOptions.transport is not given: swtpm with startup-clear. */
export function defaultTpmOptions(config: MachineConfig): SwtpmDeviceOptions {
  return {
    seed: config.seed,
    startupClear: true,
    ...(config.tpmSpeed === undefined ? {} : { speed: config.tpmSpeed }),
  };
}

/**
 * createMachine without the boot: every part wired and the TPM up, the vCPU not started. A migration's
 * destination is built this way and then loaded from the snapshot.
 */
export async function assembleMachine(rawConfig: unknown, options: MachineOptions = {}): Promise<Machine> {
  const config = parseMachineConfig(rawConfig);
  const program = options.program ?? createGuestProgram(config.guest);
  const scheduler = new Scheduler();
  const trace = new TraceLog({ windowSize: options.traceWindow ?? 10_000 });
  const transport = options.transport ?? new InProcessTransport(new SwtpmDevice(defaultTpmOptions(config)));
  const backend = new EmulatorBackend({ scheduler, trace, transport });
  await backend.init();
  return new Machine(config, { scheduler, trace, backend }, program);
}
