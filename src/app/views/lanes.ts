// The Lanes panel's view model: which lane of the sequence view each trace event belongs to (the thread or
// component that did it in the real system), the spans during which a lane is busy (a vCPU out of the
// guest between its exit and re-entry, a command on the TPM, a bottom half pending), the rows of the
// view (events with snapshot/migration markers between them), and the window of rows to render.
import type { TraceEvent } from '../../core/kernel/trace';
import {
  REG_ACCESS,
  REG_DATA_FIFO,
  REG_DID_VID,
  REG_INT_ENABLE,
  REG_INT_STATUS,
} from '../../core/tis/registers';
import {
  REG_INT_VECTOR,
  REG_INTERFACE_ID,
  REG_INTF_CAPABILITY,
  REG_RID,
  REG_STS,
} from '../../core/tis/registers';

export const LANES = [
  'vCPU',
  'KVM',
  'QEMU TIS',
  'backend thread',
  'main loop (bottom half)',
  'TPM worker',
  'migration',
] as const;
export type Lane = (typeof LANES)[number];

export interface LaneMarker {
  t: number;
  label: string;
  /**
   * Optional: the seq of the first trace event after the marker (the trace's totalCount when it was set).
   * Events that share the marker's virtual time are then placed exactly; without it the marker goes after
   * every event at its time.
   */
  seq?: number;
}

type EventLike = Pick<TraceEvent, 'source' | 'kind' | 'data'>;

const field = (data: unknown, key: string): unknown =>
  data !== null && typeof data === 'object' && !Array.isArray(data)
    ? (data as Record<string, unknown>)[key]
    : undefined;

// Backend trace points of the migration path: QEMU's tpm_emulator pre_save and post_load.
const BACKEND_MIGRATION = /^tpm_emulator_(pre_save|get_state_blob|set_state_blob)/;

/**
 * The lane an event happened on, by the thread that runs it in QEMU and Linux: the guest driver on the
 * vCPU; kvm_exit/kvm_run in KVM; the TIS MMIO handlers (and the memory dispatch that calls them) in
 * QEMU's TIS model; the backend's request handling and tpm_backend_worker_thread on the backend thread;
 * the command's execution in the TPM (swtpm, here a Worker) from tpm_emulator_unix_tx_bufs; the bottom
 * half (tpm_backend_request_completed → tpm_tis_request_completed) on the main loop; savevm/loadvm and
 * the state-blob transfers in migration. Hazards go to the lane where they show. Null for a source this
 * view does not know (the panel shows such events across all lanes rather than drop them).
 */
export function laneOf(e: EventLike): Lane | null {
  switch (e.source) {
    case 'guest':
    case 'vcpu':
      return 'vCPU';
    case 'kvm':
      return 'KVM';
    case 'tis':
      return e.kind.startsWith('tpm_tis_request_completed') ? 'main loop (bottom half)' : 'QEMU TIS';
    case 'qemu':
      if (e.kind === 'vm_state_notify') {
        return field(e.data, 'reason') === 'inmigrate' ? 'migration' : 'main loop (bottom half)';
      }
      return 'QEMU TIS';
    case 'backend':
      if (e.kind === 'tpm_backend_request_completed') return 'main loop (bottom half)';
      if (e.kind === 'tpm_emulator_unix_tx_bufs') return 'TPM worker';
      if (BACKEND_MIGRATION.test(e.kind)) return 'migration';
      return 'backend thread';
    case 'tpm':
    case 'swtpm':
      return 'TPM worker';
    case 'migration':
    case 'snapshot':
      return 'migration';
    case 'hazard':
      if (e.kind === 'duplicated-mmio-read') return 'vCPU';
      if (e.kind === 'double-execution') return 'TPM worker';
      if (e.kind === 'lost-response') return 'main loop (bottom half)';
      return 'migration';
    default:
      return null;
  }
}

const REGISTER_NAMES: Readonly<Record<number, string>> = {
  [REG_ACCESS]: 'ACCESS',
  [REG_INT_ENABLE]: 'INT_ENABLE',
  [REG_INT_VECTOR]: 'INT_VECTOR',
  [REG_INT_STATUS]: 'INT_STATUS',
  [REG_INTF_CAPABILITY]: 'INTF_CAPABILITY',
  [REG_STS]: 'STS',
  [REG_STS + 1]: 'STS.burstCount',
  [REG_STS + 2]: 'STS.burstCount+1',
  [REG_STS + 3]: 'STS[31:24]',
  [REG_DATA_FIFO]: 'DATA_FIFO',
  [REG_INTERFACE_ID]: 'INTERFACE_ID',
  [REG_DID_VID]: 'DID_VID',
  [REG_RID]: 'RID',
};

const hex = (n: unknown): string => (typeof n === 'number' ? `0x${n.toString(16)}` : String(n));

/** A TIS address (region-relative or physical) as "l0 STS". */
export function registerName(addr: number): string {
  const rel = addr >= 0xfed40000 ? addr - 0xfed40000 : addr;
  const locality = (rel >>> 12) & 7;
  const off = rel & 0xfff;
  const name = REGISTER_NAMES[off] ?? (off >= 0x80 && off < 0xc0 ? 'XDATA_FIFO' : `+0x${off.toString(16)}`);
  return `l${locality} ${name}`;
}

