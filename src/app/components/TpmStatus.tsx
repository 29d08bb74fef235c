import { useTpmProbe } from '../tpm/useTpmProbe';

const SEED = 'tislab';

/** The TPM engine, alive in its Web Worker: identity and a GetRandom answer. */
export function TpmStatus() {
  const state = useTpmProbe(SEED);
  if (state.status === 'starting') {
    return <p className="text-sm text-slate-600 dark:text-slate-400">Starting the TPM worker…</p>;
  }
  if (state.status === 'failed') {
    return (
      <p role="alert" className="text-sm text-red-700 dark:text-red-400">
        The TPM worker did not answer: {state.message}. Reload the page to try again.
      </p>
    );
  }
  const { probe } = state;
  return (
    <dl aria-label="TPM engine" className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
      <dt className="text-slate-500 dark:text-slate-400">Engine</dt>
      <dd>
        TPM 2.0 in a Web Worker: <span className="font-medium">ready</span>
      </dd>
      <dt className="text-slate-500 dark:text-slate-400">Vendor</dt>
      <dd>
        {probe.manufacturer} · {probe.vendor}
      </dd>
      <dt className="text-slate-500 dark:text-slate-400">Seed</dt>
      <dd className="font-mono">{SEED}</dd>
      <dt className="text-slate-500 dark:text-slate-400">GetRandom(8)</dt>
      <dd className="font-mono break-all" aria-label="GetRandom answer">
        {probe.randomHex}
      </dd>
    </dl>
  );
}
