// The simulation host: one Machine, run in slices so intents (Pause above all) are handled between them,
// views posted at most once per frame while running. sim.worker.ts wires it to the Worker's messages and
// the TPM Workers' ports; tests drive it in Node with in-process TPMs. No simulation logic lives here: it
// calls the machine's run control, the migration API and the scenario player, and reports what they did.
import type { TpmTransport } from '../core/backend/transport';
import type { TpmWorkerOptions } from '../core/backend/tpm-messages';
import { migrate, restoreMachine, saveMachine } from '../core/migration/migrate';
import { playActions } from '../core/scenarios/play';
import { findScenario } from '../core/scenarios/presets';
import type { CutPoint } from '../core/vm/hazards';
import { createMachine, type Machine } from '../core/vm/machine';
import {
  activeTisStates,
  changedState,
  tisDetail,
  tisEventOf,
  TransactionWatch,
  type StateTransition,
} from '../core/vm/machine-details';
import type { RunOutcome } from '../core/vm/run-control';
import {
  parseIntent,
  type SimIntent,
  type SimMarker,
  type SimMessage,
  type SimSettings,
  type SimView,
} from './sim-protocol';

/** The machine the page starts with: today's driver generating keys until stopped. */
export const DEFAULT_CONFIG = {
  seed: 'tislab',
  guest: { driver: 'linux', workload: 'keygen' },
};

export interface SimHostOptions {
  post: (message: SimMessage, transfer?: Transferable[]) => void;
  /** A TPM for a machine: slot 0 and 1 alternate between source and migration destination. */
  openTransport: (slot: 0 | 1, options: TpmWorkerOptions) => Promise<TpmTransport>;
  /** Wall-clock milliseconds (performance.now). */
  now: () => number;
  /** Resolves after pending messages have been handled (a macrotask). */
  yieldToMessages: () => Promise<void>;
  /** Resolves after about ms milliseconds (for slow run speeds). */
  sleep: (ms: number) => Promise<void>;
}

/** Minimum wall time between two views while running (one animation frame). */
const FRAME_MS = 16;
/** Wall time one slice of a full-speed run may take before the Worker looks at its messages. */
const SLICE_MS = 8;
const SLICE_EVENTS = 400;
/** How long a running Worker waits for the page's ack before it sends a view anyway. */
const ACK_TIMEOUT_MS = 1_000;
/**
 * Trace events one batch carries at most: a full-speed run makes ~100k events a second, more than a page
 * can take in; the Lanes show the newest and the Worker's trace (and its hash) keeps them all.
 */
const TRACE_BATCH = 500;
const INTENTS_NEEDING_MACHINE = new Set([
  'run',
  'pause',
  'stepKvm',
  'stepInstruction',
  'stepDriverOp',
  'snapshot',
  'migrate',
  'resume',
]);

export class SimHost {
  private machine: Machine | null = null;
  private config: Record<string, unknown> = DEFAULT_CONFIG;
  private slot: 0 | 1 = 0;
  private scenarioId: string | null = null;
  private role: 'source' | 'destination' = 'source';
  private migrations = 0;
  private settings: SimSettings = { speed: 0, completeMmioBeforeStop: true, inflight: 'wait' };
  private watch = new TransactionWatch();
  private running = false;
  private busy: string | null = null;
  private lastStop: string | null = null;
  private snapshotInfo: SimView['snapshot'] = null;
  private cut: CutPoint | null = null;
  private markers: SimMarker[] = [];
  private error: string | null = null;
  private sentSeq = 0;
  /** Added to a destination's trace seq numbers, so the page sees one increasing sequence. */
  private seqOffset = 0;
  private traceReset = true;
  private lastActive: string[] = [];
  private lastTransition: StateTransition | null = null;
  private detachMachine: (() => void) | null = null;
  private queue: Promise<void> = Promise.resolve();
  private lastPost = -Infinity;
  /** A view went out while running and the page has not said it drew it yet. */
  private awaitingAck = false;

  constructor(private readonly opts: SimHostOptions) {}

  /** Boots the default machine. */
  start(): Promise<void> {
    return this.enqueue(async () => {
      await this.boot(this.config);
    });
  }

