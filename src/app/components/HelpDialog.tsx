import { useEffect, useRef } from 'react';
import { SHORTCUTS } from '../useShortcuts';

/** The keyboard shortcuts, in a modal dialog (Escape or the button closes it). */
export function HelpDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby="help-title"
      onClose={onClose}
      className="m-auto rounded-lg border border-slate-300 bg-white p-6 text-slate-900 shadow-xl backdrop:bg-slate-950/50 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
    >
      <h2 id="help-title" className="text-lg font-semibold">
        Keyboard shortcuts
      </h2>
      <table className="mt-3 text-sm">
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}>
              <td className="py-1 pr-6">
                <kbd className="rounded border border-slate-300 px-2 py-0.5 font-mono dark:border-slate-600">
                  {s.keys}
                </kbd>
              </td>
              <td className="py-1">{s.action}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button
        type="button"
        onClick={onClose}
        className="mt-4 rounded bg-teal-700 px-3 py-1.5 text-sm text-white dark:bg-teal-500 dark:text-slate-950"
      >
        Close
      </button>
    </dialog>
  );
}
