import { formatNs } from '../core/kernel';
import { EmptyState, Panel } from './components/Panel';
import { ThemeSwitcher } from './components/ThemeSwitcher';
import { TpmStatus } from './components/TpmStatus';
import { PANELS } from './panels';
import { useAppliedTheme } from './useAppliedTheme';

export function App() {
  useAppliedTheme();
  return (
    <div className="min-h-screen bg-slate-100 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center justify-between gap-3 px-4 py-3">
          <div>
            <h1 className="text-xl font-bold tracking-tight">TIS Lab</h1>
            <p className="text-sm text-slate-600 dark:text-slate-400">
              A virtual TPM behind QEMU’s TIS interface: pause, snapshot and migrate mid-transaction.
            </p>
          </div>
          <ThemeSwitcher />
        </div>
      </header>
      <main className="mx-auto max-w-7xl space-y-4 px-4 py-4">
        <section
          aria-label="Controls"
          className="flex flex-wrap items-center gap-4 rounded-lg border border-slate-200 bg-white px-4 py-3 text-sm dark:border-slate-700 dark:bg-slate-900"
        >
          <span className="font-mono" aria-label="Virtual time">
            t = {formatNs(0)}
          </span>
          <span className="text-slate-600 dark:text-slate-400">No machine loaded.</span>
        </section>
        <div className="grid grid-cols-1 gap-4 md:grid-cols-2 lg:grid-cols-4">
          {PANELS.map((p) => (
            <Panel key={p.title} title={p.title} role={p.role} className={p.area}>
              {p.title === 'Backend and TPM' ? <TpmStatus /> : <EmptyState>{p.empty}</EmptyState>}
            </Panel>
          ))}
        </div>
      </main>
    </div>
  );
}
