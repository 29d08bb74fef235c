// Small guest programs for the vm tests and benchmarks: enough of a TIS driver to run whole transactions,
// written with the bare GuestOp protocol (guest/program.ts), independent of the real drivers in guest/.
import type { JsonValue } from '../kernel';
import type { GuestInput, GuestOp, GuestProgram, GuestProgramFactory } from '../guest/program';

export const TIS_BASE = 0xfed40000;
export const ACCESS = TIS_BASE + 0x00;
export const STS = TIS_BASE + 0x18;
export const FIFO = TIS_BASE + 0x24;

type Ops<T = void> = Generator<GuestOp, T, GuestInput>;

function* read(addr: number, size: 1 | 2 | 4 = 1): Ops<number> {
  const v = yield { op: 'read', addr, size };
  if (typeof v !== 'number') throw new Error('read resumed without a value');
  return v;
}

function* write(addr: number, value: number, size: 1 | 2 | 4 = 1): Ops {
  yield { op: 'write', addr, size, value };
}

const hexBytes = (b: readonly number[]): string => b.map((x) => x.toString(16).padStart(2, '0')).join('');

/**
 * One command through the TIS the way Linux's tpm_tis does it in polling mode, much simplified: locality,
 * commandReady, the command byte by byte, go, poll STS every 20 µs, burst count, response byte by byte,
 * commandReady, release. Marks 'driver.op', 'transaction.start' and 'transaction.end' (with the response).
 */
export function* transact(command: readonly number[]): Ops<number[]> {
  yield { op: 'mark', name: 'transaction.start', data: { cc: command[9] ?? 0 } };
  yield { op: 'mark', name: 'driver.op', data: { name: 'request_locality' } };
  yield* write(ACCESS, 0x02);
  while (((yield* read(ACCESS)) & 0xa0) !== 0xa0) yield { op: 'sleep', ns: 5_000 };
  yield { op: 'mark', name: 'driver.op', data: { name: 'tpm_tis_send' } };
  yield* write(STS, 0x40);
  for (const b of command) yield* write(FIFO, b);
  yield* write(STS, 0x20);
  yield { op: 'mark', name: 'driver.op', data: { name: 'wait_for_tpm_stat' } };
  while (((yield* read(STS)) & 0x90) !== 0x90) yield { op: 'sleep', ns: 20_000 };
  yield { op: 'mark', name: 'driver.op', data: { name: 'tpm_tis_recv' } };
  const burst = ((yield* read(STS, 4)) >>> 8) & 0xffff;
  const response: number[] = [];
  for (let i = 0; i < burst; i++) response.push(yield* read(FIFO));
  yield* write(STS, 0x40);
  yield* write(ACCESS, 0x20);
  yield { op: 'mark', name: 'transaction.end', data: { response: hexBytes(response) } };
  return response;
}

/** TPM2_GetRandom(n) as bytes. */
export function getRandomCommand(n: number): number[] {
  return [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, (n >> 8) & 0xff, n & 0xff];
}

/**
 * `count` GetRandom transactions, a checkpoint before each (state {i}), a console line after each. Resumed
 * from a checkpoint it continues right after it, as guest/program.ts asks.
 */
export function getRandomLoop(count: number, bytes = 8): GuestProgramFactory {
  return (resume: JsonValue | null): GuestProgram =>
    (function* () {
      let i = typeof resume === 'object' && resume !== null && !Array.isArray(resume) ? Number(resume.i) : 0;
      let resumed = resume !== null;
      for (; i < count; i++) {
        if (!resumed) yield { op: 'checkpoint', state: { i } };
        resumed = false;
        const response = yield* transact(getRandomCommand(bytes));
        yield { op: 'print', text: `getrandom ${i}: ${hexBytes(response.slice(12))}` };
      }
    })();
}

/** A program made of the given operations, in order (reads resume with whatever they read). */
export function opsProgram(ops: readonly GuestOp[]): GuestProgramFactory {
  return () =>
    (function* () {
      for (const op of ops) yield op;
    })();
}
