// Shared by the guest tests (not used by the machine): misbehaving TIS wrappers, a program that runs a
// driver over a list of commands, and a compact form of an MMIO trace.
import type { JsonValue } from '../kernel';
import { createTisRig, type TisRig } from '../vm/tis-rig';
import { DirectRunner, type MmioDevice, type TraceEntry } from './direct-runner';
import type { GuestDriver, TransmitResult } from './driver';
import type { GuestProgram } from './program';

const STS = 0x18;
const FIFO = 0x24;

/** The TPM never reports a response: dataAvail never shows in STS, as if the backend never answered. */
export function neverCompletes(inner: MmioDevice): MmioDevice {
  return {
    read: (offset, size) => {
      const v = inner.read(offset, size);
      return (offset & 0xfff) === STS ? v & ~0x10 : v;
    },
    write: (offset, size, value) => inner.write(offset, size, value),
  };
}

/** STS reads as all ones, as QEMU returns it to a locality that is not active. */
export function stsReadsAllOnes(inner: MmioDevice): MmioDevice {
  return {
    read: (offset, size) =>
      (offset & 0xfff) >= STS && (offset & 0xfff) < STS + 4
        ? 0xffffffff >>> (32 - 8 * size)
        : inner.read(offset, size),
    write: (offset, size, value) => inner.write(offset, size, value),
  };
}

/**
 * The duplicated-read hazard: the FIFO read numbered `n` (0-based, counting every FIFO read) is performed
 * twice on the device and the guest gets the second value, so one response byte is skipped.
 */
export function duplicatedFifoRead(inner: MmioDevice, n: number): MmioDevice {
  let reads = 0;
  return {
    read: (offset, size) => {
      if ((offset & 0xfff) !== FIFO) return inner.read(offset, size);
      const value = inner.read(offset, size);
      return reads++ === n ? inner.read(offset, size) : value;
    },
    write: (offset, size, value) => inner.write(offset, size, value),
  };
}

/** The status byte read numbered `n` (0-based, 1-byte STS reads only) comes back with `bits` set. */
export function stsByteReadWithBits(inner: MmioDevice, n: number, bits: number): MmioDevice {
  let reads = 0;
  return {
    read: (offset, size) => {
      const v = inner.read(offset, size);
      if ((offset & 0xfff) !== STS || size !== 1) return v;
      return reads++ === n ? v | bits : v;
    },
    write: (offset, size, value) => inner.write(offset, size, value),
  };
}

/** FIFO reads numbered as keys of `bytes` (0-based) return the given values instead (the device still reads). */
export function fifoReadsReplaced(inner: MmioDevice, bytes: ReadonlyMap<number, number>): MmioDevice {
  let reads = 0;
  return {
    read: (offset, size) => {
      const v = inner.read(offset, size);
      if ((offset & 0xfff) !== FIFO) return v;
      return bytes.get(reads++) ?? v;
    },
    write: (offset, size, value) => inner.write(offset, size, value),
  };
}

/** Probes the driver, then transmits each command once, collecting the results. */
export function* transmitAll<S extends JsonValue>(
  driver: GuestDriver<S>,
  commands: readonly Uint8Array[],
  results: TransmitResult[],
  state: S = driver.initialState(),
): GuestProgram {
  yield* driver.probe(state);
  for (const command of commands) {
    yield { op: 'mark', name: 'transaction.start' };
    results.push(yield* driver.transmit(state, command));
    yield { op: 'mark', name: 'transaction.end' };
  }
}

export async function runDriver<S extends JsonValue>(
  driver: GuestDriver<S>,
  commands: readonly Uint8Array[],
  wrap?: (tis: MmioDevice) => MmioDevice,
): Promise<{ rig: TisRig; runner: DirectRunner; results: TransmitResult[] }> {
  const rig = await createTisRig({ seed: 'guest-tests' });
  const results: TransmitResult[] = [];
  const device = wrap ? wrap(rig.tis) : rig.tis;
  const runner = new DirectRunner(rig, transmitAll(driver, commands, results), { device, record: true });
  runner.run();
  return { rig, runner, results };
}

/** The trace entries of the n-th transaction (between its start and end marks). */
export function transaction(trace: readonly TraceEntry[], n: number): TraceEntry[] {
  const starts = trace.flatMap((e, i) =>
    e.op.op === 'mark' && e.op.name === 'transaction.start' ? [i] : [],
  );
  const start = starts[n];
  if (start === undefined) throw new Error(`no transaction ${n} in the trace`);
  const end = trace.findIndex((e, i) => i > start && e.op.op === 'mark' && e.op.name === 'transaction.end');
  return trace.slice(start + 1, end);
}

/**
 * MMIO accesses as 'r1 018' / 'w1 018=40' (offset from the TIS base; the value only for register writes,
 * not FIFO data), with runs of the same access collapsed to [access, count].
 */
export function collapsedMmio(entries: readonly TraceEntry[]): [string, number][] {
  const out: [string, number][] = [];
  for (const { op } of entries) {
    if (op.op !== 'read' && op.op !== 'write') continue;
    const offset = (op.addr - 0xfed40000).toString(16).padStart(3, '0');
    let key = `${op.op === 'read' ? 'r' : 'w'}${op.size} ${offset}`;
    if (op.op === 'write' && (op.addr & 0xfff) !== FIFO) key += `=${op.value.toString(16).padStart(2, '0')}`;
    const last = out[out.length - 1];
    if (last && last[0] === key) last[1]++;
    else out.push([key, 1]);
  }
  return out;
}
