// The simulation host in Node, with in-process TPMs in place of the TPM Workers: what the page would see
// for each intent.
import { describe, expect, it } from 'vitest';
import { InProcessTransport } from '../core/backend/transport';
import type { TraceEvent } from '../core/kernel';
import { SimHost } from './sim-host';
import type { SimMessage, SimView } from './sim-protocol';

function makeHost() {
  const messages: SimMessage[] = [];
  let clock = 0;
  const host = new SimHost({
    post: (m) => messages.push(m),
    openTransport: async (_slot, options) => new InProcessTransport(options),
    // Every reading of the clock moves it a frame on, so views are never throttled away in tests.
    now: () => (clock += 20),
    yieldToMessages: () => new Promise((resolve) => setTimeout(resolve, 0)),
    sleep: () => new Promise((resolve) => setTimeout(resolve, 0)),
  });
  const views = () => messages.filter((m) => m.type === 'view').map((m) => m.view);
  const last = (): SimView => views().at(-1)!;
  const trace = (): TraceEvent[] => {
    let out: TraceEvent[] = [];
    for (const m of messages) {
      if (m.type !== 'trace') continue;
      out = m.reset ? [...m.events] : [...out, ...m.events];
    }
    return out;
  };
  /** Presses Snapshot and returns the file the page got. */
  const snapshotBytes = async (): Promise<Uint8Array> => {
    await host.receive({ type: 'snapshot' });
    const snap = [...messages].reverse().find((m) => m.type === 'snapshot');
    if (snap?.type !== 'snapshot') throw new Error('no snapshot message');
    return snap.bytes;
  };
  return { host, messages, last, trace, snapshotBytes };
}

