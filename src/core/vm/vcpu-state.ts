// The vCPU's state as plain data: what a vmstate (next issue) saves and what the UI shows. Only a stopped
// vCPU is saved (QEMU's savevm runs after vm_stop), so its next step is here, not in the scheduler queue.
import { cloneJson, type JsonValue } from '../kernel';
import { isRecord, isSafeNonNegInt, isU32, show } from '../kernel/checks';
import type { GuestOp, MmioSize } from '../guest/program';

/**
 * The vCPU's scheduler steps. An MMIO access is three: 'exit' (the guest traps, KVM decodes the
 * instruction and returns KVM_EXIT_MMIO), 'device' (QEMU dispatches the access to the device model) and
 * 'reenter' (the next KVM_RUN completes the instruction). Other operations are one step: 'exec', or
 * 'wake' at the end of a sleep.
 */
export type VcpuStep = 'exit' | 'device' | 'reenter' | 'exec' | 'wake';
export const VCPU_STEPS: readonly VcpuStep[] = ['exit', 'device', 'reenter', 'exec', 'wake'];

/** The MMIO exit KVM reported and the vCPU has not re-entered from yet (struct kvm_run's mmio part). */
export interface MmioExit {
  /** 'exited': KVM_RUN returned, QEMU has not dispatched yet; 'handled': QEMU did the access. */
  phase: 'exited' | 'handled';
  addr: number;
  size: MmioSize;
  isWrite: boolean;
  /** run->mmio.data: a write's value from the exit on; a read's value once handled; else null. */
  data: number | null;
}

/** Durations of the three MMIO steps, in virtual ns. */
export interface VcpuStepTimes {
  exitNs: number;
  deviceNs: number;
  reenterNs: number;
}

/**
 * Guest load -> VM exit -> instruction decode -> KVM_EXIT_MMIO to user space is about a microsecond on
 * current x86 hosts; QEMU's dispatch through the memory core to tpm_tis_mmio_read about half of one; the
 * next ioctl(KVM_RUN), completing the emulated instruction and VM entry, about another microsecond.
 * Round figures of published MMIO-exit costs, not a measurement of one machine.
 */
export const DEFAULT_STEP_TIMES: Readonly<VcpuStepTimes> = { exitNs: 1_000, deviceNs: 500, reenterNs: 1_000 };

export interface VcpuState {
  /** Retired instructions (guest operations) since boot: where the guest's RIP points. */
  rip: number;
  /** The destination register of the loads: the last value a read retired with. */
  rax: number;
  pendingExit: MmioExit | null;
  /** The step the vCPU takes first when it runs again, delayNs after it does; null once halted. */
  next: { step: VcpuStep; delayNs: number } | null;
  /** The guest program has ended. */
  halted: boolean;
  /** Restore-by-replay (guest/program.ts): the last checkpoint's state and the inputs fed since. */
  program: { checkpoint: JsonValue | null; inputs: (number | null)[] };
}

function fail(what: string): never {
  throw new TypeError(`vCPU state: ${what}`);
}

