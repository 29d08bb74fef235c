// A small executor for tests: runs a guest program straight against a TisRig, without a vCPU. A read or
// write is performed on the TIS at once (after the scheduler has dispatched everything due), then virtual
// time moves on by a fixed gap, so the backend's events interleave with the accesses as they would with
// a real vCPU. The machine's vCPU (src/core/vm) replaces this and adds KVM's split MMIO.
import type { JsonValue } from '../kernel';
import type { TisRig } from '../vm/tis-rig';
import { formatConsoleLine, type ConsoleLine } from './console';
import type { GuestInput, GuestOp, GuestProgram, GuestProgramFactory } from './program';
import { TIS_MEM_BASE } from './tis-regs';

/** The register window the program talks to, offsets relative to the TIS base (as TisDevice takes them). */
export interface MmioDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface DirectRunnerOptions {
  /** Defaults to rig.tis; tests wrap it to make the TPM misbehave. */
  device?: MmioDevice;
  /** Virtual time between two accesses (default 1 µs). */
  accessGapNs?: number;
  /** Keep every op with its input and time in `trace` (default false). */
  record?: boolean;
}

export interface TraceEntry {
  op: GuestOp;
  /** What the program was resumed with: the value read, the time, or undefined. */
  input: GuestInput;
  /** Virtual time when the op started. */
  ns: number;
}

export type RunOutcome = 'done' | 'until' | 'maxOps';

const TIS_MEM_LEN = 0x5000;
export const DEFAULT_ACCESS_GAP_NS = 1_000;

export class DirectRunner {
  readonly lines: ConsoleLine[] = [];
  readonly trace: TraceEntry[] = [];
  /** The state of the last checkpoint the program yielded, and the inputs fed to it since. */
  lastCheckpoint: JsonValue | null = null;
  inputsSinceCheckpoint: GuestInput[] = [];
  opsExecuted = 0;
  private readonly device: MmioDevice;
  private readonly gapNs: number;
  private readonly record: boolean;
  private next: IteratorResult<GuestOp, void>;

  /** Starts `program`; or, with `replay`, continues one rebuilt from a checkpoint (see restore). */
  constructor(
    readonly rig: TisRig,
    private readonly program: GuestProgram,
    options: DirectRunnerOptions = {},
    replay?: { checkpoint: JsonValue; inputs: readonly GuestInput[] },
  ) {
    this.device = options.device ?? rig.tis;
    this.gapNs = options.accessGapNs ?? DEFAULT_ACCESS_GAP_NS;
    this.record = options.record ?? false;
    this.next = program.next();
    if (replay) {
      this.lastCheckpoint = replay.checkpoint;
      for (const input of replay.inputs) {
        if (this.next.done)
          throw new Error('DirectRunner: the program ended before its inputs were replayed');
        this.next = program.next(input);
        this.inputsSinceCheckpoint.push(input);
      }
    }
  }

  /**
   * Rebuilds a program from its last checkpoint, as a restore does: the factory continues from the state,
   * and the inputs fed since bring it back to the same point (their ops are discarded).
   */
  static restore(
    rig: TisRig,
    factory: GuestProgramFactory,
    checkpoint: JsonValue,
    inputs: readonly GuestInput[],
    options: DirectRunnerOptions = {},
  ): DirectRunner {
    return new DirectRunner(rig, factory(checkpoint), options, { checkpoint, inputs });
  }

  get done(): boolean {
    return this.next.done === true;
  }

  /** The op the program wants performed next, or undefined when it has ended. */
  get pendingOp(): GuestOp | undefined {
    return this.next.done ? undefined : this.next.value;
  }

  /** Performs one op and resumes the program. Returns the op, or undefined if the program had ended. */
  step(): GuestOp | undefined {
    if (this.next.done) return undefined;
    const op = this.next.value;
    const ns = this.rig.scheduler.nowNs;
    const input = this.perform(op);
    if (this.record) this.trace.push({ op, input, ns });
    if (op.op === 'checkpoint') {
      this.lastCheckpoint = op.state;
      this.inputsSinceCheckpoint = [];
    } else {
      this.inputsSinceCheckpoint.push(input);
    }
    this.opsExecuted++;
    this.next = this.program.next(input);
    return op;
  }

  /** Steps until the program ends, `until` holds for an op just performed, or maxOps ops have run. */
  run(opts: { maxOps?: number; until?: (op: GuestOp) => boolean } = {}): RunOutcome {
    const maxOps = opts.maxOps ?? 10_000_000;
    for (let n = 0; n < maxOps; n++) {
      const op = this.step();
      if (op === undefined) return 'done';
      if (opts.until?.(op)) return 'until';
    }
    return this.done ? 'done' : 'maxOps';
  }

  /** The console as dmesg would show it. */
  consoleText(): string[] {
    return this.lines.map((l) => formatConsoleLine(l.ns, l.text));
  }

  private perform(op: GuestOp): GuestInput {
    const { scheduler } = this.rig;
    switch (op.op) {
      case 'read': {
        scheduler.runUntil(scheduler.nowNs);
        const value = this.device.read(this.offset(op.addr), op.size);
        scheduler.runUntil(scheduler.nowNs + this.gapNs);
        return value;
      }
      case 'write':
        scheduler.runUntil(scheduler.nowNs);
        this.device.write(this.offset(op.addr), op.size, op.value);
        scheduler.runUntil(scheduler.nowNs + this.gapNs);
        return undefined;
      case 'sleep':
        scheduler.runUntil(scheduler.nowNs + op.ns);
        return undefined;
      case 'now':
        return scheduler.nowNs;
      case 'print':
        this.lines.push({ ns: scheduler.nowNs, text: op.text, level: op.level ?? 'info' });
        return undefined;
      case 'mark':
      case 'checkpoint':
        return undefined;
    }
  }

  private offset(addr: number): number {
    const offset = addr - TIS_MEM_BASE;
    if (!(offset >= 0 && offset < TIS_MEM_LEN)) {
      throw new RangeError(
        `DirectRunner: access at 0x${addr.toString(16)} is outside the TIS (0xfed40000..0xfed44fff); ` +
          'this runner only has the TPM mapped',
      );
    }
    return offset;
  }
}
