import { useSim } from '../store';
import { EmptyState } from './Panel';

/**
 * What the guest printed, dmesg-style, the newest line in view: the scroll box is a reversed flex column,
 * so the browser keeps it at the bottom without a script forcing a layout on every new line.
 */
export function GuestConsole() {
  const lines = useSim((s) => s.view?.machine?.console ?? null);
  if (!lines || lines.length === 0) return <EmptyState>The guest has printed nothing.</EmptyState>;
  return (
    <div className="flex max-h-96 flex-col-reverse overflow-auto rounded bg-slate-950 p-3">
      <pre
        role="log"
        aria-label="Guest output"
        className="font-mono text-xs leading-relaxed whitespace-pre-wrap break-words text-slate-100"
      >
        {lines.map((l, i) => {
          const bad = /error|timed out|failed/i.test(l);
          return (
            <div key={i} className={bad ? 'font-semibold text-red-300' : undefined}>
              {bad ? '✖ ' : ''}
              {l}
            </div>
          );
        })}
      </pre>
    </div>
  );
}
