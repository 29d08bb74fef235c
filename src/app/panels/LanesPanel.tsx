import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { TraceEvent } from '../../core/kernel/trace';
import { Panel } from '../components/Panel';
import {
  LANES,
  describeEvent,
  formatLaneTime,
  laneOf,
  laneRows,
  laneSpans,
  visibleRange,
  type Lane,
  type LaneMarker,
  spanCovering,
  type LaneRows,
  type LaneSpan,
} from '../views/lanes';

export interface LanesPanelProps {
  events: TraceEvent[];
  markers: LaneMarker[];
}

const ROW_HEIGHT = 22;
const HEADER_HEIGHT = 22;
/** Height of the rows' viewport (below the sticky header). */
const VIEW_HEIGHT = 320;
/** Below this width the list scrolls sideways rather than squeeze each lane under ~9 characters. */
const MIN_LIST_WIDTH = '62rem';
const LANE_SHARE = 100 / LANES.length;

// Lane tints: the lanes are told apart by position and header; the tint only helps the eye follow one.
const LANE_TINT: Readonly<Record<Lane, string>> = {
  vCPU: 'bg-sky-100 text-sky-950 dark:bg-sky-900/60 dark:text-sky-50',
  KVM: 'bg-indigo-100 text-indigo-950 dark:bg-indigo-900/60 dark:text-indigo-50',
  'QEMU TIS': 'bg-teal-100 text-teal-950 dark:bg-teal-900/60 dark:text-teal-50',
  'backend thread': 'bg-amber-100 text-amber-950 dark:bg-amber-900/60 dark:text-amber-50',
  'main loop (bottom half)': 'bg-orange-100 text-orange-950 dark:bg-orange-900/60 dark:text-orange-50',
  'TPM worker': 'bg-violet-100 text-violet-950 dark:bg-violet-900/60 dark:text-violet-50',
  migration: 'bg-rose-100 text-rose-950 dark:bg-rose-900/60 dark:text-rose-50',
};

/** Each lane's busy spans, sorted by their first event (spans of one lane never overlap). */
function spansByLane(events: readonly TraceEvent[]): Map<Lane, LaneSpan[]> {
  const out = new Map<Lane, LaneSpan[]>(LANES.map((l) => [l, []]));
  for (const s of laneSpans(events)) out.get(s.lane)?.push(s);
  return out;
}

/** The trace as a sequence view: one column per thread of the real system, time running down. */
export function LanesPanel({ events, markers }: LanesPanelProps) {
  const rows = useMemo(() => laneRows(events, markers), [events, markers]);
  const spans = useMemo(() => spansByLane(events), [events]);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [follow, setFollow] = useState(true);

  // Follow the end of a growing trace, as `tail -f` does, until the reader scrolls up.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !follow) return;
    el.scrollTop = el.scrollHeight;
    setScrollTop(el.scrollTop);
  }, [rows.count, follow]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    // Only scrollTop is read: scrollHeight or clientHeight would force a layout of the whole list.
    const top = el.scrollTop;
    setScrollTop(top);
    const atEnd = top + VIEW_HEIGHT >= rows.count * ROW_HEIGHT - ROW_HEIGHT;
    if (atEnd !== follow) setFollow(atEnd);
  };

  /** Scrolls a row to the middle of the list and stops following the end. */
  const jumpTo = (row: number) => {
    const el = scroller.current;
    if (!el) return;
    setFollow(false);
    el.scrollTop = Math.max(0, row * ROW_HEIGHT - VIEW_HEIGHT / 2);
    setScrollTop(el.scrollTop);
  };

  const { first, last } = visibleRange(scrollTop, VIEW_HEIGHT, ROW_HEIGHT, rows.count);
  const visible: number[] = [];
  for (let r = first; r <= last; r++) visible.push(r);

  return (
    <Panel
      className="text-slate-900 dark:text-slate-100"
      title="Lanes"
      role="Every trace event on the lane of the thread that did it; bars show a vCPU out of the guest, a command on the TPM, a bottom half pending."
    >
      <div className="mb-1 flex items-center justify-between gap-2 text-xs text-slate-600 dark:text-slate-400">
        <span>
          {events.length.toLocaleString('en')} events
          {markers.length > 0 && `, ${markers.length} marker${markers.length === 1 ? '' : 's'}`}
        </span>
        <span className="flex flex-wrap items-center gap-1">
          {markers.slice(-4).map((m, i) => {
            const k = markers.length - Math.min(markers.length, 4) + i;
            return (
              <button
                key={k}
                type="button"
                onClick={() => jumpTo(rows.markerRows[k] ?? 0)}
                title={m.label}
                className="max-w-64 truncate rounded border border-rose-400 px-2 py-0.5 text-rose-900 hover:bg-rose-50 dark:text-rose-100 dark:hover:bg-rose-950"
              >
                <span aria-hidden="true">⚑ </span>Go to {m.label}
              </button>
            );
          })}
          <button
            type="button"
            aria-pressed={follow}
            onClick={() => setFollow(!follow)}
            className={
              'rounded border border-slate-300 px-2 py-0.5 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800 ' +
              (follow ? 'bg-slate-200 font-semibold dark:bg-slate-700' : '')
            }
          >
            {follow && <span aria-hidden="true">✓ </span>}Follow the end
          </button>
        </span>
      </div>
      <div
        ref={scroller}
        onScroll={onScroll}
        tabIndex={0}
        role="group"
        aria-label={`Trace lanes: ${LANES.join(', ')}`}
        className="relative overflow-auto rounded border border-slate-200 font-mono text-[11px] focus:outline-2 focus:outline-sky-600 dark:border-slate-700"
        // Containment: rows coming and going inside the list never send the browser to lay out the page.
        style={{ height: VIEW_HEIGHT + HEADER_HEIGHT, contain: 'strict' }}
      >
        {/* Lanes keep a readable width; a narrow panel scrolls sideways, the header with it. */}
        <div style={{ minWidth: MIN_LIST_WIDTH }}>
          <div
            className="sticky top-0 z-10 flex border-b border-slate-300 bg-white font-sans font-semibold dark:border-slate-600 dark:bg-slate-900"
            style={{ height: HEADER_HEIGHT }}
            aria-hidden="true"
          >
            <div className="w-24 shrink-0 px-1 leading-[22px]">time</div>
            <div className="flex flex-1">
              {LANES.map((lane) => (
                <div
                  key={lane}
                  className="min-w-0 flex-1 truncate px-1 text-center leading-[22px]"
                  title={lane}
                >
                  {lane}
                </div>
              ))}
            </div>
          </div>
          {rows.count === 0 ? (
            <p className="p-3 text-center font-sans text-xs text-slate-500">
              The trace is empty: nothing has run yet.
            </p>
          ) : (
            <div style={{ height: rows.count * ROW_HEIGHT, position: 'relative' }}>
              {visible.map((r) => (
                <LaneRowView key={r} row={r} rows={rows} events={events} spans={spans} />
              ))}
            </div>
          )}
        </div>
      </div>
    </Panel>
  );
}

