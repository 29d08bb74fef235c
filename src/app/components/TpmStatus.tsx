import type { TpmNvramStatus } from '../../core/backend/tpm-messages';
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
  const { probe, nvram } = state;
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
      <dt className="text-slate-500 dark:text-slate-400">NVRAM</dt>
      <dd aria-label="TPM NVRAM">{nvramWords(nvram)}</dd>
      <dt className="text-slate-500 dark:text-slate-400">TPM resets</dt>
      <dd
        aria-label="TPM resets"
        title="TPM2_ReadClock's resetCount: one more per page load, kept across reloads when the NVRAM is in IndexedDB"
      >
        {probe.resetCount}
      </dd>
      <dt className="text-slate-500 dark:text-slate-400">GetRandom(8)</dt>
      <dd className="font-mono break-all" aria-label="GetRandom answer">
        {probe.randomHex}
      </dd>
    </dl>
  );
}

/** Where the TPM's permanent state lives, in words. */
function nvramWords(nvram: TpmNvramStatus | undefined): string {
  if (nvram === undefined) return 'not reported';
  if (nvram.kind === 'memory') {
    return nvram.fallback ? `in memory only (${nvram.fallback})` : 'in memory only';
  }
  const torn = nvram.tornWrites?.length ? `; recovered from ${nvram.tornWrites.length} torn write(s)` : '';
  return `IndexedDB drive “${nvram.name}”: the TPM survives a reload${torn}`;
}
