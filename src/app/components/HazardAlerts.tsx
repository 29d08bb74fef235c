import { formatNs } from '../../core/kernel/clock';
import { useSim } from '../store';

/** Each hazard the machine detected: what it is, what happened, and where the source was cut. */
export function HazardAlerts() {
  const hazards = useSim((s) => s.view?.machine?.hazards ?? null);
  if (!hazards || hazards.length === 0) return null;
  return (
    <div className="space-y-2">
      {hazards.map((h, i) => (
        <div
          key={i}
          role="alert"
          className="rounded-lg border-4 border-red-600 bg-red-50 px-4 py-3 text-red-950 dark:bg-red-950 dark:text-red-50"
        >
          <p className="text-lg font-bold">
            ⚠ {h.title} <span className="font-mono text-sm font-normal">at t = {formatNs(h.atNs)}</span>
          </p>
          <p className="mt-1">{h.detail}.</p>
          <p className="mt-1 text-sm">
            <span className="font-semibold">Cut:</span> {h.cut.description}.
          </p>
        </div>
      ))}
    </div>
  );
}
