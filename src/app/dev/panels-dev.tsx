// A dev page for the four panels (not in the production bundle: vite builds index.html only). It runs a
// real machine in the page — the 2.6.37 driver's keygen loop — and feeds the panels what it produced:
// the trace, the TIS machine's active states and last transition, the last command and response, and the
// 2011 case made from the real response (byte k lost, 0xff read past the end).
// Open with `npx vite --port 4273` at /src/app/dev/panels.html; ?events=100000 repeats the trace.
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { TraceEvent } from '../../core/kernel/trace';
import { createPrimaryEcc } from '../../core/guest/workload-commands';
import { createMachine } from '../../core/vm';
import { GuestViewPanel } from '../panels/GuestViewPanel';
import { LanesPanel } from '../panels/LanesPanel';
import { StateChartPanel } from '../panels/StateChartPanel';
import { TpmDecoderPanel } from '../panels/TpmDecoderPanel';
import { flattenStateValue, lastTransitionBetween, type LastTransition } from '../views/state-chart';
import '../index.css';

interface Sample {
  events: TraceEvent[];
  markers: { t: number; label: string }[];
  active: string[];
  last: LastTransition | null;
  command: Uint8Array;
  response: Uint8Array;
  truth: number[];
  received: number[];
}

const hexToBytes = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

async function makeSample(repeat: number): Promise<Sample> {
  const m = await createMachine({ seed: 'dev', guest: { driver: 'linux-2.6.37', workload: 'keygen' } });
  await m.run({ until: { kind: 'transactionsDone', count: 1 } });
  const done = m.trace
    .window()
    .find((e) => e.kind === 'mark' && JSON.stringify(e.data).includes('transaction.end'));
  const responseHex = String((done?.data as { data: { responseHex: string } }).data.responseHex);
  // Into the second transaction, up to the moment the command starts executing; remember the last move.
  let before = m.tis.machineSnapshot.value;
  let last: LastTransition | null = null;
  const pauseAt = m.trace.totalCount;
  for (let i = 0; i < 5000 && !m.commandInFlight; i++) {
    await m.stepKvm();
    const now = m.tis.machineSnapshot.value;
    last = lastTransitionBetween(before, now, 'mmio.write') ?? last;
    before = now;
  }
  await m.pause();
  const snapT = m.scheduler.nowNs;
  const events = [...m.trace.window()];
  let all = events;
  if (repeat > events.length) {
    all = [];
    const span = (events.at(-1)?.t ?? 0) + 1000;
    for (let r = 0; all.length < repeat; r++)
      for (const e of events) all.push({ ...e, t: e.t + r * span, seq: all.length });
  }
  const truth = Array.from(hexToBytes(responseHex));
  const k = 40;
  return {
    events: all,
    markers: [
      { t: events[pauseAt]?.t ?? 0, label: 'transaction 2 begins' },
      { t: snapT, label: 'snapshot 1 (paused while TPM2_CreatePrimary executes)' },
    ],
    active: flattenStateValue(m.tis.machineSnapshot.value),
    last,
    command: createPrimaryEcc(),
    response: hexToBytes(responseHex),
    truth,
    received: [...truth.slice(0, k), ...truth.slice(k + 1), 0xff],
  };
}

function DevPage() {
  const [sample, setSample] = useState<Sample | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const repeat = Number(new URLSearchParams(location.search).get('events') ?? 0);
    makeSample(repeat).then(setSample, (e: unknown) => setError(String(e)));
  }, []);
  if (error) return <pre>{error}</pre>;
  if (!sample) return <p>Running the machine…</p>;
  const truncated = new URLSearchParams(location.search).has('truncated');
  return (
    <main
      className="mx-auto grid max-w-[1400px] grid-cols-1 gap-4 p-4 text-slate-900 lg:grid-cols-2"
      data-ready="true"
    >
      <div className="lg:col-span-2">
        <StateChartPanel active={sample.active} lastTransition={sample.last} />
      </div>
      <div className="lg:col-span-2">
        <LanesPanel events={sample.events} markers={sample.markers} />
      </div>
      <TpmDecoderPanel
        command={sample.command}
        response={truncated ? Uint8Array.from(sample.received) : sample.response}
      />
      <GuestViewPanel
        received={sample.received}
        truth={sample.truth}
        error={truncated ? 'tpm_tis tpm_tis: tpm_transmit: tpm_recv: error -5' : null}
      />
    </main>
  );
}

if (new URLSearchParams(location.search).has('dark')) {
  document.documentElement.classList.add('dark');
  document.body.className = 'bg-slate-950';
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <DevPage />
  </StrictMode>,
);
