import { useEffect, useMemo, useRef, type ReactNode } from 'react';
import { formatNs } from '../../core/kernel/clock';
import { RUN_SPEEDS, type SimIntent } from '../../workers/sim-protocol';
import { useSim } from '../store';

const INFLIGHT = [
  { value: 'wait', label: 'Wait' },
  { value: 'drop', label: 'Drop' },
  { value: 'replay', label: 'Replay' },
] as const;

/** A control: sends `intent`, or does `onClick` (for controls that first ask the user something). */
function Button({
  children,
  intent,
  onClick,
  disabled,
  primary,
  title,
}: {
  children: ReactNode;
  intent?: SimIntent;
  onClick?: () => void;
  disabled: boolean;
  primary?: boolean;
  title: string;
}) {
  const send = useSim((s) => s.send);
  return (
    <button
      type="button"
      disabled={disabled}
      title={title}
      onClick={() => (onClick ? onClick() : intent && send(intent))}
      className={
        'rounded-md px-3 py-1.5 font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-40 ' +
        (primary
          ? 'bg-teal-700 text-white hover:bg-teal-800 dark:bg-teal-500 dark:text-slate-950 dark:hover:bg-teal-400'
          : 'border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100 dark:hover:bg-slate-700')
      }
    >
      {children}
    </button>
  );
}

/** The state of the run in words. */
function runStateText(
  running: boolean,
  vmRunning: boolean,
  runState: string,
  role: 'source' | 'destination',
): string {
  const where = role === 'destination' ? 'Destination' : 'Source';
  if (runState === 'halted') return `${where}: the guest program has ended`;
  if (running) return `${where}: running`;
  if (!vmRunning) return `${where}: paused (vm_stop)`;
  return `${where}: stopped between two steps`;
}

