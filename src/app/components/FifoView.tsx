import { memo } from 'react';
import { useSim } from '../store';
import { useThrottledAtFullSpeed } from '../sim/useThrottled';
import { EmptyState } from './Panel';

const ROW = 16;

const REGION_CLASS = {
  command: 'bg-sky-100 text-sky-950 dark:bg-sky-900 dark:text-sky-50',
  response: 'bg-emerald-100 text-emerald-950 dark:bg-emerald-900 dark:text-emerald-50',
} as const;

/** A row's bytes as hex pairs; a string, so a row whose bytes did not change compares equal. */
function rowHex(buffer: Uint8Array, start: number): string {
  let out = '';
  for (let i = start; i < Math.min(buffer.length, start + ROW); i++)
    out += (buffer[i] ?? 0).toString(16).padStart(2, '0');
  return out;
}

interface RowProps {
  start: number;
  hex: string;
  regionLength: number;
  regionKind: 'command' | 'response' | 'none';
  rwOffset: number;
}

/** One row of 16 bytes. Redrawn when its bytes, the region or the cursor's position in it change. */
const FifoRow = memo(
  function FifoRow({ start, hex, regionLength, regionKind, rwOffset }: RowProps) {
    const regionClass = REGION_CLASS[regionKind === 'command' ? 'command' : 'response'];
    return (
      <tr>
        <th scope="row" className="pr-2 text-right font-normal text-slate-400">
          {start.toString(16).padStart(3, '0')}
        </th>
        {Array.from({ length: ROW }, (_, c) => {
          const i = start + c;
          if (2 * c >= hex.length) return <td key={c} />;
          const inRegion = i < regionLength;
          const cursor = i === rwOffset;
          return (
            <td
              key={c}
              data-offset={i}
              aria-current={cursor ? 'location' : undefined}
              title={cursor ? `rw_offset ${i}` : `offset ${i}`}
              className={
                'relative px-0.5 text-center ' +
                (inRegion ? regionClass : 'text-slate-400 dark:text-slate-500') +
                (cursor ? ' outline-3 outline-offset-[-1px] outline-red-600 font-bold' : '') +
                (inRegion && i < rwOffset && regionKind === 'response' ? ' opacity-60' : '')
              }
            >
              {hex.slice(2 * c, 2 * c + 2)}
              {cursor && (
                <span className="absolute -bottom-3 left-1/2 -translate-x-1/2 text-[10px] text-red-600">
                  ▲
                </span>
              )}
            </td>
          );
        })}
      </tr>
    );
  },
  (a, b) => {
    const end = a.start + ROW;
    const cursorIn = (p: RowProps) => (p.rwOffset >= p.start && p.rwOffset < end ? p.rwOffset : -1);
    // Fading marks the read part of a response: a row changes when rw_offset crosses it.
    const readUpTo = (p: RowProps) => Math.max(p.start, Math.min(end, p.rwOffset));
    return (
      a.start === b.start &&
      a.hex === b.hex &&
      a.regionKind === b.regionKind &&
      Math.min(end, Math.max(a.start, a.regionLength)) === Math.min(end, Math.max(b.start, b.regionLength)) &&
      cursorIn(a) === cursorIn(b) &&
      readUpTo(a) === readUpTo(b)
    );
  },
);

/** The shared buffer in hex: the command or response region marked, the rw_offset cursor on its byte. */
export function FifoView() {
  const tis = useThrottledAtFullSpeed(useSim((s) => s.view?.tis ?? null));
  if (!tis) return <EmptyState>The buffer is empty.</EmptyState>;
  const { buffer, rwOffset, region } = tis;
  const regionLength = region.kind === 'none' ? 0 : region.length;
  const rows = Math.ceil(buffer.length / ROW);
  const regionClass = REGION_CLASS[region.kind === 'command' ? 'command' : 'response'];
  return (
    <div className="space-y-2">
      <p className="text-sm">
        {region.kind === 'none' ? (
          'No command or response in the buffer.'
        ) : (
          <>
            <span className={`rounded px-1 ${regionClass}`}>
              {region.kind === 'command' ? 'Command' : 'Response'}: {region.length} bytes
            </span>{' '}
            (bytes 0–{region.length - 1})
          </>
        )}{' '}
        · <span className="font-mono font-semibold">rw_offset = {rwOffset}</span> (boxed ▲)
      </p>
      <div className="max-h-80 overflow-auto">
        <table className="font-mono text-xs" aria-label="Shared buffer">
          <tbody>
            {Array.from({ length: rows }, (_, r) => (
              <FifoRow
                key={r}
                start={r * ROW}
                hex={rowHex(buffer, r * ROW)}
                regionLength={regionLength}
                regionKind={region.kind}
                rwOffset={rwOffset}
              />
            ))}
          </tbody>
        </table>
      </div>
      <p className="text-xs text-slate-500 dark:text-slate-400">
        Response bytes before rw_offset have been read by the device (faded). Only the first {buffer.length}{' '}
        of 4096 bytes are shown.
      </p>
    </div>
  );
}
