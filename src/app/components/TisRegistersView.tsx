import { memo, useMemo } from 'react';
import type { TisDetail } from '../../core/vm/machine-details';
import { decodeRegister, hex, TIS_REGISTER_SPECS } from '../tis-bits';
import { useSim } from '../store';
import { useThrottledAtFullSpeed } from '../sim/useThrottled';
import { EmptyState } from './Panel';

/** Five localities, each register with its bits named; bits changed by the last step are marked. */
export function TisRegistersView() {
  const latest = useSim((s) => s.view?.tis ?? null);
  const before = useSim((s) => s.previousTis);
  // Throttled as a pair, so the marks still compare the registers shown with the view before them.
  const pair = useMemo(() => ({ tis: latest, previous: before }), [latest, before]);
  const { tis, previous } = useThrottledAtFullSpeed(pair);
  if (!tis) return <EmptyState>No TIS device yet.</EmptyState>;
  return (
    <div className="space-y-2">
      <p className="text-sm">
        Active locality:{' '}
        <span className="font-mono font-semibold">
          {tis.activeLocality === 0xff ? 'none' : tis.activeLocality}
        </span>{' '}
        · rw_offset <span className="font-mono font-semibold">{tis.rwOffset}</span> · IRQ{' '}
        {tis.irqLevel ? 'raised' : 'low'}
        <span className="ml-3 text-xs text-slate-500 dark:text-slate-400">
          <span className="rounded bg-amber-200 px-1 text-amber-950 underline decoration-2">name*</span> =
          changed by the last step
        </span>
      </p>
      <div className="grid gap-2 xl:grid-cols-2">
        {tis.localities.map((l, i) => (
          <LocalityCard
            key={i}
            index={i}
            locality={l}
            before={previous?.localities[i] ?? null}
            active={tis.activeLocality === i}
          />
        ))}
      </div>
    </div>
  );
}

type Locality = TisDetail['localities'][number];

/** One locality's registers; redrawn only when they (or the step's previous values) change. */
const LocalityCard = memo(function LocalityCard({
  index: i,
  locality: l,
  before,
  active,
}: {
  index: number;
  locality: Locality;
  before: Locality | null;
  active: boolean;
}) {
  return (
    <section
      key={i}
      aria-label={`Locality ${i}`}
      className={
        'rounded border p-2 text-xs ' +
        (active ? 'border-teal-600 border-2' : 'border-slate-200 dark:border-slate-700')
      }
    >
      <h3 className="mb-1 text-sm font-semibold">
        Locality {i} {active && <span className="text-teal-700 dark:text-teal-400">(active)</span>} ·{' '}
        <span className="font-mono">{l.state}</span>
        {before && before.state !== l.state && (
          <span className="ml-1 text-amber-700">* was {before.state}</span>
        )}
      </h3>
      {TIS_REGISTER_SPECS.map((spec) => {
        const value = l[spec.key];
        const fields = decodeRegister(spec, value, before ? before[spec.key] : null);
        return (
          <div key={spec.name} className="flex flex-wrap items-baseline gap-1 py-0.5">
            <span className="w-24 shrink-0 font-semibold">{spec.name}</span>
            <span className="w-20 shrink-0 font-mono">{hex(value, spec.key === 'access' ? 2 : 8)}</span>
            {fields.map((f) => {
              const set = f.value !== 0;
              return (
                <span
                  key={f.name}
                  title={`bit${f.bits.includes('–') ? 's' : ''} ${f.bits}`}
                  data-changed={f.changed || undefined}
                  className={
                    'rounded px-1 font-mono ' +
                    (f.changed
                      ? 'bg-amber-200 text-amber-950 underline decoration-2 '
                      : set
                        ? 'bg-slate-200 text-slate-900 dark:bg-slate-700 dark:text-slate-100 '
                        : 'text-slate-400 dark:text-slate-500 ') +
                    (set ? 'font-semibold' : '')
                  }
                >
                  {f.name}
                  {f.bits.includes('–') ? `=${f.value}` : set ? '=1' : '=0'}
                  {f.changed ? '*' : ''}
                </span>
              );
            })}
          </div>
        );
      })}
    </section>
  );
}, sameCard);

function sameLocality(a: Locality | null, b: Locality | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.state === b.state && a.access === b.access && a.sts === b.sts && a.inte === b.inte && a.ints === b.ints
  );
}

function sameCard(
  a: { index: number; locality: Locality; before: Locality | null; active: boolean },
  b: { index: number; locality: Locality; before: Locality | null; active: boolean },
): boolean {
  return (
    a.index === b.index &&
    a.active === b.active &&
    sameLocality(a.locality, b.locality) &&
    sameLocality(a.before, b.before)
  );
}
