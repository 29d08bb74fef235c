import { tisMachine } from '../../core/tis';
import { Panel } from '../components/Panel';
import {
  chartOfMachine,
  leafName,
  normaliseActive,
  pathOfId,
  type ChartRegion,
  type ChartState,
  type ChartTransition,
  type LastTransition,
} from '../views/state-chart';

export interface StateChartPanelProps {
  /** Active states as XState gives them: ids ("tis.cmd0.reception") or paths ("cmd0.reception"). */
  active: string[];
  lastTransition: LastTransition | null;
}

// Walked once: the definition does not change while the page runs.
const CHART = chartOfMachine(tisMachine);

const REGION_NOTES: Readonly<Record<string, string>> = {
  locality: 'active locality',
  abort: 'deferred abort',
  registers: 'register file',
};

const regionNote = (key: string): string =>
  REGION_NOTES[key] ?? (/^cmd\d$/.test(key) ? `locality ${key.slice(3)} command` : '');

/** The TIS XState machine drawn from its definition: regions side by side, active states lit. */
export function StateChartPanel({ active, lastTransition }: StateChartPanelProps) {
  const lit = normaliseActive(active, CHART.machineId);
  const last = lastTransition && {
    ...lastTransition,
    from: pathOfId(lastTransition.from, CHART.machineId),
    to: pathOfId(lastTransition.to, CHART.machineId),
  };
  return (
    <Panel
      className="text-slate-900 dark:text-slate-100"
      title="State chart"
      role="QEMU’s TIS as an XState machine, drawn from its definition: parallel regions, the active state of each lit."
    >
      <p className="mb-2 text-xs text-slate-700 dark:text-slate-300" data-testid="last-transition">
        {last ? (
          <>
            <span aria-hidden="true">◆ </span>Last transition: <code className="font-mono">{last.from}</code>{' '}
            → <code className="font-mono">{last.to}</code> on <code className="font-mono">{last.event}</code>
          </>
        ) : (
          'No transition yet.'
        )}
      </p>
      <div
        className="grid gap-2"
        style={{ gridTemplateColumns: 'repeat(auto-fill, minmax(8.5rem, 1fr))' }}
        role="list"
        aria-label="Regions"
      >
        {CHART.regions.map((region) => (
          <RegionColumn key={region.path} region={region} lit={lit} last={last} />
        ))}
      </div>
    </Panel>
  );
}

function RegionColumn({
  region,
  lit,
  last,
}: {
  region: ChartRegion;
  lit: Set<string>;
  last: LastTransition | null;
}) {
  const activeLeaf = region.states.find((s) => lit.has(s.path));
  return (
    <div
      role="listitem"
      aria-label={`Region ${region.key}${activeLeaf ? `, in ${activeLeaf.key}` : ''}`}
      className="flex flex-col gap-1 rounded border border-slate-200 bg-slate-50 p-1.5 dark:border-slate-700 dark:bg-slate-800/50"
    >
      <div className="flex items-baseline justify-between gap-1">
        <h3 className="font-mono text-xs font-semibold">{region.key}</h3>
        <span className="truncate text-[10px] text-slate-500 dark:text-slate-400">
          {regionNote(region.key)}
        </span>
      </div>
      {region.transitions.length > 0 && (
        <ul className="text-[10px] text-slate-500 dark:text-slate-400">
          {region.transitions.map((t, i) => (
            <TransitionLine key={i} t={t} fromPath={null} last={null} prefix="any state " />
          ))}
        </ul>
      )}
      {region.states.map((s) => (
        <StateBox key={s.path} state={s} lit={lit} last={last} />
      ))}
    </div>
  );
}

function StateBox({
  state,
  lit,
  last,
}: {
  state: ChartState;
  lit: Set<string>;
  last: LastTransition | null;
}) {
  const isActive = lit.has(state.path);
  const isFrom = last?.from === state.path;
  const isTo = last?.to === state.path;
  const marks = [
    isActive ? 'active' : null,
    isFrom ? 'left by the last transition' : null,
    isTo ? 'entered by the last transition' : null,
  ]
    .filter(Boolean)
    .join(', ');
  return (
    <div
      data-state={state.path}
      data-active={isActive ? 'true' : undefined}
      aria-current={isActive ? 'true' : undefined}
      aria-label={`${state.key}${marks ? ` (${marks})` : ''}`}
      className={
        'rounded border px-1.5 py-1 ' +
        (isActive
          ? 'border-2 border-emerald-700 bg-emerald-100 text-emerald-950 dark:border-emerald-400 dark:bg-emerald-900/60 dark:text-emerald-50 '
          : 'border-slate-300 bg-white dark:border-slate-600 dark:bg-slate-900 ') +
        (isFrom ? 'outline-2 outline-offset-1 outline-dashed outline-amber-600 ' : '') +
        (isTo ? 'outline-2 outline-offset-1 outline-amber-600 ' : '')
      }
    >
      <div className="flex items-center justify-between gap-1">
        <span className={'font-mono text-xs ' + (isActive ? 'font-bold' : '')}>
          {isActive && <span aria-hidden="true">● </span>}
          {state.key}
          {state.isInitial && (
            <span
              className="ml-1 text-[10px] font-normal text-slate-500 dark:text-slate-400"
              title="initial state"
            >
              (initial)
            </span>
          )}
        </span>
        {(isFrom || isTo) && (
          <span
            className="rounded bg-amber-200 px-1 text-[10px] font-semibold whitespace-nowrap text-amber-950"
            aria-hidden="true"
          >
            {isFrom && isTo ? '◆ ↺' : isFrom ? '◆ from' : '◆ to'}
          </span>
        )}
      </div>
      {state.transitions.length > 0 && (
        <ul className="mt-0.5 space-y-0.5">
          {state.transitions.map((t, i) => (
            <TransitionLine key={i} t={t} fromPath={state.path} last={last} prefix="" />
          ))}
        </ul>
      )}
    </div>
  );
}

function TransitionLine({
  t,
  fromPath,
  last,
  prefix,
}: {
  t: ChartTransition;
  fromPath: string | null;
  last: LastTransition | null;
  prefix: string;
}) {
  const isLast =
    last !== null && fromPath === last.from && t.targets.includes(last.to) && t.events.includes(last.event);
  const targets = t.targets.length === 0 ? '↺ stays' : `→ ${t.targets.map(leafName).join(' | ')}`;
  return (
    <li
      className={
        'text-[10px] leading-tight ' +
        (isLast
          ? 'rounded bg-amber-200 px-0.5 font-semibold text-amber-950'
          : 'text-slate-600 dark:text-slate-400')
      }
      title={t.guard ? `guard: ${t.guard}` : undefined}
      data-last={isLast ? 'true' : undefined}
    >
      {isLast && <span aria-label="last transition">◆ </span>}
      {prefix}
      <span className="font-mono">{t.events.join(', ')}</span> {targets}
    </li>
  );
}
