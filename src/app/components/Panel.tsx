import type { ReactNode } from 'react';

interface PanelProps {
  /** The accessible name of the region; also its visible heading. */
  title: string;
  /** What this panel shows in the story of a TPM transaction. */
  role: string;
  className?: string;
  children?: ReactNode;
}

/** A labelled region (an ARIA landmark) for one noun of the story: vCPU, TIS registers, FIFO, ...
 * Scrolled to (focus, a link), it stops below the sticky control bar (scroll-mt). */
export function Panel({ title, role, className = '', children }: PanelProps) {
  const headingId = `panel-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section
      aria-labelledby={headingId}
      className={
        'flex min-h-40 flex-col [@media(min-height:800px)]:scroll-mt-32 rounded-lg [contain:content] [content-visibility:auto] [contain-intrinsic-size:auto_500px] border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-700 dark:bg-slate-900 ' +
        className
      }
    >
      <h2 id={headingId} className="text-base font-semibold text-slate-900 dark:text-slate-100">
        {title}
      </h2>
      <p className="mt-1 text-sm text-slate-600 dark:text-slate-400">{role}</p>
      <div className="mt-3 flex flex-1 flex-col">{children}</div>
    </section>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return (
    <p className="m-auto rounded border border-dashed border-slate-300 px-3 py-2 text-center text-xs text-slate-500 dark:border-slate-600 dark:text-slate-400">
      {children}
    </p>
  );
}
