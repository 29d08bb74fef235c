import { SCENARIOS } from '../../core/scenarios/presets';
import { useSim } from '../store';

/** The two built-in scenarios: a button each, what it shows, and what to do once it has set up. */
export function ScenarioPicker() {
  const send = useSim((s) => s.send);
  const current = useSim((s) => s.view?.scenarioId ?? null);
  const ready = useSim((s) => !!s.view?.ready && s.view.busy === null);
  return (
    <section
      aria-label="Scenarios"
      className="grid gap-3 rounded-lg border border-slate-200 bg-white p-4 md:grid-cols-2 dark:border-slate-700 dark:bg-slate-900"
    >
      {SCENARIOS.map((s) => {
        const active = current === s.id;
        return (
          <article
            key={s.id}
            className={
              'rounded-md border p-3 ' +
              (active ? 'border-2 border-teal-600' : 'border-slate-200 dark:border-slate-700')
            }
          >
            <button
              type="button"
              disabled={!ready}
              onClick={() => send({ type: 'loadScenario', id: s.id })}
              className="rounded-md bg-indigo-700 px-3 py-1.5 text-left font-semibold text-white hover:bg-indigo-800 disabled:opacity-50 dark:bg-indigo-500 dark:text-slate-950"
            >
              {s.title}
            </button>
            <p className="mt-2 text-sm text-slate-700 dark:text-slate-300">{s.summary}</p>
            {active && (
              <ol className="mt-2 list-decimal space-y-1 pl-5 text-sm font-medium">
                {s.instructions.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ol>
            )}
          </article>
        );
      })}
    </section>
  );
}