  /** Takes one message from the page; never throws (a bad intent becomes an error view). */
  receive(raw: unknown): Promise<void> {
    let intent: SimIntent;
    try {
      intent = parseIntent(raw);
    } catch (e) {
      this.fail(e);
      this.postView(true);
      return Promise.resolve();
    }
    // Settings apply at once, even in the middle of a run: they are switches, not steps.
    switch (intent.type) {
      case 'setSpeed':
        this.settings.speed = intent.speed;
        this.postView(true);
        return Promise.resolve();
      case 'setCompleteMmio':
        this.settings.completeMmioBeforeStop = intent.on;
        if (this.machine) this.machine.completeMmioBeforeStop = intent.on;
        this.postView(true);
        return Promise.resolve();
      case 'setInflight':
        this.settings.inflight = intent.strategy;
        this.postView(true);
        return Promise.resolve();
    }
    // Run and Resume start the loop (a second press while it goes does nothing); every other intent
    // stops it at its next slice boundary, then waits its turn. Deciding here, on receipt, keeps the order
    // the user pressed the buttons in: Run then Pause ends paused even if the loop had not started yet.
    if (intent.type === 'run' || intent.type === 'resume') {
      if (this.running) return Promise.resolve();
      this.running = true;
    } else if (intent.type === 'loadSnapshot') {
      // The run stops while the file is checked; a refused file lets it go on (loadSnapshot).
      const wasRunning = this.running;
      this.running = false;
      return this.enqueue(() => this.loadSnapshot(intent.bytes, intent.name, wasRunning));
    } else {
      this.running = false;
    }
    return this.enqueue(() => this.apply(intent));
  }

  /** Waits for every intent received so far (tests). */
  settled(): Promise<void> {
    return this.queue;
  }

  get current(): Machine | null {
    return this.machine;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(async () => {
      try {
        await job();
      } catch (e) {
        this.fail(e);
      }
      this.postView(true);
    });
    return this.queue;
  }

  private fail(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.error = message;
    this.busy = null;
    this.running = false;
    this.opts.post({ type: 'error', message });
  }

  private async apply(intent: SimIntent): Promise<void> {
    this.error = null;
    const m = this.machine;
    if (INTENTS_NEEDING_MACHINE.has(intent.type) && m === null) {
      throw new Error('There is no machine yet: wait for it to boot, or press Reset.');
    }
    switch (intent.type) {
      case 'run':
      case 'resume':
        if (!this.running) return; // paused (or stepped) before the loop began
        if (m!.vcpu.isHalted) throw new Error('The guest program has ended: press Reset to boot it again.');
        if (intent.type === 'resume') m!.resume();
        await this.runLoop();
        return;
      case 'pause':
        await m!.pause();
        this.lastStop = 'paused';
        return;
      case 'stepKvm':
        this.noteStop(await m!.stepKvm());
        return;
      case 'stepInstruction':
        this.noteStop(await m!.stepInstruction());
        return;
      case 'stepDriverOp':
        this.noteStop(await m!.stepDriverOp());
        return;
      case 'snapshot':
        await this.snapshot(m!);
        return;
      case 'migrate':
        await this.migrate(m!);
        return;
      case 'reset':
        this.scenarioId = null;
        this.config = DEFAULT_CONFIG;
        await this.boot(this.config);
        return;
      case 'loadScenario':
        await this.loadScenario(intent.id);
        return;
      case 'loadSnapshot':
        return; // taken by receive()
    }
  }

  private noteStop(outcome: RunOutcome): void {
    this.lastStop = outcome.reason;
  }

  // ---- machines --------------------------------------------------------------------------------------

  private async boot(config: Record<string, unknown>): Promise<void> {
    this.busy = 'Booting the machine…';
    this.postView(true);
    const configured = { ...config, completeMmioBeforeStop: this.settings.completeMmioBeforeStop };
    this.slot = 0;
    const transport = await this.opts.openTransport(this.slot, tpmOptions(configured));
    const machine = await createMachine(configured, { transport });
    this.role = 'source';
    this.migrations = 0;
    this.snapshotInfo = null;
    this.cut = null;
    this.markers = [];
    this.lastStop = null;
    this.lastTransition = null;
    // A new guest: its transactions start from scratch (a migration keeps the watch, as the guest does).
    this.watch.dispose();
    this.watch = new TransactionWatch();
    this.host(machine, true);
    this.busy = null;
  }

