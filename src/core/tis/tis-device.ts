// The TIS device as the rest of the simulator sees it: MMIO reads and writes at region-relative
// addresses (QEMU's MemoryRegionOps view, 0..0x4fff), the backend's completion callback, reset, an IRQ
// line and a trace. It holds the machine's snapshot and advances it with XState's pure transition(), so
// the model stays deterministic; it then carries out the effects the step asked for (backend calls,
// IRQ, trace) in the order QEMU makes them.
//
// The machine advances through its logic's pure transition (tisMachine.transition(snapshot, event,
// scope), what XState's transition() does) with one inert actor scope made at construction: XState's
// transition() function builds a new actor per call, and an actor adds a mailbox, observers and
// inspection per event; neither is needed, since the machine's only action is an assign.
//
// Fewer events than accesses: the device keeps the register file the machine would have (`regs`) and
// sends the machine only the accesses that move a state (a command state, the active locality, a deferred
// abort) and resets, each carrying as `base` the registers reached by the accesses folded since the
// machine's last event (tis.machine.ts). When someone reads the machine's snapshot between two such
// events, the folded registers are committed with one `registers.commit` event. The machine refuses a
// base or commit that would move a state. So the machine's snapshot, whenever it is looked at, is the one
// that sending every access would have produced (tests check this), at a fraction of the interpreter
// steps: a GetRandom transaction of ~46 accesses takes 6 machine events.
import { createActor } from 'xstate';
import type { ActorScope, SnapshotFrom } from 'xstate';
import type { BackendCmd, TpmBackendPort, TpmFrontend } from './backend-port';
import { REG_ACCESS, TIS_ADDR_SIZE, TIS_STATE_NAMES, isValidLocality, registerOffset } from './registers';
import { loadMigratedRegisters } from './tis-restore';
import type { TisMigratedState } from './tis-restore';
import type { TisEffect, TraceData } from './tis-logic';
import type { TisRegisters } from './tis-logic';
import { movesState, stepOnce, tisMachine } from './tis.machine';
import type { TisAccessEvent, TisMachineEvent } from './tis.machine';

export type TisSnapshot = SnapshotFrom<typeof tisMachine>;
export type TisTraceHook = (kind: string, data: TraceData) => void;

export interface TisDeviceOptions {
  /** Receives every trace event, named like QEMU's trace points (tpm_tis_mmio_read, ...). */
  trace?: TisTraceHook;
  /** Called with 1 for each qemu_irq_raise and 0 for each qemu_irq_lower QEMU's TIS would make. */
  onIrq?: (level: 0 | 1) => void;
  /** Send every access through the machine instead of folding those that move no state (slower; the
   * snapshots are the same, which the tests check with this switch). */
  foldAccesses?: boolean;
}

/** A plain-data view of the registers (for the UI and the vmstate), detached from the live model. */
export type TisRegisterView = TisMigratedState;

type TisScope = ActorScope<TisSnapshot, TisMachineEvent>;

/** An actor scope whose callbacks do nothing, as XState's transition() makes per call (ours is made once
 * for all devices: the machine has no entry, exit or effectful actions, so nothing calls them, and its
 * never-started actor is only there because a scope must name one). */
let sharedScope: TisScope | null = null;

function inertScope(): TisScope {
  if (sharedScope !== null) return sharedScope;
  const self = createActor(tisMachine, { input: {} });
  sharedScope = {
    self,
    id: '',
    sessionId: '',
    system: self.system,
    logger: () => undefined,
    defer: () => undefined,
    emit: () => undefined,
    stopChild: () => undefined,
    actionExecutor: () => undefined,
  };
  return sharedScope;
}

export class TisDevice implements TpmFrontend {
  private readonly scope: TisScope;
  /** The machine's snapshot after the last event it was sent. */
  private machine: TisSnapshot;
  private readonly port: TpmBackendPort;
  private readonly traceHook: TisTraceHook | undefined;
  private readonly onIrq: ((level: 0 | 1) => void) | undefined;
  /** The register file after the last access; the machine's context once committed. */
  private regs: TisRegisters;
  private readonly foldAccesses: boolean;

  constructor(port: TpmBackendPort, options: TisDeviceOptions = {}) {
    this.port = port;
    this.traceHook = options.trace;
    this.onIrq = options.onIrq;
    this.foldAccesses = options.foldAccesses ?? true;
    const input = { bufferSize: port.getBufferSize(), tpmVersion: port.getTpmVersion() };
    this.scope = inertScope();
    this.machine = tisMachine.getInitialSnapshot(this.scope, input);
    this.regs = this.machine.context.regs;
  }

  /** The machine's snapshot (state value and register file). Its buffer is the live one. */
  get machineSnapshot(): TisSnapshot {
    this.commit();
    return this.machine;
  }

  /** How many events the machine has been sent (accesses that moved a state, commits, resets). */
  get machineEventCount(): number {
    return this.machineEvents;
  }

  get irqLevel(): 0 | 1 {
    return this.regs.irqLevel;
  }

  /** tpm_tis_mmio_read: addr relative to 0xFED40000, size 1, 2 or 4; returns `size` bytes. */
  read(addr: number, size: number): number {
    checkAccess(addr, size);
    // Like QEMU, ask the backend whether the TPM started on every access, and for the established flag on
    // every ACCESS read.
    const base = this.regs;
    if (this.port.hadStartupError)
      return this.send({ type: 'mmio.read', addr, size, startupError: true, base });
    return this.send(
      registerOffset(addr) === REG_ACCESS
        ? { type: 'mmio.read', addr, size, tpmEstablished: this.port.getTpmEstablishedFlag(), base }
        : { type: 'mmio.read', addr, size, base },
    );
  }

