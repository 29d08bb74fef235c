// A vCPU running a guest program (guest/program.ts) under KVM, one operation at a time, on the Scheduler.
//
// An MMIO access is KVM's split execution (fidelity-facts §2.2), three scheduler events:
//   1. 'exit'    the load/store traps; KVM decodes it and returns KVM_EXIT_MMIO (trace kvm_exit).
//   2. 'device'  QEMU's kvm_cpu_exec dispatches the access through the memory map (the bus): the side
//                effect happens here (a FIFO read advances rw_offset) and a read's value goes into
//                run->mmio.data, which is all that holds it (the pending exit's data).
//   3. 'reenter' the next ioctl(KVM_RUN) (trace kvm_run): KVM's complete_emulated_mmio writes the value
//                into the destination register and advances RIP, the load retires, and only now does
//                the program get the value.
// A store is not symmetric: x86_emulate_instruction keeps writeback on for MMIO writes, so KVM retires the
// store (advances RIP) before it exits with the data. Step 1 retires it; steps 2 and 3 carry its data to the
// device and resume the guest. A store is never executed twice, whatever happens between the steps.
//
// Stopping (vm_stop) lands between steps. The vCPU thread always finishes dispatching an exit it took
// (steps 1 -> 2 happen in one loop iteration of kvm_cpu_exec). Then, with completeMmioBeforeStop (QEMU
// since 2011: kvm_cpu_exec calls kvm_cpu_kick_self when exit_request is set, fidelity-facts §2.3) it
// re-enters KVM_RUN with immediate_exit, so step 3 completes the instruction and KVM returns -EINTR before
// any further guest instruction; without it (the 2011 behaviour) it stops with the exit pending, RIP on
// the load and the value only in run->mmio.data. Resuming on the same machine re-enters and completes the
// load from that data, so nothing is lost; only a snapshot taken there (which drops run->mmio.data) would
// make the destination execute the load again.
import { cloneJson, type JsonValue, type Scheduler, type TraceLog } from '../kernel';
import type { GuestInput, GuestOp, GuestProgram, GuestProgramFactory } from '../guest/program';
import type { MmioBus } from './bus';
import {
  checkGuestOp,
  DEFAULT_STEP_TIMES,
  parseVcpuState,
  type MmioExit,
  type VcpuState,
  type VcpuStep,
  type VcpuStepTimes,
} from './vcpu-state';

/** forkState(): the saved state plus what only an exact copy needs. */
export interface VcpuForkState extends VcpuState {
  scheduledId: number | null;
  stopRequested: boolean;
  kvmSteps: number;
  completedOps: number;
}

export type VcpuRunState = 'running' | 'sleeping' | 'stopping' | 'stopped' | 'halted';

export interface VcpuOptions {
  scheduler: Scheduler;
  trace: TraceLog;
  bus: MmioBus;
  program: GuestProgramFactory;
  steps?: Partial<VcpuStepTimes>;
  completeMmioBeforeStop?: boolean;
  /** Prefix of the scheduler event kinds (default 'cpu0'). */
  name?: string;
  /** Called when an operation retires, with what the program is resumed with. */
  onRetire?: (op: GuestOp, input: GuestInput) => void;
  /** Called after QEMU dispatched an MMIO exit to the device (step 2), with RIP at that moment. */
  onDispatched?: (exit: MmioExit, rip: number) => void;
}

/** A plain-data picture of the vCPU for the UI. */
export interface VcpuView {
  runState: VcpuRunState;
  rip: number;
  rax: number;
  pendingExit: MmioExit | null;
  /** The operation RIP points at (null once halted). */
  currentOp: GuestOp | null;
  /** The next step and when it fires (atNs null while stopped: it waits for cont). */
  next: { step: VcpuStep; atNs: number | null } | null;
  completeMmioBeforeStop: boolean;
  kvmSteps: number;
}

const EINTR = 4;

export class Vcpu {
  private readonly scheduler: Scheduler;
  private readonly trace: TraceLog;
  private readonly bus: MmioBus;
  private readonly factory: GuestProgramFactory;
  private readonly times: VcpuStepTimes;
  private readonly kinds: Record<VcpuStep, string>;
  private readonly onRetire: ((op: GuestOp, input: GuestInput) => void) | undefined;
  private readonly onDispatched: ((exit: MmioExit, rip: number) => void) | undefined;
  completeMmioBeforeStop: boolean;