  /** Makes `machine` the one the page sees; fresh: a new guest (the Lanes start over). */
  private host(machine: Machine, fresh: boolean): void {
    this.detachMachine?.();
    this.machine = machine;
    this.watch.attach(machine);
    // The last transition, exactly: after every TIS event that can move a region (writes, completions), the
    // active states are compared with the ones before it.
    const offTrace = machine.trace.subscribe((e) => {
      if (e.source !== 'tis') return;
      const event = tisEventOf(e.kind);
      if (event !== 'mmio.write' && event !== 'backend.completed') return;
      const active = activeTisStates(machine);
      const moved = changedState(this.lastActive, active, event);
      if (moved) this.lastTransition = moved;
      this.lastActive = active;
    });
    // A hazard shows at once, even in the middle of a run slice's frame.
    const offHazard = machine.onHazard(() => this.postView(true));
    this.detachMachine = () => {
      offTrace();
      offHazard();
    };
    if (fresh) {
      this.traceReset = true;
      this.seqOffset = 0;
    } else {
      this.seqOffset += this.sentSeq;
    }
    this.sentSeq = 0;
    this.lastActive = activeTisStates(machine);
  }

  private async loadScenario(id: string): Promise<void> {
    const scenario = findScenario(id);
    if (!scenario) throw new Error(`There is no scenario '${id}'.`);
    this.settings = { ...this.settings, ...scenario.settings };
    this.scenarioId = scenario.id;
    this.config = scenario.config;
    await this.boot(scenario.config);
    this.busy = 'Running to the scripted pause…';
    this.postView(true);
    const r = await playActions(this.machine!, scenario.setup);
    this.lastStop = r.outcome?.reason ?? null;
    this.busy = null;
  }

  private async snapshot(m: Machine): Promise<void> {
    this.busy = 'Saving a snapshot…';
    this.postView(true);
    const bytes = await saveMachine(m, { inflight: this.settings.inflight });
    const atNs = m.scheduler.nowNs;
    this.snapshotInfo = { sizeBytes: bytes.length, atNs };
    this.markers = [...this.markers, { t: atNs, label: 'snapshot' }];
    this.lastStop = 'paused';
    this.busy = null;
    this.opts.post({ type: 'snapshot', bytes, atNs }, [bytes.buffer]);
  }

  private async migrate(source: Machine): Promise<void> {
    this.busy = 'Migrating…';
    this.postView(true);
    const config = { ...source.config, completeMmioBeforeStop: this.settings.completeMmioBeforeStop };
    const slot: 0 | 1 = this.slot === 0 ? 1 : 0;
    const transport = await this.opts.openTransport(slot, tpmOptions(config));
    // Events of the source not yet sent go out before the destination's trace starts.
    this.flushTrace();
    const r = await migrate(source, config, { transport, inflight: this.settings.inflight });
    this.flushTrace(); // savevm's own events
    this.slot = slot;
    this.role = 'destination';
    this.migrations++;
    this.cut = r.cut;
    this.snapshotInfo = { sizeBytes: r.snapshot.length, atNs: r.cut.timeNs };
    this.markers = [...this.markers, { t: r.cut.timeNs, label: `migration ${this.migrations}` }];
    this.lastStop = 'paused';
    this.host(r.destination, false);
    this.busy = null;
  }

  /**
   * Loads a snapshot file into a new destination built from this machine's config, as QEMU loads into a
   * `-incoming` destination started with the same command line, and hosts it paused: a new guest for the
   * page (the Lanes start over). The whole file is checked before anything is applied; a file that is
   * refused (not a snapshot, damaged, or saved from another setup) changes nothing: the machine stays as
   * it was and runs on if it was running.
   */
  private async loadSnapshot(bytes: Uint8Array, name: string, wasRunning: boolean): Promise<void> {
    this.error = null;
    const current = this.machine;
    const config = {
      ...(current?.config ?? this.config),
      completeMmioBeforeStop: this.settings.completeMmioBeforeStop,
    };
    this.busy = `Loading ${name}…`;
    this.postView(true);
    const slot: 0 | 1 = this.slot === 0 ? 1 : 0;
    let destination: Machine;
    try {
      const transport = await this.opts.openTransport(slot, tpmOptions(config));
      destination = await restoreMachine(bytes, config, { transport });
    } catch (e) {
      this.busy = null;
      const why = (e instanceof Error ? e.message : String(e)).replace(/\n/g, '; ');
      this.error = `${name} was not loaded: ${why}. Nothing changed.`;
      this.opts.post({ type: 'error', message: this.error });
      if (wasRunning && current !== null && !current.vcpu.isHalted) {
        this.running = true;
        await this.runLoop();
      }
      return;
    }
    this.flushTrace();
    this.slot = slot;
    this.role = 'destination';
    this.migrations = 0;
    this.cut = destination.loadedCut;
    this.snapshotInfo = null;
    this.markers = [{ t: destination.scheduler.nowNs, label: `loaded ${name}` }];
    this.lastStop = 'paused';
    this.lastTransition = null;
    this.watch.dispose();
    this.watch = new TransactionWatch();
    this.host(destination, true);
    this.busy = null;
  }