describe('SimHost', () => {
  it('boots the default machine and steps it one KVM step at a time', async () => {
    const { host, last } = makeHost();
    await host.start();
    expect(last().ready).toBe(true);
    expect(last().machine?.timeNs).toBe(0);
    expect(last().tisActive).toContain('locality.none');
    await host.receive({ type: 'intent-that-does-not-exist' });
    expect(last().error).toMatch(/unknown intent "intent-that-does-not-exist"/);
    await host.receive({ type: 'stepKvm' });
    expect(last().error).toBeNull();
    expect(last().machine?.vcpu.kvmSteps).toBe(1);
    for (let i = 0; i < 20 && last().machine?.vcpu.pendingExit?.phase !== 'exited'; i++) {
      await host.receive({ type: 'stepKvm' });
    }
    // Exit, then device: the vCPU waits for its re-entry with the value in run->mmio.data.
    await host.receive({ type: 'stepKvm' });
    expect(last().machine?.vcpu.pendingExit?.phase).toBe('handled');
    expect(last().machine?.vcpu.next?.step).toBe('reenter');
  });

  it('Run goes until Pause; the run is sliced so the pause is heard', async () => {
    const { host, last } = makeHost();
    await host.start();
    void host.receive({ type: 'run' });
    await new Promise((r) => setTimeout(r, 50));
    expect(last().running).toBe(true);
    await host.receive({ type: 'pause' });
    expect(last().running).toBe(false);
    expect(last().machine?.vmRunning).toBe(false);
    expect(last().machine!.timeNs).toBeGreaterThan(0);
  });

  it('Run then Pause pressed at once ends paused', async () => {
    const { host, last } = makeHost();
    await host.start();
    void host.receive({ type: 'run' });
    await host.receive({ type: 'pause' });
    expect(last().running).toBe(false);
  });

  it('the 2011 scenario: migrate and resume show the duplicated read, and the Guest view has the damage', async () => {
    const { host, last, trace, messages } = makeHost();
    await host.start();
    await host.receive({ type: 'loadScenario', id: 'duplicated-mmio-read-2011' });
    expect(last().settings.completeMmioBeforeStop).toBe(false);
    // The last move of the TIS machine: the response arrived and the locality went to Completion.
    expect(last().lastTransition).toEqual({
      from: 'cmd0.execution',
      to: 'cmd0.completion',
      event: 'backend.completed',
    });
    expect(last().tisActive).toContain('cmd0.completion');
    expect(last().machine?.vcpu.pendingExit).toMatchObject({ phase: 'handled', isWrite: false });
    await host.receive({ type: 'migrate' });
    expect(last().role).toBe('destination');
    expect(last().cut?.description).toMatch(/between the exit and the re-entry/);
    expect(last().markers.map((m) => m.label)).toEqual(['migration 1']);
    await host.receive({ type: 'resume' });
    await host.settled();
    const v = last();
    expect(v.machine?.hazards.map((h) => h.title)).toEqual(['Duplicated MMIO read']);
    const tx = v.transaction!;
    const truth = Array.from(tx.response ?? []);
    expect(tx.received).toEqual([...truth.slice(0, 20), ...truth.slice(21), 0xff]);
    // One trace across the migration: sequence numbers keep increasing.
    const seqs = trace().map((e) => e.seq);
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(trace().some((e) => e.source === 'hazard')).toBe(true);
    expect(messages.filter((m) => m.type === 'error')).toEqual([]);
    // Reset boots a new guest: the damaged transaction belongs to the old one.
    await host.receive({ type: 'reset' });
    expect(last().transaction?.index).toBe(-1);
    expect(last().machine?.hazards).toEqual([]);
    expect(last().markers).toEqual([]);
  });

  it('the 2011 scenario with the fix switched on before Migrate: no hazard', async () => {
    const { host, last } = makeHost();
    await host.start();
    await host.receive({ type: 'loadScenario', id: 'duplicated-mmio-read-2011' });
    await host.receive({ type: 'setCompleteMmio', on: true });
    await host.receive({ type: 'migrate' });
    expect(last().cut?.description).toMatch(/vm_stop completed the access first/);
    await host.receive({ type: 'resume' });
    await host.settled();
    expect(last().machine?.hazards).toEqual([]);
    expect(last().lastStop).toBe('halted');
  });

  it('the 2017 scenario with Drop: a lost response as soon as the destination is loaded', async () => {
    const { host, last } = makeHost();
    await host.start();
    await host.receive({ type: 'loadScenario', id: 'inflight-command-2017' });
    expect(last().machine?.backendPhase).toBe('executing');
    expect(last().settings.inflight).toBe('drop');
    await host.receive({ type: 'migrate' });
    expect(last().machine?.hazards.map((h) => h.title)).toEqual(['Lost response']);
  });

  it('Snapshot hands the file to the page and leaves the machine paused', async () => {
    const { host, last, messages } = makeHost();
    await host.start();
    await host.receive({ type: 'stepDriverOp' });
    await host.receive({ type: 'snapshot' });
    const snap = messages.find((m) => m.type === 'snapshot');
    expect(snap?.type === 'snapshot' && new TextDecoder().decode(snap.bytes.slice(0, 8))).toBe('TISLABVM');
    expect(last().snapshot?.sizeBytes).toBeGreaterThan(0);
    expect(last().machine?.vmRunning).toBe(false);
  });

  it('Load snapshot: a file saved mid-read comes back paused where it was, a new guest for the page', async () => {
    const { host, last, snapshotBytes } = makeHost();
    await host.start();
    await host.receive({ type: 'loadScenario', id: 'duplicated-mmio-read-2011' });
    const bytes = await snapshotBytes();
    const saved = last();
    // The source goes on to the end of its program; then the file is loaded.
    await host.receive({ type: 'run' });
    await host.settled();
    expect(last().machine?.vcpu.runState).toBe('halted');
    await host.receive({ type: 'loadSnapshot', bytes, name: 'mid-read.tislabvm' });
    const v = last();
    expect(v.error).toBeNull();
    expect(v.role).toBe('destination');
    expect(v.machine?.vmRunning).toBe(false);
    expect(v.machine?.timeNs).toBe(saved.machine?.timeNs);
    expect(v.machine?.vcpu.rip).toBe(saved.machine?.vcpu.rip);
    expect(v.markers.map((m) => m.label)).toEqual(['loaded mid-read.tislabvm']);
    expect(v.cut?.description).toMatch(/^between the exit and the re-entry of a 1-byte read of DATA_FIFO/);
    // Saved without the fix, between a FIFO read's exit and re-entry: resuming executes the read again.
    await host.receive({ type: 'resume' });
    await host.settled();
    expect(last().machine?.hazards.map((h) => h.title)).toEqual(['Duplicated MMIO read']);
  });

  it('Load snapshot: a damaged or foreign file is refused and a running machine runs on', async () => {
    const { host, last, snapshotBytes } = makeHost();
    await host.start();
    await host.receive({ type: 'stepDriverOp' });
    const damaged = (await snapshotBytes()).slice();
    damaged[40]! ^= 1;
    void host.receive({ type: 'run' });
    await new Promise((r) => setTimeout(r, 50));
    const timeBefore = last().machine!.timeNs;
    void host.receive({ type: 'loadSnapshot', bytes: damaged, name: 'damaged.tislabvm' });
    await new Promise((r) => setTimeout(r, 50));
    expect(last().error).toBe(
      'damaged.tislabvm was not loaded: the snapshot is corrupt: its SHA-256 does not match its contents. Nothing changed.',
    );
    expect(last().role).toBe('source');
    expect(last().running).toBe(true);
    expect(last().machine!.timeNs).toBeGreaterThan(timeBefore);
    await host.receive({ type: 'pause' });
    const paused = last().machine;
    await host.receive({
      type: 'loadSnapshot',
      bytes: new TextEncoder().encode('not a snapshot'),
      name: 'notes.txt',
    });
    expect(last().error).toMatch(/^notes\.txt was not loaded: not a TIS Lab snapshot/);
    expect(last().machine).toEqual(paused);
    await host.receive({ type: 'loadSnapshot', bytes: 'TISLABVM', name: 'x' });
    expect(last().error).toMatch(/loadSnapshot needs bytes/);
  });

  it('Load snapshot: a file saved from another setup is refused in QEMU words', async () => {
    const { host, last, snapshotBytes } = makeHost();
    await host.start();
    await host.receive({ type: 'loadScenario', id: 'duplicated-mmio-read-2011' });
    const bytes = await snapshotBytes();
    await host.receive({ type: 'reset' }); // the default machine: another driver
    const before = last().machine;
    await host.receive({ type: 'loadSnapshot', bytes, name: '2011.tislabvm' });
    expect(last().error).toMatch(
      /^2011\.tislabvm was not loaded: .*expected workload 'keygen' over driver 'linux'/,
    );
    expect(last().error).toMatch(/error while loading state for instance 0x0 of device 'tislab\/guest'/);
    expect(last().machine).toEqual(before);
    expect(last().role).toBe('source');
  });

  it('bad intents give an error and change nothing', async () => {
    const { host, last } = makeHost();
    await host.start();
    const before = last().machine;
    await host.receive({ type: 'loadScenario', id: 'nope' });
    expect(last().error).toBe("There is no scenario 'nope'.");
    await host.receive({ type: 'setSpeed', speed: -1 });
    expect(last().error).toMatch(/setSpeed needs speed/);
    await host.receive(null);
    expect(last().error).toMatch(/must be an object/);
    expect(last().machine).toEqual(before);
  });
});
