import { useSim } from '../store';
import { TpmStatus } from './TpmStatus';

const PHASE_TEXT: Record<string, string> = {
  idle: 'idle: no command in flight',
  transmitting: 'transmitting the command to the TPM',
  executing: 'the TPM is executing the command',
  bottomHalfPending: 'answered; the bottom half has not copied the response yet',
};

/** QEMU's TPM backend (its thread and bottom half) and the TPM Worker. */
export function BackendStatus() {
  const machine = useSim((s) => s.view?.machine ?? null);
  const tx = useSim((s) => s.view?.transaction ?? null);
  return (
    <div className="space-y-3 text-sm">
      {machine && (
        <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1">
          <dt className="text-slate-500 dark:text-slate-400">Backend</dt>
          <dd className={machine.backendPhase === 'idle' ? '' : 'font-semibold'} aria-label="Backend phase">
            {PHASE_TEXT[machine.backendPhase] ?? machine.backendPhase}
          </dd>
          <dt className="text-slate-500 dark:text-slate-400">Transaction</dt>
          <dd>
            {tx && tx.index >= 0 ? `#${tx.index} ${tx.name ?? ''}` : 'none yet'} · {machine.transactionsDone}{' '}
            done
          </dd>
        </dl>
      )}
      <TpmStatus />
    </div>
  );
}