const SHORT_PREFIX = /^(tpm_tis_mmio_|tpm_tis_|tpm_emulator_|tpm_backend_)/;

/** One line for an event's cell: what happened in the domain's words, short enough for a lane. */
export function describeEvent(e: EventLike): string {
  const d = e.data;
  switch (e.kind) {
    case 'kvm_exit':
      return `exit ${field(d, 'isWrite') ? 'W' : 'R'}${String(field(d, 'len'))} ${registerName(Number(field(d, 'addr')))}${
        field(d, 'isWrite') ? ` ← ${hex(field(d, 'data'))}` : ''
      }`;
    case 'kvm_run':
      return field(d, 'data') === undefined ? 're-enter' : `re-enter, guest gets ${hex(field(d, 'data'))}`;
    case 'tpm_tis_mmio_read':
      return `read ${registerName(Number(field(d, 'addr')))} = ${hex(field(d, 'val'))}`;
    case 'tpm_tis_mmio_write':
      return `write ${registerName(Number(field(d, 'addr')))} ← ${hex(field(d, 'val'))}`;
    case 'tpm_tis_data_read':
      return `FIFO[${String(field(d, 'off'))}] → ${hex(field(d, 'value'))}`;
    case 'tpm_tis_mmio_write_data2send':
      return `FIFO ← ${hex(field(d, 'value'))}`;
    case 'memory_region_ops_read':
    case 'memory_region_ops_write':
      return `dispatch ${e.kind.endsWith('read') ? 'read' : 'write'} ${registerName(Number(field(d, 'addr')))}`;
    case 'tpm_emulator_unix_tx_bufs': {
      const ns = field(d, 'durationNs');
      return `TPM executes ${String(field(d, 'inLen'))} B command${typeof ns === 'number' ? ` (${formatDuration(ns)})` : ''}`;
    }
    case 'print':
      return String(field(d, 'text'));
    case 'mark': {
      const inner = field(field(d, 'data'), 'name');
      return `${String(field(d, 'name'))}${inner === undefined ? '' : ` ${String(inner)}`}`;
    }
    case 'vm_state_notify':
      return `vm ${field(d, 'running') ? 'running' : 'stopped'} (${String(field(d, 'reason'))})`;
  }
  if (e.source === 'hazard') return `⚠ ${String(field(d, 'title') ?? e.kind)}`;
  return `${e.kind.replace(SHORT_PREFIX, '')}${summariseData(d)}`;
}

