import { useEffect, useRef } from 'react';
import { useSim } from '../store';
import { EmptyState } from './Panel';

/** What the guest printed, dmesg-style, scrolled to the newest line. */
export function GuestConsole() {
  const lines = useSim((s) => s.view?.machine?.console ?? null);
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);
  if (!lines || lines.length === 0) return <EmptyState>The guest has printed nothing.</EmptyState>;
  return (
    <pre
      ref={ref}
      role="log"
      aria-label="Guest output"
      className="max-h-72 overflow-auto rounded bg-slate-950 p-3 font-mono text-xs leading-relaxed whitespace-pre-wrap break-all text-slate-100"
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
  );
}
