// The few instructions a guest driver is made of, as sub-generators over GuestOps (program.ts): MMIO loads
// and stores of 1, 2 or 4 bytes, sleeping, reading the clock, printk and marks. Drivers `yield*` these.
import type { JsonValue } from '../kernel';
import type { GuestInput, GuestOp, MmioSize } from './program';

/** A step of a guest program that returns T when it is done. */
export type Op<T = void> = Generator<GuestOp, T, GuestInput>;

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;

function* load(addr: number, size: MmioSize): Op<number> {
  const value = yield { op: 'read', addr, size };
  if (typeof value !== 'number') {
    throw new TypeError(
      `guest program: the ${size}-byte read at 0x${addr.toString(16)} was resumed without a value; ` +
        'the runtime must resume a read with the value it returned',
    );
  }
  return value;
}

/** ioread8 */
export const ioread8 = (addr: number): Op<number> => load(addr, 1);
/** ioread16 */
export const ioread16 = (addr: number): Op<number> => load(addr, 2);
/** ioread32 */
export function* ioread32(addr: number): Op<number> {
  return (yield* load(addr, 4)) >>> 0;
}

/** iowrite8 */
export function* iowrite8(addr: number, value: number): Op {
  yield { op: 'write', addr, size: 1, value: value & 0xff };
}

/** iowrite32 */
export function* iowrite32(addr: number, value: number): Op {
  yield { op: 'write', addr, size: 4, value: value >>> 0 };
}

export function* sleepNs(ns: number): Op {
  yield { op: 'sleep', ns };
}

/** The guest's clock in virtual ns (jiffies, for the kernel's timeouts). */
export function* now(): Op<number> {
  const t = yield { op: 'now' };
  if (typeof t !== 'number') {
    throw new TypeError('guest program: a `now` op was resumed without the time');
  }
  return t;
}

export function* print(text: string, level: 'info' | 'warn' | 'err' = 'info'): Op {
  yield { op: 'print', text, level };
}

export function* mark(name: string, data?: JsonValue): Op {
  yield data === undefined ? { op: 'mark', name } : { op: 'mark', name, data };
}

/** Entry into a driver function: run control can stop here and step one driver operation. */
export function* enter(kernelFunction: string): Op {
  yield { op: 'mark', name: 'driver.op', data: { name: kernelFunction } };
}