  /** tpm_tis_mmio_write: addr relative to 0xFED40000, size 1, 2 or 4. */
  write(addr: number, size: number, value: number): void {
    checkAccess(addr, size);
    this.send(
      this.port.hadStartupError
        ? { type: 'mmio.write', addr, size, value, startupError: true, base: this.regs }
        : { type: 'mmio.write', addr, size, value, base: this.regs },
    );
  }

  /** tpm_tis_request_completed: the backend's bottom half, with cmd.output holding the response. */
  requestCompleted(cmd: BackendCmd, ret: number): void {
    this.send({
      type: 'backend.completed',
      output: cmd.output,
      selftestDone: cmd.selftestDone,
      ret,
      base: this.regs,
    });
  }

  /** tpm_tis_reset: backend reset and startup, then the reset register values. */
  reset(): void {
    const bufferSize = this.port.getBufferSize();
    const tpmVersion = this.port.getTpmVersion();
    this.port.reset();
    const tpmEstablished = this.port.getTpmEstablishedFlag();
    this.send({ type: 'reset', bufferSize, tpmVersion, tpmEstablished, base: this.regs });
  }

  /**
   * Loads migrated registers (a view as snapshot() gives, e.g. decoded from a "tpm-tis" vmstate section).
   * Everything is checked first: a bad value throws a TisStateError naming the field and changes nothing.
   * The machine restarts in the states those registers imply. Not migrated, as in QEMU: the backend's
   * buffer size and version, the IRQ number, the established flag, and the command last handed to the
   * backend (s->cmd), unless `pendingCommand` says which locality and length it had.
   */
  restore(state: TisRegisterView, pendingCommand?: { locality: number; inLength: number }): void {
    const loaded = loadMigratedRegisters(this.regs, state);
    const regs =
      pendingCommand === undefined
        ? loaded
        : { ...loaded, cmdLocty: pendingCommand.locality, cmdInLength: pendingCommand.inLength };
    const value = {
      locality: isValidLocality(regs.activeLocty) ? `l${regs.activeLocty}` : 'none',
      abort: isValidLocality(regs.nextLocty) ? 'deferred' : 'clear',
      ...Object.fromEntries(regs.loc.map((l, i) => [`cmd${i}`, TIS_STATE_NAMES[l.state]])),
      registers: 'file',
    };
    this.machine = tisMachine.resolveState({ value, context: { regs } });
    this.regs = regs;
  }

  /** A detached copy of the register file. */
  snapshot(): TisRegisterView {
    const r = this.regs;
    return {
      activeLocality: r.activeLocty,
      nextLocality: r.nextLocty,
      abortingLocality: r.abortingLocty,
      rwOffset: r.rwOffset,
      buffer: r.buffer.slice(),
      irqLevel: r.irqLevel,
      localities: r.loc.map((l) => ({
        state: TIS_STATE_NAMES[l.state],
        access: l.access,
        sts: l.sts,
        inte: l.inte,
        ints: l.ints,
        ifaceId: l.ifaceId,
      })),
    };
  }

  /** One event: through the machine when it moves a state, else folded; returns the read value.
   * `event.base` is this.regs (the device's register file when the event was made). */
  private send(event: TisAccessEvent): number {
    // The same memoised step the machine's guards and assign use, so it is computed once per event.
    const result = stepOnce(this.regs, event);
    if (!this.foldAccesses || event.type === 'reset' || movesState(this.regs, result.regs)) {
      this.transition(event, result.regs);
    }
    this.regs = result.regs;
    const effects = result.effects;
    for (let i = 0; i < effects.length; i++) this.perform(effects[i] as TisEffect);
    return result.readValue;
  }

  private machineEvents = 0;

  /** Brings the machine's context up to `regs` (see the top of this file). */
  private commit(): void {
    if (this.machine.context.regs === this.regs) return;
    this.transition({ type: 'registers.commit', regs: this.regs }, this.regs);
  }

  /** One machine event, which must leave the machine's register file at `expected`. */
  private transition(event: TisMachineEvent, expected: TisRegisters): void {
    this.machineEvents++;
    this.machine = tisMachine.transition(this.machine, event, this.scope);
    if (this.machine.context.regs !== expected) {
      throw new Error('TisDevice: a folded access moved a state; the machine refused the event');
    }
  }

  private perform(effect: TisEffect): void {
    switch (effect.kind) {
      case 'trace':
        this.traceHook?.(effect.name, effect.data);
        break;
      case 'irq':
        this.onIrq?.(effect.level);
        break;
      case 'deliver':
        this.port.deliverRequest({
          locality: effect.locality,
          // A copy: the guest may overwrite the shared buffer while the backend still runs the command.
          input: this.regs.buffer.slice(0, effect.inLength),
          output: null,
          selftestDone: false,
        });
        break;
      case 'cancel':
        this.port.cancelCmd();
        break;
      case 'resetEstablished':
        this.port.resetTpmEstablishedFlag(effect.locality);
        break;
    }
  }
}

function checkAccess(addr: number, size: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr >= TIS_ADDR_SIZE) {
    throw new RangeError(
      `TIS access at offset ${String(addr)}: expected an offset within the region, 0 to 0x${TIS_ADDR_SIZE.toString(16)} (exclusive)`,
    );
  }
  if (size !== 1 && size !== 2 && size !== 4) {
    throw new RangeError(`TIS access of size ${String(size)}: QEMU's TIS accepts 1, 2 or 4 bytes`);
  }
}
