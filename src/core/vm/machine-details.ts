// What the UI shows beyond Machine.view, read through public APIs only: the TIS register file with the
// shared buffer's command/response region, the TIS machine's active states, and the current transaction
// as the guest saw it (the bytes its FIFO loads retired with) beside what the TPM really sent.
import type { JsonValue, TraceEvent } from '../kernel';
import { TIS_ADDR_BASE, tpmCmdGetSize, type TisStateName } from '../tis/registers';
import type { Machine } from './machine';

export interface TisLocalityDetail {
  state: TisStateName;
  access: number;
  sts: number;
  inte: number;
  ints: number;
  ifaceId: number;
}

/** The shared buffer's meaning now: a command is there from reception to execution, a response after. */
export type BufferRegion = { kind: 'command' | 'response'; length: number } | { kind: 'none' };

export interface TisDetail {
  activeLocality: number;
  rwOffset: number;
  irqLevel: 0 | 1;
  localities: TisLocalityDetail[];
  /** The start of the shared buffer: enough to cover the region and rw_offset (at least 64 bytes). */
  buffer: Uint8Array;
  region: BufferRegion;
}

/** How much of the 4 KiB buffer a view carries beyond what is in use. */
const BUFFER_SLACK = 32;
const BUFFER_MIN = 64;

export function tisDetail(machine: Machine): TisDetail {
  const s = machine.tis.snapshot();
  const active = s.localities[s.activeLocality];
  const region = bufferRegion(active?.state, s.buffer);
  const used = Math.max(region.kind === 'none' ? 0 : region.length, s.rwOffset);
  const shown = Math.min(s.buffer.length, Math.max(BUFFER_MIN, used + BUFFER_SLACK));
  return {
    activeLocality: s.activeLocality,
    rwOffset: s.rwOffset,
    irqLevel: s.irqLevel,
    localities: s.localities.map((l) => ({ ...l })),
    buffer: s.buffer.slice(0, shown),
    region,
  };
}

/** As QEMU's TIS uses the buffer: reception/execution hold the command, completion the response. */
export function bufferRegion(state: TisStateName | undefined, buffer: Uint8Array): BufferRegion {
  if (state !== 'reception' && state !== 'execution' && state !== 'completion') return { kind: 'none' };
  const length = Math.min(buffer.length, tpmCmdGetSize(buffer));
  return { kind: state === 'completion' ? 'response' : 'command', length };
}

/** XState's state value flattened to region.state paths: {locality: 'l0', cmd0: 'idle'} → ['locality.l0', 'cmd0.idle']. */
export function flattenStateValue(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (typeof value !== 'object' || value === null) return [];
  const out: string[] = [];
  for (const [key, inner] of Object.entries(value)) {
    out.push(...flattenStateValue(inner, prefix ? `${prefix}.${key}` : key));
  }
  return out;
}

/** The TIS machine's active states as region.state paths. */
export function activeTisStates(machine: Machine): string[] {
  return flattenStateValue(machine.tis.machineSnapshot.value);
}

export interface StateTransition {
  from: string;
  to: string;
  event: string;
}

/**
 * The transition between two sets of active states: the first region whose state changed, command regions
 * first (they tell the story), then locality, then abort. Null if nothing changed.
 */
export function changedState(before: string[], after: string[], event: string): StateTransition | null {
  const region = (path: string) => path.slice(0, path.lastIndexOf('.'));
  const was = new Map(before.map((p) => [region(p), p]));
  const moved = after.filter((p) => was.has(region(p)) && was.get(region(p)) !== p);
  if (moved.length === 0) return null;
  const rank = (p: string) => (p.startsWith('cmd') ? 0 : p.startsWith('locality') ? 1 : 2);
  const to = [...moved].sort((a, b) => rank(a) - rank(b))[0] as string;
  return { from: was.get(region(to)) as string, to, event };
}

/** The XState event behind a TIS trace event, for naming the last transition. */
export function tisEventOf(kind: string): string | null {
  if (kind === 'tpm_tis_mmio_write' || kind.startsWith('tpm_tis_mmio_write_')) return 'mmio.write';
  if (kind === 'tpm_tis_mmio_read' || kind === 'tpm_tis_data_read') return 'mmio.read';
  if (kind === 'tpm_tis_request_completed') return 'backend.completed';
  return null;
}

