import { MMIO_STAGES, vcpuStage } from '../vcpu-stage';
import { hex } from '../tis-bits';
import { useSim } from '../store';
import { EmptyState } from './Panel';

/** The current instruction and its place in guest → exit → device → re-entry. */
export function VcpuView() {
  const vcpu = useSim((s) => s.view?.machine?.vcpu ?? null);
  const running = useSim((s) => !!s.view?.running);
  if (!vcpu) return <EmptyState>No vCPU yet: the machine is booting.</EmptyState>;
  const stage = vcpuStage(vcpu);
  const frozen = !running && stage.betweenExitAndReentry;
  return (
    <div className="space-y-3">
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
        <dt className="text-slate-500 dark:text-slate-400">Instruction</dt>
        <dd className="font-mono font-semibold break-words" aria-label="Current instruction">
          {stage.instruction}
        </dd>
        {stage.target && (
          <>
            <dt className="text-slate-500 dark:text-slate-400">Register</dt>
            <dd className="font-mono">{stage.target}</dd>
          </>
        )}
        <dt className="text-slate-500 dark:text-slate-400">RIP · RAX</dt>
        <dd className="font-mono">
          {vcpu.rip} · {hex(vcpu.rax, 8)}
        </dd>
        <dt className="text-slate-500 dark:text-slate-400">vCPU</dt>
        <dd>
          {vcpu.runState} · {vcpu.kvmSteps} KVM steps
        </dd>
      </dl>
      {stage.stagesDone === null ? (
        <p className="text-sm text-slate-600 dark:text-slate-400">
          Not an MMIO instruction: it runs in one step.
        </p>
      ) : (
        <ol aria-label="MMIO steps" className="grid grid-cols-4 gap-1 text-center text-xs">
          {MMIO_STAGES.map((s, i) => {
            const done = i < (stage.stagesDone ?? 0);
            const next = i === stage.stagesDone;
            return (
              <li
                key={s.name}
                aria-current={next ? 'step' : undefined}
                className={
                  'rounded border-2 px-1 py-2 ' +
                  (done
                    ? 'border-teal-600 bg-teal-50 dark:bg-teal-950'
                    : next
                      ? 'border-dashed border-amber-500'
                      : 'border-slate-200 text-slate-400 dark:border-slate-700')
                }
              >
                <div className="font-semibold">
                  {done ? '✓ ' : next ? '→ ' : ''}
                  {s.name}
                </div>
                <div className="mt-0.5 leading-tight [overflow-wrap:anywhere]">{s.detail}</div>
              </li>
            );
          })}
        </ol>
      )}
      {stage.betweenExitAndReentry && (
        <div
          data-testid="exit-reentry-gap"
          className={
            'rounded-md border-4 px-3 py-2 text-sm ' +
            (frozen
              ? 'border-red-600 bg-[repeating-linear-gradient(45deg,rgba(220,38,38,0.12)_0,rgba(220,38,38,0.12)_8px,transparent_8px,transparent_16px)] font-semibold text-red-800 dark:text-red-300'
              : 'border-amber-500 text-amber-800 dark:text-amber-300')
          }
        >
          <p className="text-base">
            {frozen && (
              <span
                aria-hidden="true"
                className="mr-2 inline-flex h-4 w-4 items-center justify-between align-[-2px]"
              >
                <span className="h-4 w-1.5 bg-current" />
                <span className="h-4 w-1.5 bg-current" />
              </span>
            )}
            {frozen ? 'STOPPED BETWEEN EXIT AND RE-ENTRY' : 'Between exit and re-entry'}
          </p>
          <p className="mt-1 font-normal">
            {stage.mmioData !== null
              ? `QEMU has done the read: run->mmio.data = ${hex(stage.mmioData, 2)}, not yet in the guest’s register. It does not migrate.`
              : 'KVM has exited to QEMU; the device has not done the access yet.'}
          </p>
        </div>
      )}
    </div>
  );
}
