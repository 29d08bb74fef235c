// Register-level scripts for `tislab replay`: a JSON list of accesses and waits, or the text QEMU prints
// with `-trace 'tpm_tis_mmio*'`. Parsing is pure; errors name the line (or array index) and what was wrong.
import { TIS_ADDR_BASE, TIS_ADDR_SIZE } from './registers';

export type ReplayOp =
  | { op: 'r'; size: 1 | 2 | 4; addr: number; expected?: number; line: number }
  | { op: 'w'; size: 1 | 2 | 4; addr: number; value: number; line: number }
  | { op: 'wait'; until: 'idle'; line: number }
  | { op: 'wait'; ns: number; line: number };

export class ReplayScriptError extends Error {}

function fail(where: string, what: string): never {
  throw new ReplayScriptError(`${where}: ${what}`);
}

function size(where: string, v: unknown): 1 | 2 | 4 {
  if (v === 1 || v === 2 || v === 4) return v;
  return fail(where, `size must be 1, 2 or 4, got ${JSON.stringify(v)}`);
}

function u32(where: string, name: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return u32(where, name, Number(v));
  return fail(where, `${name} must be an unsigned 32-bit integer, got ${JSON.stringify(v)}`);
}

/** An absolute address inside the TIS region, returned region-relative. */
function regionAddr(where: string, v: unknown): number {
  const abs = u32(where, 'addr', v);
  const rel = abs - TIS_ADDR_BASE;
  if (rel < 0 || rel >= TIS_ADDR_SIZE) {
    fail(where, `addr 0x${abs.toString(16)} is outside the TIS region 0xfed40000–0xfed44fff`);
  }
  return rel;
}

export function parseJsonScript(text: string): ReplayOp[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return fail('JSON', (e as Error).message);
  }
  if (!Array.isArray(data)) return fail('JSON', 'the script must be an array of accesses');
  return data.map((item: unknown, i): ReplayOp => {
    const where = `entry ${i}`;
    if (typeof item !== 'object' || item === null) return fail(where, 'not an object');
    const o = item as Record<string, unknown>;
    if (o.op === 'r') return { op: 'r', size: size(where, o.size), addr: regionAddr(where, o.addr), line: i };
    if (o.op === 'w') {
      return {
        op: 'w',
        size: size(where, o.size),
        addr: regionAddr(where, o.addr),
        value: u32(where, 'value', o.value),
        line: i,
      };
    }
    if (o.op === 'wait') {
      if (o.until === 'idle') return { op: 'wait', until: 'idle', line: i };
      if (typeof o.ns === 'number' && Number.isSafeInteger(o.ns) && o.ns >= 0)
        return { op: 'wait', ns: o.ns, line: i };
      return fail(where, 'a wait needs "until":"idle" or a non-negative integer "ns"');
    }
    return fail(where, `op must be "r", "w" or "wait", got ${JSON.stringify(o.op)}`);
  });
}

// QEMU's trace formats (hw/tpm/trace-events): ` read.%u(0x%08x) = 0x%08x` / `write.%u(0x%08x) = 0x%08x`,
// and the key=value form `size=S addr=0xA val=0xV`. Anything before the event name is ignored.
const QEMU_FORMAT = /tpm_tis_mmio_(read|write)\s+(?:read|write)\.(\d+)\((0x[0-9a-f]+)\)\s*=\s*(0x[0-9a-f]+)/i;
const KV_FORMAT =
  /tpm_tis_mmio_(read|write)\b.*?size=(\d+)\W+addr=(0x[0-9a-f]+|\d+)\W+val=(0x[0-9a-f]+|\d+)/i;

export function parseQemuTrace(text: string): ReplayOp[] {
  const ops: ReplayOp[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || !/tpm_tis_mmio_(read|write)\b/.test(line)) return;
    if (/tpm_tis_mmio_write_/.test(line)) return; // other trace points (locty4, release_locty, ...)
    const m = QEMU_FORMAT.exec(line) ?? KV_FORMAT.exec(line);
    const where = `line ${i + 1}`;
    if (!m) return fail(where, `cannot read this tpm_tis_mmio trace line: ${line}`);
    // QEMU traces reads of DATA_FIFO by the active locality with size 0 (its byte loop counts size down
    // before the trace point); Linux reads the FIFO a byte at a time, so 0 is taken as 1.
    const sz = size(where, Number(m[2]) === 0 ? 1 : Number(m[2]));
    const addr = u32(where, 'addr', m[3]);
    if (addr >= TIS_ADDR_SIZE)
      fail(where, `addr 0x${addr.toString(16)} is outside the TIS region (0..0x4fff)`);
    const val = u32(where, 'val', m[4]);
    ops.push(
      m[1] === 'read'
        ? { op: 'r', size: sz, addr, expected: val, line: i + 1 }
        : { op: 'w', size: sz, addr, value: val, line: i + 1 },
    );
  });
  if (ops.length === 0) fail('trace', 'no tpm_tis_mmio_read or tpm_tis_mmio_write lines found');
  return ops;
}

/** JSON when the text starts with '[', QEMU trace text otherwise. */
export function parseReplayScript(text: string): ReplayOp[] {
  return text.trimStart().startsWith('[') ? parseJsonScript(text) : parseQemuTrace(text);
}