/** Checks a state from outside (a snapshot file, a Worker message) and returns a detached copy. */
export function parseVcpuState(raw: unknown): VcpuState {
  if (!isRecord(raw)) fail(`expected an object, got ${show(raw)}`);
  const { rip, rax, pendingExit, next, halted, program } = raw;
  if (!isSafeNonNegInt(rip)) fail(`rip must be a non-negative integer, got ${show(rip)}`);
  if (!isU32(rax)) fail(`rax must be a 32-bit unsigned integer, got ${show(rax)}`);
  if (typeof halted !== 'boolean') fail(`halted must be a boolean, got ${show(halted)}`);
  const exit = pendingExit === null ? null : parseExit(pendingExit);
  let nextStep: VcpuState['next'] = null;
  if (next !== null) {
    if (!isRecord(next)) fail(`next must be an object or null, got ${show(next)}`);
    if (!VCPU_STEPS.includes(next.step as VcpuStep)) fail(`next.step is not a vCPU step: ${show(next.step)}`);
    if (!isSafeNonNegInt(next.delayNs))
      fail(`next.delayNs must be a non-negative integer, got ${show(next.delayNs)}`);
    nextStep = { step: next.step as VcpuStep, delayNs: next.delayNs };
  }
  if (halted !== (nextStep === null)) fail('next must be null exactly when the vCPU is halted');
  if (nextStep?.step === 'device' && exit?.phase !== 'exited')
    fail("next step 'device' needs an exit not yet handled");
  if (nextStep?.step === 'reenter' && exit?.phase !== 'handled')
    fail("next step 'reenter' needs a handled exit");
  if (exit && nextStep?.step !== 'device' && nextStep?.step !== 'reenter') {
    fail(
      `a pending MMIO exit must be followed by 'device' or 'reenter', not ${show(nextStep?.step ?? null)}`,
    );
  }
  if (!isRecord(program)) fail(`program must be an object, got ${show(program)}`);
  if (!Array.isArray(program.inputs)) fail(`program.inputs must be an array, got ${show(program.inputs)}`);
  const inputs = program.inputs.map((x: unknown, i) => {
    if (x !== null && !(typeof x === 'number' && Number.isFinite(x))) {
      fail(`program.inputs[${i}] must be a number or null, got ${show(x)}`);
    }
    return x as number | null;
  });
  if (!('checkpoint' in program)) fail('program.checkpoint is missing');
  let checkpoint: JsonValue;
  try {
    checkpoint = cloneJson(program.checkpoint as JsonValue);
  } catch (e) {
    fail(`program.checkpoint is not JSON: ${(e as Error).message}`);
  }
  return { rip, rax, pendingExit: exit, next: nextStep, halted, program: { checkpoint, inputs } };
}

function parseExit(raw: unknown): MmioExit {
  if (!isRecord(raw)) fail(`pendingExit must be an object or null, got ${show(raw)}`);
  const { phase, addr, size, isWrite, data } = raw;
  if (phase !== 'exited' && phase !== 'handled')
    fail(`pendingExit.phase must be 'exited' or 'handled', got ${show(phase)}`);
  if (!isSafeNonNegInt(addr)) fail(`pendingExit.addr must be a guest-physical address, got ${show(addr)}`);
  if (size !== 1 && size !== 2 && size !== 4) fail(`pendingExit.size must be 1, 2 or 4, got ${show(size)}`);
  if (typeof isWrite !== 'boolean') fail(`pendingExit.isWrite must be a boolean, got ${show(isWrite)}`);
  const needsData = isWrite || phase === 'handled';
  if (needsData ? !isU32(data) : data !== null) {
    fail(
      `pendingExit.data must be ${needsData ? 'a 32-bit value' : 'null before a read is handled'}, got ${show(data)}`,
    );
  }
  return { phase, addr, size, isWrite, data: data as number | null };
}

function bad(what: string): never {
  throw new Error(`guest program yielded a bad operation: ${what}`);
}

/** Checks an operation a guest program yielded; throws an Error saying what is wrong with it. */
export function checkGuestOp(op: unknown): GuestOp {
  if (!isRecord(op)) return bad(`expected an object, got ${show(op)}`);
  switch (op.op) {
    case 'read':
    case 'write':
      if (!isSafeNonNegInt(op.addr))
        bad(`${op.op}.addr must be a guest-physical address, got ${show(op.addr)}`);
      if (op.size !== 1 && op.size !== 2 && op.size !== 4)
        bad(`${op.op}.size must be 1, 2 or 4, got ${show(op.size)}`);
      if (op.op === 'write' && !(Number.isInteger(op.value) && isU32((op.value as number) >>> 0))) {
        bad(`write.value must be an integer, got ${show(op.value)}`);
      }
      break;
    case 'sleep':
      if (!isSafeNonNegInt(op.ns)) bad(`sleep.ns must be a non-negative integer, got ${show(op.ns)}`);
      break;
    case 'print':
      if (typeof op.text !== 'string') bad(`print.text must be a string, got ${show(op.text)}`);
      break;
    case 'mark':
      if (typeof op.name !== 'string') bad(`mark.name must be a string, got ${show(op.name)}`);
      break;
    case 'now':
    case 'checkpoint':
      break;
    default:
      bad(`unknown op ${show(op.op)}`);
  }
  return op as unknown as GuestOp;
}
