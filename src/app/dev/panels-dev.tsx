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
import { InProcessTransport } from '../../core/backend/transport';
import { SimHost } from '../../workers/sim-host';
import type { SimMessage } from '../../workers/sim-protocol';
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
  error?: string | null;
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

/**
 * The 2011 scenario through the simulation host the Worker runs (in the page here, TPMs in-process):
 * load it, migrate at the cut between a FIFO read's exit and re-entry, resume on the destination.
 */
async function scenario2011(): Promise<Sample> {
  const messages: SimMessage[] = [];
  const host = new SimHost({
    post: (m) => messages.push(m),
    openTransport: async (_slot, options) => new InProcessTransport(options),
    now: () => performance.now(),
    yieldToMessages: () => new Promise((resolve) => setTimeout(resolve, 0)),
    sleep: () => new Promise((resolve) => setTimeout(resolve, 0)),
  });
  await host.start();
  await host.receive({ type: 'loadScenario', id: 'duplicated-mmio-read-2011' });
  await host.receive({ type: 'migrate' });
  await host.receive({ type: 'resume' });
  await host.settled();
  let events: TraceEvent[] = [];
  for (const m of messages)
    if (m.type === 'trace') events = m.reset ? [...m.events] : [...events, ...m.events];
  const views = messages.flatMap((m) => (m.type === 'view' ? [m.view] : []));
  const v = views.at(-1)!;
  const tx = v.transaction;
  return {
    events,
    markers: v.markers,
    active: v.tisActive,
    last: v.lastTransition,
    command: tx?.command ?? new Uint8Array(0),
    response: tx?.response ?? new Uint8Array(0),
    truth: Array.from(tx?.response ?? []),
    received: tx?.received ?? [],
    error: tx?.error ?? null,
  };
}

function DevPage() {
  const [sample, setSample] = useState<Sample | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const repeat = Number(new URLSearchParams(location.search).get('events') ?? 0);
    const params = new URLSearchParams(location.search);
    (params.has('scenario2011') ? scenario2011() : makeSample(repeat)).then(setSample, (e: unknown) =>
      setError(String(e)),
    );
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
        received={
          new URLSearchParams(location.search).has('midread') ? sample.truth.slice(0, 20) : sample.received
        }
        truth={sample.truth}
        error={sample.error ?? (truncated ? 'tpm_tis tpm_tis: tpm_transmit: tpm_recv: error -5' : null)}
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