function summariseData(d: unknown): string {
  if (d === null || typeof d !== 'object' || Array.isArray(d))
    return d === null || d === undefined ? '' : ` ${String(d)}`;
  const parts = Object.entries(d as Record<string, unknown>)
    .filter(([, v]) => v === null || typeof v !== 'object')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : String(v)}`);
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

/** Virtual nanoseconds as a short duration ("12 ms", "3.5 µs", "500 ns"). */
export function formatDuration(ns: number): string {
  if (ns >= 1_000_000) return `${trim(ns / 1_000_000)} ms`;
  if (ns >= 1_000) return `${trim(ns / 1_000)} µs`;
  return `${ns} ns`;
}

const trim = (x: number): string => String(Number(x.toFixed(3)));

/** Virtual time for the time column: milliseconds with 100 ns resolution ("12.2485 ms"). */
export function formatLaneTime(ns: number): string {
  return `${(ns / 1_000_000).toFixed(4)} ms`;
}

// ---- spans ------------------------------------------------------------------------------------------

export interface LaneSpan {
  lane: Lane;
  /** Index of the event that opens the span, and of the one that closes it (inclusive). */
  start: number;
  /** Null while the span is still open at the end of the events. */
  end: number | null;
  label: string;
}

/**
 * The spans during which a lane is busy or waiting, in one pass over the events:
 *   KVM                      kvm_exit → kvm_run: the vCPU is out of the guest (a pause here is the 2011 cut)
 *   vCPU                     vm stopped → vm running
 *   backend thread           tpm_backend_deliver_request → tpm_backend_worker_thread
 *   TPM worker               tpm_emulator_unix_tx_bufs → tpm_backend_worker_thread (the command executes)
 *   main loop (bottom half)  tpm_backend_worker_thread → tpm_backend_request_completed (bottom half pending)
 */
const VCPU_LANE = LANES.indexOf('vCPU');
const KVM_LANE = LANES.indexOf('KVM');
const THREAD_LANE = LANES.indexOf('backend thread');
const BH_LANE = LANES.indexOf('main loop (bottom half)');
const TPM_LANE = LANES.indexOf('TPM worker');

export function laneSpans(events: readonly EventLike[]): LaneSpan[] {
  const spans: LaneSpan[] = [];
  // The open span of each lane, by lane number (a plain array: this runs over every event each frame).
  const open: (LaneSpan | undefined)[] = [];
  const begin = (n: number, i: number, label: string) => {
    if (open[n] !== undefined) return;
    const lane = LANES[n] as Lane;
    const s: LaneSpan = { lane, start: i, end: null, label };
    open[n] = s;
    spans.push(s);
  };
  const finish = (n: number, i: number) => {
    const s = open[n];
    if (s === undefined) return;
    s.end = i;
    open[n] = undefined;
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as EventLike;
    const kind = e.kind;
    // Most events open or close nothing; one comparison of the first letters sends them on.
    if (
      kind.charCodeAt(0) !== 0x6b /* k */ &&
      kind.charCodeAt(0) !== 0x74 /* t */ &&
      kind !== 'vm_state_notify'
    )
      continue;
    switch (kind) {
      case 'kvm_exit':
        begin(KVM_LANE, i, 'vCPU out of the guest: exit → re-entry');
        break;
      case 'kvm_run':
        finish(KVM_LANE, i);
        break;
      case 'vm_state_notify':
        if (field(e.data, 'running')) finish(VCPU_LANE, i);
        else begin(VCPU_LANE, i, `VM stopped (${String(field(e.data, 'reason'))})`);
        break;
      case 'tpm_backend_deliver_request':
        if (field(e.data, 'error') === undefined) begin(THREAD_LANE, i, 'request on the backend thread');
        break;
      case 'tpm_emulator_unix_tx_bufs':
        begin(TPM_LANE, i, 'TPM executing the command');
        break;
      case 'tpm_backend_worker_thread':
        finish(THREAD_LANE, i);
        finish(TPM_LANE, i);
        begin(BH_LANE, i, 'response waiting for the bottom half');
        break;
      case 'tpm_backend_request_completed':
        finish(BH_LANE, i);
        break;
    }
  }
  return spans;
}

/** The span of `spans` (one lane's, sorted by start) that covers event index i, if any. */
export function spanCovering(spans: readonly LaneSpan[], i: number): LaneSpan | undefined {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((spans[mid] as LaneSpan).start <= i) lo = mid + 1;
    else hi = mid;
  }
  const s = spans[lo - 1];
  return s && (s.end === null || s.end >= i) ? s : undefined;
}

// ---- rows ---------------------------------------------------------------------------------------------

/** An event row (its index in the events), or a marker row after `before` events. */
export type LaneRow =
  { type: 'event'; index: number } | { type: 'marker'; marker: LaneMarker; before: number };

/** Events in order with markers between them; row lookups in O(log markers), nothing per event. */
export interface LaneRows {
  count: number;
  at(row: number): LaneRow | undefined;
  /** The row an event is drawn on. */
  rowOfEvent(index: number): number;
  /** The row of each marker, in the order the markers were given. */
  markerRows: number[];
}

/** First index in [0, length] whose event satisfies `after` (false then true along the events). */
function firstIndex<E>(events: readonly E[], after: (e: E) => boolean): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (after(events[mid] as E)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Where a marker goes: before the event whose seq it names, or else after every event at or before its
 * time (a snapshot taken at t, after the pause at t; events the snapshot itself causes at t then come
 * before it, so a marker with a seq is better).
 */
function markerPosition(events: readonly { t: number; seq?: number }[], m: LaneMarker): number {
  const seq = m.seq;
  if (seq !== undefined && Number.isFinite(seq))
    return firstIndex(events, (e) => (e.seq ?? -Infinity) >= seq);
  return firstIndex(events, (e) => e.t > m.t);
}

export function laneRows(events: readonly { t: number }[], markers: readonly LaneMarker[]): LaneRows {
  const sorted = markers
    .map((marker, order) => ({ marker, order, before: markerPosition(events, marker) }))
    .sort((a, b) => a.before - b.before || a.marker.t - b.marker.t || a.order - b.order);
  // Row of marker k: the events before it plus the k markers before it.
  const markerRows = sorted.map((m, k) => m.before + k);
  const rowByGivenOrder: number[] = [];
  sorted.forEach((m, k) => (rowByGivenOrder[m.order] = markerRows[k] as number));
  const count = events.length + sorted.length;
  /** How many markers sit on rows before `row`. */
  const markersBefore = (row: number): number => {
    let lo = 0;
    let hi = markerRows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((markerRows[mid] as number) < row) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    count,
    markerRows: rowByGivenOrder,
    at(row) {
      if (!Number.isInteger(row) || row < 0 || row >= count) return undefined;
      const k = markersBefore(row);
      if (markerRows[k] === row) {
        const m = sorted[k] as { marker: LaneMarker; before: number };
        return { type: 'marker', marker: m.marker, before: m.before };
      }
      return { type: 'event', index: row - k };
    },
    rowOfEvent(index) {
      // Markers whose `before` is <= index sit above event `index`.
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((sorted[mid] as { before: number }).before <= index) lo = mid + 1;
        else hi = mid;
      }
      return index + lo;
    },
  };
}

/** The rows to render for a scroll position: those in view plus `overscan` either side. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8,
): { first: number; last: number } {
  if (count <= 0 || rowHeight <= 0) return { first: 0, last: -1 };
  const top = Math.max(0, Number.isFinite(scrollTop) ? scrollTop : 0);
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { first: Math.min(first, count - 1), last: Math.max(last, Math.min(first, count - 1)) };
}
