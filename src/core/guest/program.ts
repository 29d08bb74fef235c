// What a guest program is, as the vCPU sees it. Drivers and workloads are generators that yield one
// operation at a time; the vCPU (src/core/vm) carries each out and resumes the generator with its result.
// A read is one load instruction (ioread8/16/32): the generator gets the value only when the instruction
// retires, after KVM's re-entry, never earlier. That is the whole point of the simulator.
//
// Snapshots. A generator's position cannot be serialised, so a program is restorable by replay: at points
// where its whole state is plain data it yields a `checkpoint` carrying that state, and the runtime keeps
// (last checkpoint state, the inputs fed since). To restore, the runtime calls the program's factory with
// the checkpoint state and feeds the same inputs again, discarding the operations they produce, which
// brings the new generator to the same point. So a program must be a deterministic function of its
// factory arguments and the inputs it is fed: no hidden globals, no clocks other than the `now` op.
import type { JsonValue } from '../kernel';

export type MmioSize = 1 | 2 | 4;

export type GuestOp =
  /** A load instruction at a guest-physical address; the generator resumes with the value read. */
  | { readonly op: 'read'; readonly addr: number; readonly size: MmioSize }
  /** A store instruction; resumes with undefined once it retires. */
  | { readonly op: 'write'; readonly addr: number; readonly size: MmioSize; readonly value: number }
  /** The vCPU idles for ns of virtual time (msleep, usleep_range, the poll loops' sleeps). */
  | { readonly op: 'sleep'; readonly ns: number }
  /** Reads the guest's clock (virtual ns); resumes with the time. Kernel timeouts use this. */
  | { readonly op: 'now' }
  /** One console line (printk or user-space output); the runtime adds the dmesg-style timestamp. */
  | { readonly op: 'print'; readonly text: string; readonly level?: 'info' | 'warn' | 'err' }
  /**
   * A named boundary that run control can stop at and the UI can show, e.g. the start of a driver
   * operation ('driver.op' with data {name: 'request_locality'}), or a transaction's start and end
   * ('transaction.start' / 'transaction.end' with the command code, rc and response).
   */
  | { readonly op: 'mark'; readonly name: string; readonly data?: JsonValue }
  /** The program's complete state as plain data; see "Snapshots" above. */
  | { readonly op: 'checkpoint'; readonly state: JsonValue };

/** What a generator is resumed with: the value of a read, the time for `now`, undefined otherwise. */
export type GuestInput = number | undefined;

export type GuestProgram = Generator<GuestOp, void, GuestInput>;

/**
 * Makes a program. `resume` is null for a fresh start, or the state of a `checkpoint` the program
 * yielded earlier (from this factory and config), to continue from there.
 */
export type GuestProgramFactory = (resume: JsonValue | null) => GuestProgram;
