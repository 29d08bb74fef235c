import { useMemo, useState } from 'react';
import { Panel } from '../components/Panel';
import { alignBytes, type AlignedCell, type AlignKind } from '../views/guest-align';

export interface GuestViewPanelProps {
  /** The response bytes the guest driver has received. */
  received: number[];
  /** The response bytes the TPM sent. */
  truth: number[];
  /** The driver's error message (e.g. "tpm_transmit: tpm_recv: error -5"), or null. */
  error: string | null;
}

const CELLS_PER_ROW = 16;

// Each kind has a word and a pattern, not only a colour: the page is shown on projectors.
const MARKS: Readonly<Record<AlignKind, { mark: string; word: string; cls: string }>> = {
  same: { mark: '', word: 'same', cls: '' },
  unread: {
    mark: '',
    word: 'not read yet',
    cls: 'border border-dashed border-slate-400 text-slate-400 dark:border-slate-500 dark:text-slate-500',
  },
  missing: {
    mark: '✕',
    word: 'missing',
    cls: 'border-2 border-dashed border-red-700 bg-[repeating-linear-gradient(135deg,rgba(220,38,38,0.15)_0_2px,transparent_2px_6px)] text-red-900 dark:border-red-400 dark:text-red-100',
  },
  duplicated: {
    mark: '×2',
    word: 'duplicated',
    cls: 'border-4 border-double border-violet-700 bg-violet-100 dark:border-violet-300 dark:bg-violet-900/60',
  },
  changed: {
    mark: '≠',
    word: 'changed',
    cls: 'border-2 border-orange-700 bg-orange-100 font-bold dark:border-orange-300 dark:bg-orange-900/60',
  },
  extra: {
    mark: '+',
    word: 'extra',
    cls: 'border-2 border-dotted border-amber-700 bg-amber-100 dark:border-amber-300 dark:bg-amber-900/60',
  },
  trailing: {
    mark: '…+',
    word: 'trailing',
    cls: 'border-2 border-dotted border-amber-700 bg-[radial-gradient(circle,rgba(180,83,9,0.35)_1px,transparent_1.5px)] bg-[length:5px_5px] dark:border-amber-300',
  },
};

const hexByte = (v: number | null) => (v === null ? '' : v.toString(16).padStart(2, '0'));