export function ControlBar({ onHelp }: { onHelp: () => void }) {
  const view = useSim((s) => s.view);
  const send = useSim((s) => s.send);
  const machine = view?.machine ?? null;
  const ready = !!view?.ready && view.busy === null;
  const running = !!view?.running;
  const halted = machine?.vcpu.runState === 'halted';
  const settings = view?.settings;
  return (
    // Sticky on screens tall enough to spare it; on a 720-line projector (with Large type it wraps to four
    // rows) it scrolls away with the page, and the keys still drive the machine.
    <section
      aria-label="Controls"
      className="top-0 z-10 space-y-3 [@media(min-height:800px)]:sticky rounded-lg border border-slate-200 bg-white px-4 py-3 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-900"
    >
      <div className="flex flex-wrap items-center gap-2">
        <Button intent={{ type: 'run' }} disabled={!ready || running || halted} primary title="Run (Space)">
          Run
        </Button>
        <Button
          intent={{ type: 'pause' }}
          disabled={!ready || !machine?.vmRunning || halted}
          title="Pause: vm_stop (Space)"
        >
          Pause
        </Button>
        <Button intent={{ type: 'stepKvm' }} disabled={!ready || halted} title="One KVM step (→)">
          Step
        </Button>
        <Button
          intent={{ type: 'stepInstruction' }}
          disabled={!ready || halted}
          title="Until the instruction retires"
        >
          Step instruction
        </Button>
        <Button
          intent={{ type: 'stepDriverOp' }}
          disabled={!ready || halted}
          title="Until the driver's next function"
        >
          Step operation
        </Button>
        <span className="mx-1 h-6 w-px bg-slate-300 dark:bg-slate-600" aria-hidden="true" />
        <Button intent={{ type: 'snapshot' }} disabled={!ready} title="savevm: pause and save (S)">
          Snapshot
        </Button>
        <Button intent={{ type: 'migrate' }} disabled={!ready} title="Migrate to a new destination (M)">
          Migrate
        </Button>
        <LoadSnapshotButton disabled={!view?.ready || view.busy !== null} />
        <Button intent={{ type: 'resume' }} disabled={!ready || running || halted} title="vm_start and run">
          Resume
        </Button>
        <Button intent={{ type: 'reset' }} disabled={!view?.ready} title="Boot the default machine again (R)">
          Reset
        </Button>
        <button
          type="button"
          onClick={onHelp}
          aria-label="Keyboard shortcuts"
          className="ml-auto rounded-md border border-slate-300 px-2.5 py-1.5 font-mono dark:border-slate-600"
        >
          ?
        </button>
      </div>
      <div className="flex flex-wrap items-center gap-x-6 gap-y-2">
        <span className="font-mono text-base font-semibold" aria-label="Virtual time">
          t = {formatNs(machine?.timeNs ?? 0)}
        </span>
        <label className="flex items-center gap-2">
          Run speed
          <select
            value={settings?.speed ?? 0}
            onChange={(e) => send({ type: 'setSpeed', speed: Number(e.target.value) })}
            className="rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-600 dark:bg-slate-800"
          >
            {RUN_SPEEDS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label className="flex items-center gap-2">
          <button
            type="button"
            role="switch"
            aria-checked={settings?.completeMmioBeforeStop ?? true}
            aria-label="Complete pending MMIO before stop"
            onClick={() => send({ type: 'setCompleteMmio', on: !(settings?.completeMmioBeforeStop ?? true) })}
            className={
              'relative inline-flex h-6 w-11 items-center rounded-full transition-colors ' +
              (settings?.completeMmioBeforeStop ? 'bg-teal-600' : 'bg-slate-400 dark:bg-slate-600')
            }
          >
            <span
              className={
                'inline-block h-5 w-5 rounded-full bg-white shadow transition-transform ' +
                (settings?.completeMmioBeforeStop ? 'translate-x-5' : 'translate-x-0.5')
              }
            />
          </button>
          <span>
            Complete pending MMIO before stop{' '}
            <span className="font-semibold">{settings?.completeMmioBeforeStop ? '(on)' : '(off)'}</span>
          </span>
        </label>
        <div className="flex items-center gap-2">
          <span id="inflight-label">In-flight command</span>
          <div
            role="radiogroup"
            aria-labelledby="inflight-label"
            className="flex rounded-md border border-slate-300 p-0.5 dark:border-slate-600"
          >
            {INFLIGHT.map((o) => (
              <button
                key={o.value}
                type="button"
                role="radio"
                aria-checked={settings?.inflight === o.value}
                onClick={() => send({ type: 'setInflight', strategy: o.value })}
                className={
                  'rounded px-2.5 py-0.5 ' +
                  (settings?.inflight === o.value
                    ? 'bg-teal-700 text-white dark:bg-teal-500 dark:text-slate-950'
                    : 'text-slate-700 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-800')
                }
              >
                {o.label}
              </button>
            ))}
          </div>
        </div>
        <SnapshotLink />
      </div>
      <p role="status" className="min-h-5 text-slate-700 dark:text-slate-300">
        {!view ? (
          'Starting the simulation…'
        ) : view.busy ? (
          view.busy
        ) : (
          <>
            {machine && runStateText(running, machine.vmRunning, machine.vcpu.runState, view.role)}
            {machine && view.traceHash && (
              <span
                className="ml-3 font-mono text-xs text-slate-500 dark:text-slate-400"
                data-testid="trace-hash"
                data-trace-hash={view.traceHash}
                title={`trace sha256 ${view.traceHash}: the same scenario and seed give the same hash in Node (tislab run)`}
              >
                trace: {machine.traceCount.toLocaleString('en-US')} events, sha256{' '}
                {view.traceHash.slice(0, 12)}…
              </span>
            )}
            {view.error && (
              <span className="ml-3 font-medium text-red-700 dark:text-red-400">Not done: {view.error}</span>
            )}
          </>
        )}
      </p>
    </section>
  );
}

/** Load snapshot: the user picks a .tislabvm file; the Worker checks it whole and loads it into a new
 * destination with this machine's setup, or refuses it and changes nothing. */
function LoadSnapshotButton({ disabled }: { disabled: boolean }) {
  const send = useSim((s) => s.send);
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <Button
        disabled={disabled}
        title="Load a snapshot file (.tislabvm) into a new destination with this machine's setup"
        onClick={() => input.current?.click()}
      >
        Load snapshot
      </Button>
      <input
        ref={input}
        type="file"
        accept=".tislabvm,application/octet-stream"
        aria-label="Snapshot file"
        className="hidden"
        onChange={(e) => {
          const file = e.target.files?.[0];
          // Cleared, so that choosing the same file again loads it again.
          e.target.value = '';
          if (!file) return;
          void file
            .arrayBuffer()
            .then((buffer) => send({ type: 'loadSnapshot', bytes: new Uint8Array(buffer), name: file.name }));
        }}
      />
    </>
  );
}

function SnapshotLink() {
  const snapshot = useSim((s) => s.snapshot);
  const url = useMemo(
    () =>
      snapshot
        ? URL.createObjectURL(
            new Blob([new Uint8Array(snapshot.bytes)], { type: 'application/octet-stream' }),
          )
        : null,
    [snapshot],
  );
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  if (!snapshot || !url) return null;
  return (
    <a
      href={url}
      download={`tislab-${snapshot.atNs}ns.tislabvm`}
      className="text-teal-800 underline dark:text-teal-300"
    >
      Download snapshot ({(snapshot.bytes.length / 1024).toFixed(1)} KiB)
    </a>
  );
}
