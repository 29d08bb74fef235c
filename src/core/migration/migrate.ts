// Migration of a whole machine, as QEMU does it: stop the source (vm_stop, with or without completing a
// pending MMIO exit, per the machine's switch), run each device's pre_save, write the stream; on the
// destination check the whole stream, apply it section by section with each post_load (the swtpm
// sequence STOP, SET_STATEBLOB ×3, INIT), and leave it paused until resume.
//
// The in-flight TPM command follows the strategy (tpm-emulator-vmstate.ts). After the load the destination
// names what the cut will cost the guest: a lost response (the TIS waits in Execution for a response that
// stayed behind), a double execution (the replayed command runs a second time on a TPM whose state already
// has its effect), and, when the guest gets there, a duplicated MMIO read (a load the source's device had
// performed, executed again because run->mmio.data did not travel).
import { commandCodeName } from '../tpm2/constants';
import { assembleMachine, type Machine, type MachineOptions } from '../vm/machine';
import type { CutPoint } from '../vm/hazards';
import type { GuestOp } from '../guest/program';
import { tisRegisterAt } from '../tis/registers';
import { VMStateError } from './vmstate';
import { machineSections, type SectionContext } from './machine-sections';
import { checkSnapshot, MigrationLoadError, writeSnapshot, type LoadOptions } from './snapshot-file';
import type { InflightStrategy } from './tpm-emulator-vmstate';

export type { InflightStrategy } from './tpm-emulator-vmstate';
export { INFLIGHT_STRATEGIES } from './tpm-emulator-vmstate';

export interface SaveOptions {
  inflight?: InflightStrategy;
  /** The cut's number in a sweep. */
  cutIndex?: number;
}

export interface RestoreOptions extends MachineOptions, LoadOptions {}

export interface MigrateOptions extends RestoreOptions {
  inflight?: InflightStrategy;
  cutIndex?: number;
}

/**
 * Stops the source if it runs (vm_stop), then saves it: the snapshot file's bytes. The source stays
 * paused and usable (resume() continues it, as after a failed migration). Throws if a device's pre_save
 * fails (the TPM refuses its state blobs), writing nothing.
 */
export async function saveMachine(source: Machine, opts: SaveOptions = {}): Promise<Uint8Array> {
  return (await saveMachineWithCut(source, opts)).bytes;
}

/** saveMachine, with the cut point the file records (where the source stood, and what vm_stop did). */
export async function saveMachineWithCut(
  source: Machine,
  opts: SaveOptions = {},
): Promise<{ bytes: Uint8Array; cut: CutPoint }> {
  // The cut is where the source stood when it was told to stop; vm_stop may then complete a pending
  // MMIO exit (the fix) before the state is saved.
  const cut = describeCut(source, opts.cutIndex ?? null);
  if (!source.isPaused) await source.pause();
  if (cut.pendingMmio && source.vcpu.view.pendingExit === null) {
    cut.description += '; vm_stop completed the access first (complete pending MMIO before stop)';
  }
  const backendNow = backendWords(source);
  if (backendNow !== backendWords(source, cut.backendPhase)) {
    cut.description += `; when saved: ${backendNow || 'no TPM command in flight'}`;
  }
  const strategy = opts.inflight ?? 'wait';
  const exit = source.vcpu.view.pendingExit;
  const ctx: SectionContext = {
    strategy,
    cut,
    lostRead:
      exit && !exit.isWrite && exit.phase === 'handled'
        ? { rip: source.vcpu.view.rip, addr: exit.addr, size: exit.size, value: exit.data ?? 0 }
        : null,
    replay: null,
  };
  source.trace.append(source.scheduler.nowNs, 'migration', 'savevm_start', {
    inflight: strategy,
    cut: cut.description,
  });
  const bytes = await writeSnapshot(machineSections(source, ctx));
  source.trace.append(source.scheduler.nowNs, 'migration', 'savevm_done', { bytes: bytes.length });
  return { bytes, cut };
}

/**
 * Builds a destination machine from destinationConfig and loads the snapshot into it. The whole file is
 * checked before anything is applied; a refused or failed load throws MigrationLoadError (QEMU's words)
 * and the half-built destination is dropped, so nothing that exists is touched. The destination comes
 * back paused: resume() or run() continues the guest.
 */
export async function restoreMachine(
  bytes: Uint8Array,
  destinationConfig: unknown,
  opts: RestoreOptions = {},
): Promise<Machine> {
  return (await prepareIncoming(destinationConfig, opts)).load(bytes, opts);
}

/**
 * A destination started ahead of the stream, as `qemu -incoming`: devices realized, the TPM up, waiting.
 * load() can be called until one load has applied anything: a file refused by the checks leaves the
 * destination as it was, ready for another.
 */
export class IncomingMachine {
  private used = false;

  constructor(readonly machine: Machine) {}

  async load(bytes: Uint8Array, opts: LoadOptions = {}): Promise<Machine> {
    if (this.used) throw new Error('IncomingMachine.load: this destination has already been loaded');
    const machine = this.machine;
    // The strategy of a load comes from the stream (a replayed command travels in it), not from here.
    const ctx: SectionContext = { strategy: 'drop', cut: null, lostRead: null, replay: null };
    const sections = machineSections(machine, ctx);
    const steps = checkSnapshot(bytes, sections, opts);
    this.used = true;
    let section = 0;
    try {
      for (const step of steps) {
        await step();
        section++;
      }
    } catch (e) {
      const lines = e instanceof VMStateError ? e.lines : [(e as Error).message];
      // A post_load that fails: qemu_loadvm_state reports the device and -EIO from the TPM's startup.
      throw new MigrationLoadError([
        ...lines,
        `error while loading state for instance 0x0 of device '${sections[section]?.idstr ?? 'unknown'}'`,
        'load of migration failed: Input/output error',
      ]);
    }
    machine.enterLoadedState(ctx.cut);
    afterLoad(machine, ctx);
    return machine;
  }
}