  private program: GuestProgram | null = null;
  /** The operation RIP points at; for a pending store, already the one after it. */
  private current: GuestOp | null = null;
  private rip = 0;
  private rax = 0;
  private pendingExit: MmioExit | null = null;
  private halted = false;
  private checkpoint: JsonValue | null = null;
  private inputs: (number | null)[] = [];
  private scheduled: { id: number; step: VcpuStep; atNs: number } | null = null;
  /** While stopped: the step withheld from the scheduler and how long after cont it fires. */
  private parked: { step: VcpuStep; delayNs: number } | null = null;
  private stopRequested = false;
  private steps = 0;
  private completed = 0;

  constructor(opts: VcpuOptions) {
    this.scheduler = opts.scheduler;
    this.trace = opts.trace;
    this.bus = opts.bus;
    this.factory = opts.program;
    this.times = { ...DEFAULT_STEP_TIMES, ...opts.steps };
    this.completeMmioBeforeStop = opts.completeMmioBeforeStop ?? true;
    this.onRetire = opts.onRetire;
    this.onDispatched = opts.onDispatched;
    const name = opts.name ?? 'cpu0';
    this.kinds = {
      exit: `${name}:kvm_exit`,
      device: `${name}:mmio_dispatch`,
      reenter: `${name}:kvm_run`,
      exec: `${name}:exec`,
      wake: `${name}:wake`,
    };
    this.scheduler.on(this.kinds.exit, () => this.onStep('exit'));
    this.scheduler.on(this.kinds.device, () => this.onStep('device'));
    this.scheduler.on(this.kinds.reenter, () => this.onStep('reenter'));
    this.scheduler.on(this.kinds.exec, () => this.onStep('exec'));
    this.scheduler.on(this.kinds.wake, () => this.onStep('wake'));
  }

  /** Starts the program from the beginning; its first step is scheduled. */
  boot(): void {
    if (this.program) throw new Error('Vcpu.boot: the vCPU is already running a program');
    this.program = this.factory(null);
    this.advance(this.program.next());
    this.scheduleCurrent();
  }

  // ---- run control ---------------------------------------------------------------------------------