function LaneRowView({
  row,
  rows,
  events,
  spans,
}: {
  row: number;
  rows: LaneRows;
  events: readonly TraceEvent[];
  spans: Map<Lane, LaneSpan[]>;
}) {
  const item = rows.at(row);
  const style = {
    position: 'absolute' as const,
    top: row * ROW_HEIGHT,
    height: ROW_HEIGHT,
    left: 0,
    right: 0,
  };
  if (!item) return null;
  if (item.type === 'marker') {
    return (
      <div
        style={style}
        className="flex items-center border-y-2 border-dashed border-rose-600 bg-rose-50 dark:bg-rose-950/50"
        data-marker={item.marker.label}
      >
        <span className="w-24 shrink-0 px-1 text-rose-900 dark:text-rose-100">
          {formatLaneTime(item.marker.t)}
        </span>
        <span className="font-sans font-semibold text-rose-900 dark:text-rose-100">
          <span aria-hidden="true">⚑ </span>
          {item.marker.label}
        </span>
      </div>
    );
  }
  const e = events[item.index] as TraceEvent;
  const lane = laneOf(e);
  const text = describeEvent(e);
  const isHazard = e.source === 'hazard';
  const laneIdx = lane === null ? -1 : LANES.indexOf(lane);
  return (
    <div style={style} className="flex border-b border-slate-100 dark:border-slate-800" data-seq={e.seq}>
      <span className="w-24 shrink-0 px-1 leading-[22px] text-slate-500 dark:text-slate-400">
        {formatLaneTime(e.t)}
      </span>
      <div className="relative flex-1">
        {LANES.map((l, i) => {
          const s = spanCovering(spans.get(l) ?? [], item.index);
          return s ? (
            <span
              key={l}
              title={s.label}
              className={
                'absolute top-0 bottom-0 w-1 ' +
                (s.end === null
                  ? 'bg-[repeating-linear-gradient(0deg,#b45309_0_3px,transparent_3px_6px)]'
                  : 'bg-slate-400 dark:bg-slate-500')
              }
              style={{ left: `calc(${i * LANE_SHARE}% + 1px)` }}
            />
          ) : null;
        })}
        <span
          title={`${e.source} ${e.kind} ${JSON.stringify(e.data)}`}
          className={
            'absolute top-[2px] bottom-[2px] truncate rounded px-1 leading-[18px] ' +
            (lane === null
              ? 'bg-slate-100 italic text-slate-700 dark:bg-slate-800 dark:text-slate-200 '
              : LANE_TINT[lane] + ' ') +
            (isHazard ? 'border-2 border-red-700 font-bold dark:border-red-400' : '')
          }
          style={
            laneIdx < 0
              ? { left: 0, right: 0 }
              : { left: `calc(${laneIdx * LANE_SHARE}% + 6px)`, width: `calc(${LANE_SHARE}% - 8px)` }
          }
        >
          {text}
        </span>
      </div>
    </div>
  );
}