/** Starts a destination for a later load (QEMU's -incoming defer). */
export async function prepareIncoming(
  destinationConfig: unknown,
  opts: MachineOptions = {},
): Promise<IncomingMachine> {
  return new IncomingMachine(await assembleMachine(destinationConfig, opts));
}

/** saveMachine, then restoreMachine on a new destination: what `migrate` in QEMU's monitor does. */
export async function migrate(
  source: Machine,
  destinationConfig: unknown,
  opts: MigrateOptions = {},
): Promise<{ destination: Machine; snapshot: Uint8Array; cut: CutPoint }> {
  const { bytes, cut } = await saveMachineWithCut(source, {
    ...(opts.inflight === undefined ? {} : { inflight: opts.inflight }),
    ...(opts.cutIndex === undefined ? {} : { cutIndex: opts.cutIndex }),
  });
  const destination = await restoreMachine(bytes, destinationConfig, opts);
  return { destination, snapshot: bytes, cut };
}

/** The hazards a load makes certain, named now; the duplicated read is named when it happens. */
function afterLoad(machine: Machine, ctx: SectionContext): void {
  const cut = ctx.cut ?? unknownCut(machine);
  const regs = machine.tis.snapshot();
  const executing = regs.localities.findIndex((l) => l.state === 'execution');
  if (ctx.replay) {
    const cc = ctx.replay.input.length >= 10 ? u32(ctx.replay.input, 6) : 0;
    machine.trace.append(machine.scheduler.nowNs, 'migration', 'inflight_replay', {
      locality: ctx.replay.locality,
      inLen: ctx.replay.input.length,
    });
    machine.backend.deliverRequest({
      locality: ctx.replay.locality,
      input: ctx.replay.input.slice(),
      output: null,
      selftestDone: false,
    });
    machine.reportHazard(
      'double-execution',
      cut,
      `${commandCodeName(cc)} was in flight at the cut and is sent to the TPM again on the destination; ` +
        `the source's TPM had already executed it and its state blobs carry the effect, so it runs twice`,
    );
  } else if (executing >= 0) {
    machine.reportHazard(
      'lost-response',
      cut,
      `locality ${executing} is in Execution but the command's response stayed on the source ` +
        `(the backend's command is not part of the migrated state): no response will come and the driver ` +
        `will time out`,
    );
  }
  const lost = ctx.lostRead;
  if (lost) machine.expectReexecutedRead({ ...lost, lostValue: lost.value, cut });
}

function unknownCut(machine: Machine): CutPoint {
  return {
    timeNs: machine.scheduler.nowNs,
    index: null,
    pendingMmio: null,
    backendPhase: 'idle',
    description: 'unknown (the snapshot carries no cut point)',
  };
}

function u32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** "STS+1 of locality 0", "DATA_FIFO of locality 0", or the address. */
export function describeAddress(addr: number): string {
  const at = tisRegisterAt(addr);
  return at ? `${at.register} of locality ${at.locality}` : `0x${addr.toString(16)}`;
}

/** Where the (stopped) source stands: what a person reads in the sweep's table and the UI. */
export function describeCut(machine: Machine, index: number | null): CutPoint {
  const v = machine.vcpu.view;
  const exit = v.pendingExit;
  const phase = machine.backend.phase;
  let where: string;
  if (exit) {
    const kind = exit.isWrite ? 'write to' : 'read of';
    where = `between the exit and the re-entry of a ${exit.size}-byte ${kind} ${describeAddress(exit.addr)}`;
  } else if (v.currentOp === null) {
    where = 'after the guest program ended';
  } else {
    const op = v.currentOp;
    where = describeOp(op, v.next?.step === 'wake');
  }
  const backend = backendWords(machine);
  return {
    timeNs: machine.scheduler.nowNs,
    index,
    pendingMmio: exit && { addr: exit.addr, size: exit.size, isWrite: exit.isWrite, phase: exit.phase },
    backendPhase: phase,
    description: backend ? `${where}; ${backend}` : where,
  };
}

function describeOp(op: GuestOp, sleeping: boolean): string {
  switch (op.op) {
    case 'read':
      return `before a ${op.size}-byte read of ${describeAddress(op.addr)}`;
    case 'write':
      return `before a ${op.size}-byte write to ${describeAddress(op.addr)}`;
    case 'sleep':
      return sleeping ? `in a ${op.ns / 1000} µs sleep` : `before a ${op.ns / 1000} µs sleep`;
    case 'mark': {
      const d = op.data;
      const name =
        d !== null && typeof d === 'object' && !Array.isArray(d) && typeof d.name === 'string'
          ? ` (${d.name})`
          : '';
      return `at ${op.name}${name}`;
    }
    case 'print':
      return 'before a console line';
    case 'now':
      return 'before reading the clock';
    case 'checkpoint':
      return 'at a program checkpoint';
  }
}

/** "TPM2_GetRandom executing in the TPM", or '' when the backend is idle; `phase` overrides the backend's. */
function backendWords(machine: Machine, phase: string = machine.backend.phase): string {
  const cmd = machine.backend.inFlightCommand;
  if (phase === 'idle' || cmd === null) return '';
  return `${commandCodeName(cmd.input.length >= 10 ? u32(cmd.input, 6) : 0)} ${PHASE_WORDS[phase]}`;
}

const PHASE_WORDS: Record<string, string> = {
  transmitting: 'on its way to the TPM',
  executing: 'executing in the TPM',
  bottomHalfPending: 'answered, its bottom half not yet run',
};