  /**
   * vm_stop's kick: the vCPU stops at the next boundary it may stop at (now, if it is at one). Run the
   * scheduler until `isStopped` for the remaining steps to happen.
   */
  requestStop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    const s = this.scheduled;
    if (s && this.mayStopBefore(s.step)) {
      this.scheduler.cancel(s.id);
      this.scheduled = null;
      this.park(s.step, s.atNs - this.scheduler.nowNs);
    } else if (this.halted) {
      this.traceStopped();
    }
  }

  /** vm_start: a stopped vCPU continues; its withheld step fires as long after now as it had left. */
  cont(): void {
    if (!this.stopRequested) return;
    this.stopRequested = false;
    this.trace.append(this.scheduler.nowNs, 'vcpu', 'vcpu_resumed', { rip: this.rip });
    const p = this.parked;
    this.parked = null;
    if (p) this.schedule(p.step, p.delayNs);
  }

  get isStopped(): boolean {
    return this.stopRequested && this.scheduled === null;
  }

  get isHalted(): boolean {
    return this.halted;
  }

  /** vCPU events dispatched so far (KVM steps). */
  get kvmSteps(): number {
    return this.steps;
  }

  /** Operations finished so far, each counted once the guest runs on after it (a store at step 3). */
  get completedOps(): number {
    return this.completed;
  }

  get view(): VcpuView {
    const s = this.scheduled;
    let runState: VcpuRunState = 'running';
    if (this.halted) runState = 'halted';
    else if (this.isStopped) runState = 'stopped';
    else if (this.stopRequested) runState = 'stopping';
    else if (s?.step === 'wake') runState = 'sleeping';
    return {
      runState,
      rip: this.rip,
      rax: this.rax,
      pendingExit: this.pendingExit && { ...this.pendingExit },
      currentOp: this.current,
      next: s ? { step: s.step, atNs: s.atNs } : this.parked ? { step: this.parked.step, atNs: null } : null,
      completeMmioBeforeStop: this.completeMmioBeforeStop,
      kvmSteps: this.steps,
    };
  }

  // ---- snapshots -------------------------------------------------------------------------------------

  /** The vCPU's state; it must be stopped (or halted), as QEMU saves vCPUs only after vm_stop. */
  save(): VcpuState {
    if (!this.isStopped && !this.halted) {
      throw new Error('Vcpu.save: stop the vCPU first (requestStop, then run until isStopped)');
    }
    return {
      rip: this.rip,
      rax: this.rax,
      pendingExit: this.pendingExit && { ...this.pendingExit },
      next: this.parked && { ...this.parked },
      halted: this.halted,
      program: { checkpoint: cloneJson(this.checkpoint), inputs: [...this.inputs] },
    };
  }

  /**
   * The vCPU as QEMU migrates it (vmstate "cpu"): registers and RIP, not KVM's run->mmio. A load that
   * exited but has not re-entered is not retired, so RIP still points at it and the destination executes
   * it again from the start; a store retired at its exit, so the destination goes on after it.
   */
  saveForMigration(): VcpuState {
    const s = this.save();
    if (!s.pendingExit) return s;
    const op = this.current;
    return { ...s, pendingExit: null, halted: op === null, next: op === null ? null : this.firstStep(op) };
  }

  /**
   * Everything, at any boundary between two scheduler events, for an exact copy of the machine (the cut
   * explorer forks the machine at every boundary): the scheduled step keeps its scheduler event id, so
   * it must be restored together with the scheduler's queue.
   */
  forkState(): VcpuForkState {
    const s = this.scheduled;
    const now = this.scheduler.nowNs;
    return {
      rip: this.rip,
      rax: this.rax,
      pendingExit: this.pendingExit && { ...this.pendingExit },
      next: s ? { step: s.step, delayNs: s.atNs - now } : this.parked && { ...this.parked },
      halted: this.halted,
      program: { checkpoint: cloneJson(this.checkpoint), inputs: [...this.inputs] },
      scheduledId: s ? s.id : null,
      stopRequested: this.stopRequested,
      kvmSteps: this.steps,
      completedOps: this.completed,
    };
  }

  /** Rebuilds forkState() on a fresh vCPU whose scheduler already holds the same queue. */
  restoreFork(state: VcpuForkState): void {
    const base = this.replay(
      parseVcpuState({ ...state, pendingExit: state.pendingExit }),
      'Vcpu.restoreFork',
    );
    const next = base.state.next;
    this.adopt(base);
    this.stopRequested = state.stopRequested;
    this.steps = state.kvmSteps;
    this.completed = state.completedOps;
    if (state.scheduledId !== null && next) {
      this.scheduled = { id: state.scheduledId, step: next.step, atNs: this.scheduler.nowNs + next.delayNs };
      this.parked = null;
    } else {
      this.scheduled = null;
      this.parked = next;
    }
  }

  /**
   * Rebuilds a saved vCPU on a fresh one (instead of boot): the program is made from the last checkpoint
   * and fed the recorded inputs, its operations discarded, which brings it back to the same point. The
   * vCPU is left stopped; cont() runs it. Throws, changing nothing, if the state does not fit the program.
   */
  restore(raw: unknown): void {
    const replayed = this.replay(parseVcpuState(raw), 'Vcpu.restore');
    this.adopt(replayed);
    this.stopRequested = true;
    this.parked = replayed.state.next;
  }

  private replay(
    state: VcpuState,
    who: string,
  ): { state: VcpuState; program: GuestProgram; current: GuestOp | null } {
    if (this.program) throw new Error(`${who}: restore into a fresh vCPU, before boot`);
    const program = this.factory(state.program.checkpoint);
    let r = program.next();
    for (const input of state.program.inputs) {
      if (r.done) throw new Error(`${who}: the program ended while its inputs were replayed`);
      r = program.next(input ?? undefined);
    }
    const current = r.done ? null : checkGuestOp(r.value);
    checkFits(state, current);
    return { state, program, current };
  }

  private adopt({
    state,
    program,
    current,
  }: {
    state: VcpuState;
    program: GuestProgram;
    current: GuestOp | null;
  }): void {
    this.program = program;
    this.current = current;
    this.rip = state.rip;
    this.rax = state.rax;
    this.pendingExit = state.pendingExit;
    this.halted = state.halted;
    this.checkpoint = state.program.checkpoint;
    this.inputs = state.program.inputs;
  }

  /** The first step of an operation and its delay, as scheduleCurrent would schedule it. */
  private firstStep(op: GuestOp): { step: VcpuStep; delayNs: number } {
    if (op.op === 'read' || op.op === 'write') return { step: 'exit', delayNs: this.times.exitNs };
    if (op.op === 'sleep') return { step: 'wake', delayNs: op.ns };
    return { step: 'exec', delayNs: 0 };
  }

  // ---- the steps -----------------------------------------------------------------------------------

  private onStep(step: VcpuStep): void {
    this.scheduled = null;
    this.steps++;
    switch (step) {
      case 'exit':
        return this.kvmExit();
      case 'device':
        return this.dispatch();
      case 'reenter':
        return this.reenter();
      case 'exec':
        return this.exec();
      case 'wake':
        this.rip++;
        return this.retire(this.op(), undefined);
    }
  }

  /** Step 1: KVM_EXIT_MMIO. A store retires here (RIP already past it when KVM exits). */
  private kvmExit(): void {
    const op = this.op();
    if (op.op !== 'read' && op.op !== 'write') throw new Error(`vCPU: kvm_exit for a '${op.op}' operation`);
    const isWrite = op.op === 'write';
    const data = isWrite ? op.value >>> 0 : null;
    this.pendingExit = { phase: 'exited', addr: op.addr, size: op.size, isWrite, data };
    this.trace.append(this.scheduler.nowNs, 'kvm', 'kvm_exit', {
      reason: 'KVM_EXIT_MMIO',
      addr: op.addr,
      len: op.size,
      isWrite,
      ...(isWrite ? { data } : {}),
      rip: this.rip,
    });
    this.schedule('device', this.times.deviceNs);
    if (isWrite) {
      this.rip++;
      this.record(op, undefined);
      this.next(undefined);
    }
  }

  /** Step 2: QEMU's address_space_rw for the exit; the device's side effects happen here. */
  private dispatch(): void {
    const exit = this.pendingExit;
    if (!exit || exit.phase !== 'exited') throw new Error('vCPU: MMIO dispatch without a fresh exit');
    if (exit.isWrite) this.bus.write(exit.addr, exit.size, exit.data ?? 0);
    else exit.data = this.bus.read(exit.addr, exit.size);
    exit.phase = 'handled';
    this.onDispatched?.(exit, exit.isWrite ? this.rip - 1 : this.rip);
    this.schedule('reenter', this.times.reenterNs);
  }

  /** Step 3: KVM_RUN again; complete_emulated_mmio finishes a load: register, RIP, retire. */
  private reenter(): void {
    const exit = this.pendingExit;
    if (!exit || exit.phase !== 'handled') throw new Error('vCPU: KVM_RUN re-entry without a handled exit');
    this.pendingExit = null;
    const immediateExit = this.stopRequested;
    if (exit.isWrite) {
      this.trace.append(this.scheduler.nowNs, 'kvm', 'kvm_run', {
        rip: this.rip,
        ...(immediateExit ? { immediateExit, ret: -EINTR } : {}),
      });
      this.completed++;
      this.scheduleCurrent();
      return;
    }
    const value = exit.data ?? 0;
    this.rax = value;
    this.rip++;
    this.trace.append(this.scheduler.nowNs, 'kvm', 'kvm_run', {
      rip: this.rip,
      data: value,
      ...(immediateExit ? { immediateExit, ret: -EINTR } : {}),
    });
    this.retire(this.op(), value);
  }

  /** The one-step operations: they take no virtual time but are steps of their own. */
  private exec(): void {
    const op = this.op();
    const t = this.scheduler.nowNs;
    this.rip++;
    switch (op.op) {
      case 'now':
        return this.retire(op, t);
      case 'print':
        this.trace.append(t, 'guest', 'print', { text: op.text, level: op.level ?? 'info' });
        return this.retire(op, undefined);
      case 'mark':
        this.trace.append(
          t,
          'guest',
          'mark',
          op.data === undefined ? { name: op.name } : { name: op.name, data: op.data },
        );
        return this.retire(op, undefined);
      case 'checkpoint':
        this.onRetire?.(op, undefined);
        this.checkpoint = cloneJson(op.state);
        this.inputs = [];
        this.completed++;
        this.next(undefined);
        this.scheduleCurrent();
        return;
      default:
        throw new Error(`vCPU: exec step for a '${op.op}' operation`);
    }
  }

  /** After an operation retired (RIP past it): the program gets its result and the next one is scheduled. */
  private retire(op: GuestOp, input: GuestInput): void {
    this.record(op, input);
    this.completed++;
    this.next(input);
    this.scheduleCurrent();
  }

  private record(op: GuestOp, input: GuestInput): void {
    this.inputs.push(input ?? null);
    this.onRetire?.(op, input);
  }

  /** Resumes the program with an operation's result and takes the next operation it yields. */
  private next(input: GuestInput): void {
    if (!this.program) throw new Error('vCPU: no program');
    this.advance(this.program.next(input));
  }

  private advance(r: IteratorResult<GuestOp, void>): void {
    if (r.done) {
      this.current = null;
      return;
    }
    this.current = checkGuestOp(r.value);
  }

  /** Schedules the first step of the operation RIP points at, or halts when there is none. */
  private scheduleCurrent(): void {
    const op = this.current;
    if (op === null) {
      this.halted = true;
      this.trace.append(this.scheduler.nowNs, 'vcpu', 'vcpu_halted', { rip: this.rip });
      if (this.stopRequested) this.traceStopped();
      return;
    }
    const first = this.firstStep(op);
    this.schedule(first.step, first.delayNs);
  }

  private schedule(step: VcpuStep, delayNs: number): void {
    if (this.stopRequested && this.mayStopBefore(step)) {
      this.park(step, delayNs);
      return;
    }
    const id = this.scheduler.schedule(delayNs, this.kinds[step], null);
    this.scheduled = { id, step, atNs: this.scheduler.nowNs + delayNs };
  }

  /**
   * Where a stop may land: never between an exit and its dispatch; before the re-entry only without the
   * fix (with it, QEMU re-enters with immediate_exit first).
   */
  private mayStopBefore(step: VcpuStep): boolean {
    if (step === 'device') return false;
    if (step === 'reenter') return !this.completeMmioBeforeStop;
    return true;
  }

  private park(step: VcpuStep, delayNs: number): void {
    this.parked = { step, delayNs };
    this.traceStopped();
  }

  private traceStopped(): void {
    const exit = this.pendingExit;
    this.trace.append(this.scheduler.nowNs, 'vcpu', 'vcpu_stopped', {
      rip: this.rip,
      pendingExit: exit ? exit.phase : null,
      next: this.parked?.step ?? null,
    });
  }

  private op(): GuestOp {
    if (!this.current) throw new Error('vCPU: no current operation');
    return this.current;
  }
}

/** Whether a saved state matches where the replayed program stands. */
function checkFits(state: VcpuState, current: GuestOp | null): void {
  const bad = (what: string): never => {
    throw new Error(`Vcpu.restore: the state does not fit the program: ${what}`);
  };
  if (state.halted !== (current === null)) {
    bad(state.halted ? 'the state is halted but the program has more to do' : 'the program has ended');
  }
  const exit = state.pendingExit;
  if (exit && !exit.isWrite) {
    if (current?.op !== 'read' || current.addr !== exit.addr || current.size !== exit.size) {
      bad(
        `a pending read at 0x${exit.addr.toString(16)} but the program stands at ${JSON.stringify(current)}`,
      );
    }
  }
  const step = state.next?.step;
  if (step === 'exit' && current?.op !== 'read' && current?.op !== 'write')
    bad(`'exit' for ${JSON.stringify(current)}`);
  if (step === 'wake' && current?.op !== 'sleep') bad(`'wake' for ${JSON.stringify(current)}`);
  if (step === 'exec' && !['now', 'print', 'mark', 'checkpoint'].includes(current?.op ?? '')) {
    bad(`'exec' for ${JSON.stringify(current)}`);
  }
}
