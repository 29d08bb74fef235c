// `tislab replay FILE`: replays a register-level script against a fresh TIS + backend + TPM engine and
// prints one JSON line per access with the value the model returns. Reads from a QEMU trace are compared
// with the value QEMU returned; differences are marked and make the exit status 1.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TIS_ADDR_BASE } from '../core/tis/registers';
import { parseReplayScript, ReplayScriptError, type ReplayOp } from '../core/tis/replay-script';
import { createTisRig, type TisRig } from '../core/vm/tis-rig';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io';

export const REPLAY_USAGE = 'tislab replay FILE [--seed S] [--startup clear|none]';
/** Without waits, accesses follow each other this far apart in virtual time. */
const ACCESS_GAP_NS = 1_000;

const hex32 = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

export interface ReplayLine {
  t: number;
  op: 'r' | 'w';
  size: number;
  addr: string;
  value: string;
  qemu?: string;
  match?: boolean;
}

export function replay(rig: TisRig, ops: readonly ReplayOp[], emit: (line: ReplayLine) => void): number {
  let mismatches = 0;
  const { scheduler, tis, backend } = rig;
  for (const op of ops) {
    if (op.op === 'wait') {
      if ('until' in op) backend.waitCmdCompleted();
      else scheduler.runUntil(scheduler.nowNs + op.ns);
      continue;
    }
    const addr = hex32(TIS_ADDR_BASE + op.addr);
    if (op.op === 'w') {
      tis.write(op.addr, op.size, op.value);
      emit({ t: scheduler.nowNs, op: 'w', size: op.size, addr, value: hex32(op.value) });
    } else {
      const value = tis.read(op.addr, op.size);
      const line: ReplayLine = { t: scheduler.nowNs, op: 'r', size: op.size, addr, value: hex32(value) };
      if (op.expected !== undefined) {
        line.qemu = hex32(op.expected);
        line.match = op.expected >>> 0 === value >>> 0;
        if (!line.match) mismatches++;
      }
      emit(line);
    }
    scheduler.runUntil(scheduler.nowNs + ACCESS_GAP_NS);
  }
  return mismatches;
}

export async function runReplay(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { seed: { type: 'string', default: 'tislab' }, startup: { type: 'string', default: 'clear' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`tislab replay: ${(e as Error).message}`);
  }
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new UsageError('tislab replay: give exactly one script FILE');
  const startup = parsed.values.startup;
  if (startup !== 'clear' && startup !== 'none') {
    throw new UsageError(`tislab replay: --startup must be clear or none, got '${startup}'`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    io.err(`tislab replay: cannot read ${file}: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  let ops: ReplayOp[];
  try {
    ops = parseReplayScript(text);
  } catch (e) {
    if (e instanceof ReplayScriptError) throw new UsageError(`tislab replay: ${file}: ${e.message}`);
    throw e;
  }
  const rig = await createTisRig({ seed: parsed.values.seed, startupClear: startup === 'clear' });
  const mismatches = replay(rig, ops, (line) => io.out(JSON.stringify(line)));
  if (mismatches > 0) {
    io.err(`tislab replay: ${mismatches} read(s) differ from the values in the QEMU trace`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