/** The guest's bytes beside the TPM's, aligned, with what went missing, twice or past the end marked. */
export function GuestViewPanel({ received, truth, error }: GuestViewPanelProps) {
  const alignment = useMemo(() => alignBytes(received, truth), [received, truth]);
  const [showAll, setShowAll] = useState(false);
  const rows = useMemo(() => {
    const out: AlignedCell[][] = [];
    for (let i = 0; i < alignment.cells.length; i += CELLS_PER_ROW)
      out.push(alignment.cells.slice(i, i + CELLS_PER_ROW));
    return out;
  }, [alignment]);
  // Long responses: rows far from any difference fold into one line unless the reader asks for all.
  // A row is worth showing when it has a difference or the point the guest has read up to.
  const differs = rows.map(
    (r) =>
      r.some((c) => c.kind !== 'same' && c.kind !== 'unread') ||
      (r.some((c) => c.kind === 'unread') && r.some((c) => c.kind !== 'unread')),
  );
  const keep = rows.map(
    (_, i) => showAll || differs.length <= 6 || differs[i - 1] || differs[i] || differs[i + 1] || i === 0,
  );
  const kindsPresent = (Object.keys(MARKS) as AlignKind[]).filter(
    (k) => k !== 'same' && alignment.counts[k] > 0,
  );

  return (
    <Panel
      className="text-slate-900 dark:text-slate-100"
      title="Guest view"
      role="What the guest driver received beside what the TPM sent, aligned byte by byte."
    >
      {error && (
        <p className="mb-2 rounded border-l-4 border-red-700 bg-red-50 px-2 py-1 font-mono text-sm text-red-900 dark:border-red-400 dark:bg-red-950/50 dark:text-red-100">
          <span className="font-sans font-semibold">Driver error: </span>
          {error}
        </p>
      )}
      <p className="mb-2 text-sm" data-testid="guest-view-summary">
        {received.length === 0 && truth.length === 0 ? 'No response yet.' : alignment.summary}
      </p>
      {kindsPresent.length > 0 && (
        <ul className="mb-2 flex flex-wrap gap-2 text-xs" aria-label="Legend">
          {kindsPresent.map((k) => (
            <li key={k} className="flex items-center gap-1">
              <span
                className={'inline-block min-w-[2.2em] rounded px-1 text-center font-mono ' + MARKS[k].cls}
              >
                {MARKS[k].mark}
              </span>
              {MARKS[k].word} ({alignment.counts[k]})
            </li>
          ))}
        </ul>
      )}
      <div className="overflow-x-auto">
        {rows.map((row, i) => {
          if (!keep[i]) {
            if (keep[i - 1] === false) return null;
            let j = i;
            while (j < rows.length && !keep[j]) j++;
            const folded = rows.slice(i, j).flat();
            const what = folded.every((c) => c.kind === 'unread')
              ? 'not read yet'
              : folded.every((c) => c.kind === 'same')
                ? 'the same'
                : 'without differences';
            return (
              <p key={i} className="my-1 text-xs text-slate-500 dark:text-slate-400">
                … {j - i} row{j - i === 1 ? '' : 's'} {what} …{' '}
                <button type="button" className="underline" onClick={() => setShowAll(true)}>
                  Show all bytes
                </button>
              </p>
            );
          }
          return <AlignedRow key={i} cells={row} />;
        })}
      </div>
    </Panel>
  );
}

function AlignedRow({ cells }: { cells: AlignedCell[] }) {
  const firstTruth = cells.find((c) => c.truthIndex !== null)?.truthIndex;
  return (
    <table className="mb-1 border-separate border-spacing-0.5 font-mono text-xs">
      <tbody>
        <tr>
          <th
            scope="row"
            className="w-28 pr-1 text-left whitespace-nowrap font-sans font-normal text-slate-600 dark:text-slate-400"
          >
            TPM sent{firstTruth !== undefined && <span className="text-slate-400"> @{firstTruth}</span>}
          </th>
          {cells.map((c, i) => (
            <td
              key={i}
              className={'h-6 w-7 rounded text-center ' + (c.truth === null ? 'text-slate-400' : '')}
            >
              {c.truth === null ? '·' : hexByte(c.truth)}
            </td>
          ))}
        </tr>
        <tr>
          <th scope="row" className="pr-1 text-left font-sans font-normal text-slate-600 dark:text-slate-400">
            guest got
          </th>
          {cells.map((c, i) => (
            <td
              key={i}
              data-kind={c.kind}
              title={c.kind === 'same' ? undefined : MARKS[c.kind].word}
              className={'h-6 w-7 rounded text-center ' + MARKS[c.kind].cls}
            >
              {c.kind === 'unread' ? (
                ''
              ) : c.received === null ? (
                <span className="font-bold">--</span>
              ) : (
                hexByte(c.received)
              )}
            </td>
          ))}
        </tr>
        <tr aria-hidden={cells.every((c) => c.kind === 'same' || c.kind === 'unread') ? true : undefined}>
          <th scope="row" className="sr-only">
            difference
          </th>
          {cells.map((c, i) => (
            <td key={i} className="text-center font-sans text-[10px] font-bold leading-none">
              {c.kind === 'same' ? '' : MARKS[c.kind].mark}
              {c.kind !== 'same' && c.kind !== 'unread' && (
                <span className="sr-only"> {MARKS[c.kind].word}</span>
              )}
            </td>
          ))}
        </tr>
      </tbody>
    </table>
  );
}