export interface TransactionDetail {
  /** Index of the transaction since boot (the first is 0), carried across migrations. */
  index: number;
  /** The command's name as the guest's mark gives it (e.g. 'CreatePrimary'), or null. */
  name: string | null;
  /** The command as the TIS handed it to the backend. */
  command: Uint8Array | null;
  /** The response as the TPM sent it (the TIS buffer when the bottom half delivered it). */
  response: Uint8Array | null;
  /** The bytes the guest's FIFO loads retired with, in order. */
  received: number[];
  /** The last error line the guest printed during the transaction. */
  error: string | null;
}

function isFifoAddr(addr: number): boolean {
  const reg = (addr - TIS_ADDR_BASE) & 0xfff;
  const inRegion = addr >= TIS_ADDR_BASE && addr < TIS_ADDR_BASE + 0x5000;
  return inRegion && ((reg >= 0x24 && reg < 0x28) || (reg >= 0x80 && reg < 0xc0));
}

const field = (data: JsonValue, key: string): JsonValue | undefined =>
  typeof data === 'object' && data !== null && !Array.isArray(data) ? data[key] : undefined;

/**
 * Follows the guest's transactions through the trace of the machine it is attached to. It keeps its
 * record when attached to a migration's destination, so the bytes the guest received before the cut and
 * after it land in the same transaction, as they do in the guest.
 */
export class TransactionWatch {
  private current: TransactionDetail = emptyTransaction(-1);
  /** The last transaction that went wrong (bytes differ from the TPM's, or the driver printed an error). */
  private faulty: TransactionDetail | null = null;
  private pendingFifoRead: { size: number } | null = null;
  private detach: (() => void) | null = null;

  attach(machine: Machine): void {
    this.detach?.();
    this.pendingFifoRead = null;
    this.detach = machine.trace.subscribe((e) => this.observe(machine, e));
  }

  dispose(): void {
    this.detach?.();
    this.detach = null;
  }

  /** The transaction the guest is in (or finished last). */
  get latest(): TransactionDetail {
    return copyTransaction(this.current);
  }

  /** The last faulty transaction if there was one, else the latest: what the Guest view should show. */
  get focus(): TransactionDetail {
    const f = this.faulty;
    return copyTransaction(f !== null && f.index === this.current.index ? this.current : (f ?? this.current));
  }

  private observe(machine: Machine, e: TraceEvent): void {
    const tx = this.current;
    if (e.source === 'kvm' && e.kind === 'kvm_exit') {
      const addr = field(e.data, 'addr');
      const isWrite = field(e.data, 'isWrite');
      const len = field(e.data, 'len');
      this.pendingFifoRead =
        typeof addr === 'number' && isWrite === false && isFifoAddr(addr)
          ? { size: typeof len === 'number' ? len : 1 }
          : null;
    } else if (e.source === 'kvm' && e.kind === 'kvm_run' && this.pendingFifoRead) {
      const value = field(e.data, 'data');
      if (typeof value === 'number') {
        for (let i = 0; i < this.pendingFifoRead.size; i++) tx.received.push((value >>> (8 * i)) & 0xff);
      }
      this.pendingFifoRead = null;
      this.checkFaulty();
    } else if (e.source === 'guest' && e.kind === 'mark' && field(e.data, 'name') === 'transaction.start') {
      const data = field(e.data, 'data');
      const name = field(data ?? null, 'name');
      this.current = emptyTransaction(tx.index + 1);
      this.current.name = typeof name === 'string' ? name : null;
    } else if (e.source === 'guest' && e.kind === 'print' && field(e.data, 'level') === 'err') {
      const text = field(e.data, 'text');
      if (typeof text === 'string') tx.error = text;
      this.checkFaulty();
    } else if (e.source === 'tis' && e.kind === 'tpm_tis_tpm_send') {
      const len = field(e.data, 'in_len');
      tx.command = machine.tis.snapshot().buffer.slice(0, typeof len === 'number' ? len : 0);
    } else if (e.source === 'tis' && e.kind === 'tpm_tis_request_completed') {
      const len = field(e.data, 'len');
      tx.response = machine.tis.snapshot().buffer.slice(0, typeof len === 'number' ? len : 0);
    }
  }

  private checkFaulty(): void {
    const tx = this.current;
    const truth = tx.response;
    const differs = truth !== null && tx.received.some((b, i) => (i < truth.length ? truth[i] !== b : true));
    if (differs || tx.error !== null) this.faulty = tx;
  }
}

function emptyTransaction(index: number): TransactionDetail {
  return { index, name: null, command: null, response: null, received: [], error: null };
}

function copyTransaction(t: TransactionDetail): TransactionDetail {
  return {
    ...t,
    command: t.command && t.command.slice(),
    response: t.response && t.response.slice(),
    received: [...t.received],
  };
}