  // ---- running -----------------------------------------------------------------------------------------

  private async runLoop(): Promise<void> {
    const m = this.machine!;
    this.lastStop = null;
    this.postView(true);
    let speed = this.settings.speed;
    let wallStart = this.opts.now();
    let virtStart = m.scheduler.nowNs;
    while (this.running && this.machine === m) {
      if (speed !== this.settings.speed) {
        speed = this.settings.speed;
        wallStart = this.opts.now();
        virtStart = m.scheduler.nowNs;
      }
      const sliceStart = this.opts.now();
      let outcome: RunOutcome;
      if (speed === 0) {
        do outcome = await m.run({ maxEvents: SLICE_EVENTS });
        while (outcome.reason === 'maxEvents' && this.opts.now() - sliceStart < SLICE_MS);
      } else {
        const target = virtStart + Math.floor(((this.opts.now() - wallStart) / 1000) * speed);
        outcome = await m.run({ maxEvents: SLICE_EVENTS, limitNs: Math.max(target, m.scheduler.nowNs) });
      }
      if (outcome.reason === 'halted' || outcome.reason === 'idle') {
        this.running = false;
        this.lastStop = outcome.reason;
        break;
      }
      this.postView();
      if (outcome.reason === 'limit') await this.opts.sleep(FRAME_MS);
      else await this.opts.yieldToMessages();
    }
    this.running = false;
  }

  // ---- views -------------------------------------------------------------------------------------------

  /** The page drew what it got: the next view may go. */
  ack(): void {
    this.awaitingAck = false;
  }

  /**
   * Posts the view (and new trace events). While running: at most once per frame, and only once the page
   * has drawn the last one (or a second has passed), so a slow page gets fewer views instead of a queue
   * of stale ones. Forced views (the end of an intent, a hazard) always go.
   */
  postView(force = false): void {
    const now = this.opts.now();
    if (!force) {
      if (now - this.lastPost < FRAME_MS) return;
      if (this.awaitingAck && now - this.lastPost < ACK_TIMEOUT_MS) return;
    }
    this.lastPost = now;
    this.awaitingAck = true;
    this.flushTrace();
    this.opts.post({ type: 'view', view: this.view() });
  }

  private flushTrace(): void {
    const m = this.machine;
    if (!m) return;
    const total = m.trace.totalCount;
    if (total <= this.sentSeq && !this.traceReset) return;
    const from = Math.max(this.sentSeq, total - TRACE_BATCH);
    const events = m.trace.since(from).map((e) => ({ ...e, seq: e.seq + this.seqOffset }));
    this.opts.post({ type: 'trace', events, reset: this.traceReset });
    this.traceReset = false;
    this.sentSeq = total;
  }

  view(): SimView {
    const m = this.machine;
    const active = m ? activeTisStates(m) : [];
    const guest = (this.config.guest ?? {}) as { driver?: string; workload?: string };
    return {
      ready: m !== null,
      running: this.running,
      busy: this.busy,
      machine: m ? m.view : null,
      role: this.role,
      migrations: this.migrations,
      scenarioId: this.scenarioId,
      guest: { driver: guest.driver ?? '', workload: guest.workload ?? '' },
      settings: { ...this.settings },
      tis: m ? tisDetail(m) : null,
      tisActive: active,
      lastTransition: this.lastTransition,
      transaction: m ? this.watch.focus : null,
      lastStop: this.lastStop,
      snapshot: this.snapshotInfo,
      cut: this.cut,
      markers: [...this.markers],
      error: this.error,
      traceHash: m && !this.running ? m.trace.traceHash() : null,
    };
  }
}

function tpmOptions(config: Record<string, unknown>): TpmWorkerOptions {
  const seed = config.seed;
  const speed = config.tpmSpeed;
  return {
    seed: typeof seed === 'string' || typeof seed === 'number' ? seed : 'tislab',
    startupClear: true,
    // A simulation is a function of (scenario, seed): its TPMs start fresh, never from the page's NVRAM.
    nvram: 'memory',
    ...(typeof speed === 'number' ? { speed } : {}),
  };
}
