// The discrete-event scheduler. Events are plain data (kind + JSON payload) dispatched to handlers registered
// by kind, never closures, so the pending queue can be saved into a VM snapshot and restored exactly.
import { isRecord, isSafeNonNegInt, show } from './checks';
import { VirtualClock } from './clock';
import { compareFiring, EventHeap, firesBefore } from './event-heap';
import { IdSet } from './id-set';
import { cloneJson } from './json';
import type { JsonValue } from './json';

/** A queued event. The payload must be JSON data (it goes into snapshots); save() enforces that. */
export interface ScheduledEvent {
  id: number;
  timeNs: number;
  seq: number;
  kind: string;
  payload: JsonValue;
}

export type EventHandler = (payload: JsonValue, event: ScheduledEvent) => void;

/** A JSON-serialisable image of the queue: restoring it continues bit-identically, ids included. */
export interface SchedulerState {
  nowNs: number;
  nextSeq: number;
  /** Pending events in firing order. */
  events: ScheduledEvent[];
}

export type RunStopReason = 'predicate' | 'idle' | 'limit' | 'maxEvents';

export interface RunUntilPredicateOptions {
  /** Stop after this many dispatches (default 10,000,000). */
  maxEvents?: number;
  /** Dispatch events up to and including this time, then stop with the clock at this time. */
  limitNs?: number;
}

export interface RunResult {
  reason: RunStopReason;
  dispatched: number;
}

const DEFAULT_MAX_EVENTS = 10_000_000;

// Cancelled events stay in the heap as tombstones (lazy deletion: O(1) cancel). Once they are the majority of
// a large heap it is rebuilt, so a workload that arms and cancels timeouts cannot grow memory without bound.
const COMPACT_MIN_TOMBSTONES = 1024;

export class Scheduler {
  private readonly clk: VirtualClock;
  private readonly handlers = new Map<string, EventHandler>();
  private readonly heap = new EventHeap<ScheduledEvent>();
  /** Ids of events that are queued and not cancelled; the heap may also hold cancelled ones. */
  private readonly live = new IdSet();
  private tombstones = 0;
  private nextSeq = 0;
  /** Set while a run method is dispatching, so a handler cannot re-enter the loop. */
  private running = false;
  private lastKind: string | undefined;
  private lastHandler: EventHandler | undefined;

  constructor(clock: VirtualClock = new VirtualClock()) {
    this.clk = clock;
  }

  get nowNs(): number {
    return this.clk.nowNs;
  }

  get clock(): VirtualClock {
    return this.clk;
  }

  get pendingCount(): number {
    return this.live.size;
  }

  on(kind: string, handler: EventHandler): void {
    if (typeof kind !== 'string') {
      throw new TypeError(`Scheduler.on: kind must be a string, got ${show(kind)}`);
    }
    if (typeof handler !== 'function') {
      throw new TypeError(`Scheduler.on: handler for '${kind}' is not a function`);
    }
    // One handler per kind: a second registration is almost always two devices claiming the same name.
    if (this.handlers.has(kind)) {
      throw new Error(`Scheduler.on: a handler for '${kind}' is already registered`);
    }
    this.handlers.set(kind, handler);
  }

  /**
   * Schedules an event delayNs after now and returns its id. With zero delay it fires at the current time,
   * after every event already queued for that time.
   */
  schedule(delayNs: number, kind: string, payload: JsonValue = null): number {
    if (!isSafeNonNegInt(delayNs)) {
      throw new RangeError(
        `Scheduler.schedule('${kind}'): delayNs must be a non-negative safe integer, got ${show(delayNs)}`,
      );
    }
    const timeNs = this.clk.nowNs + delayNs;
    if (!Number.isSafeInteger(timeNs)) {
      throw new RangeError(
        `Scheduler.schedule('${kind}'): now + ${delayNs} ns overflows the safe integer range`,
      );
    }
    return this.insert(timeNs, kind, payload);
  }

  /** Schedules an event at the absolute time timeNs (>= now) and returns its id. */
  scheduleAt(timeNs: number, kind: string, payload: JsonValue = null): number {
    if (!isSafeNonNegInt(timeNs)) {
      throw new RangeError(
        `Scheduler.scheduleAt('${kind}'): timeNs must be a non-negative safe integer, got ${show(timeNs)}`,
      );
    }
    if (timeNs < this.clk.nowNs) {
      throw new RangeError(
        `Scheduler.scheduleAt('${kind}'): ${timeNs} ns is in the past (now ${this.clk.nowNs} ns)`,
      );
    }
    return this.insert(timeNs, kind, payload);
  }

  /** Cancels a pending event. Returns false if the id is unknown, already fired or already cancelled. */
  cancel(id: number): boolean {
    if (!this.live.delete(id)) return false;
    this.tombstones++;
    if (this.tombstones >= COMPACT_MIN_TOMBSTONES && this.tombstones * 2 > this.heap.size) this.compact();
    return true;
  }

  isPending(id: number): boolean {
    return this.live.has(id);
  }

  /** The next event to fire, or undefined if none. Do not mutate it. */
  peek(): ScheduledEvent | undefined {
    return this.head();
  }

  /** Copies of the pending events, in firing order. */
  pending(): ScheduledEvent[] {
    return this.sortedLive().map((e) => ({ ...e }));
  }

  /**
   * Dispatches the next event: advances the clock to its time, removes it from the queue and calls its
   * handler. Returns undefined if the queue is empty. If no handler is registered for its kind this throws
   * and changes nothing (the event stays first in the queue, the clock stays put), so the caller can
   * register the handler and step again. If the handler throws, the event counts as dispatched.
   */
  step(): ScheduledEvent | undefined {
    this.enterRun('step');
    try {
      const e = this.head();
      if (e !== undefined) this.dispatchHead(e);
      return e;
    } finally {
      this.running = false;
    }
  }

  /** Dispatches every event with timeNs <= the target, then sets the clock to the target. Returns the count. */
  runUntil(timeNs: number): number {
    if (!isSafeNonNegInt(timeNs) || timeNs < this.clk.nowNs) {
      throw new RangeError(
        `Scheduler.runUntil: target must be a safe integer >= now (${this.clk.nowNs} ns), got ${show(timeNs)}`,
      );
    }
    this.enterRun('runUntil');
    let n = 0;
    try {
      for (let e = this.head(); e !== undefined && e.timeNs <= timeNs; e = this.head()) {
        this.dispatchHead(e);
        n++;
      }
      this.clk.advanceTo(timeNs);
    } finally {
      this.running = false;
    }
    return n;
  }

  /**
   * Dispatches until the queue is empty and returns the count. Throws if more than maxEvents would be needed:
   * an endless chain of events is a bug (a device re-arming itself forever), not something to wait out.
   */
  runUntilIdle(maxEvents: number = DEFAULT_MAX_EVENTS): number {
    checkMaxEvents('runUntilIdle', maxEvents);
    this.enterRun('runUntilIdle');
    let n = 0;
    try {
      for (let e = this.head(); e !== undefined; e = this.head()) {
        if (n >= maxEvents) {
          throw new Error(
            `Scheduler.runUntilIdle: ${this.live.size} events still pending after ${maxEvents} dispatches; ` +
              'is a handler rescheduling itself forever?',
          );
        }
        this.dispatchHead(e);
        n++;
      }
    } finally {
      this.running = false;
    }
    return n;
  }

  /**
   * Dispatches until pred() is true (checked before the first event and after each one), the queue is empty,
   * the next event lies beyond limitNs (the clock then moves to limitNs, never past it) or maxEvents events
   * have been dispatched. On 'idle' the clock stays at the last event: there is nothing to wait for.
   */
  runUntilPredicate(pred: () => boolean, opts: RunUntilPredicateOptions = {}): RunResult {
    const maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    checkMaxEvents('runUntilPredicate', maxEvents);
    const limitNs = opts.limitNs;
    if (limitNs !== undefined && (!isSafeNonNegInt(limitNs) || limitNs < this.clk.nowNs)) {
      throw new RangeError(
        `Scheduler.runUntilPredicate: limitNs must be a safe integer >= now (${this.clk.nowNs} ns), got ${show(limitNs)}`,
      );
    }
    this.enterRun('runUntilPredicate');
    let dispatched = 0;
    try {
      if (pred()) return { reason: 'predicate', dispatched };
      for (;;) {
        const e = this.head();
        if (e === undefined) return { reason: 'idle', dispatched };
        if (limitNs !== undefined && e.timeNs > limitNs) {
          this.clk.advanceTo(limitNs);
          return { reason: 'limit', dispatched };
        }
        if (dispatched >= maxEvents) return { reason: 'maxEvents', dispatched };
        this.dispatchHead(e);
        dispatched++;
        if (pred()) return { reason: 'predicate', dispatched };
      }
    } finally {
      this.running = false;
    }
  }

  save(): SchedulerState {
    return {
      nowNs: this.clk.nowNs,
      nextSeq: this.nextSeq,
      events: this.sortedLive().map((e) => makeEvent(e.id, e.timeNs, e.seq, e.kind, snapshotPayload(e))),
    };
  }

  /**
   * Replaces the clock time and the queue with a saved state; registered handlers stay. The state is fully
   * validated first: on malformed input this throws a TypeError and the scheduler is unchanged.
   */
  restore(state: unknown): void {
    if (this.running) throw new Error('Scheduler.restore: cannot restore from inside an event handler');
    const valid = validateState(state);
    this.clk.load({ nowNs: valid.nowNs });
    this.nextSeq = valid.nextSeq;
    this.live.clear();
    for (const e of valid.events) this.live.add(e.id);
    this.tombstones = 0;
    // Events in firing order already form a valid min-heap; replaceAll re-checks in O(n) anyway.
    this.heap.replaceAll(valid.events);
  }

  private insert(timeNs: number, kind: string, payload: JsonValue): number {
    if (typeof kind !== 'string') {
      throw new TypeError(`Scheduler.schedule: kind must be a string, got ${show(kind)}`);
    }
    // id and seq are the same insertion counter: unique, and it breaks ties in insertion order.
    const seq = this.nextSeq++;
    this.heap.push(makeEvent(seq, timeNs, seq, kind, payload));
    this.live.add(seq);
    return seq;
  }

  /** The first live event, discarding cancelled ones that reached the top of the heap. */
  private head(): ScheduledEvent | undefined {
    const heap = this.heap;
    let e = heap.peek();
    // Fast path: with no tombstones in the heap, the top is live without a lookup.
    while (e !== undefined && this.tombstones > 0 && !this.live.has(e.id)) {
      heap.pop();
      this.tombstones--;
      e = heap.peek();
    }
    return e;
  }

  /** Dispatches e, which must be the live head. Everything that can fail is checked before the pop. */
  private dispatchHead(e: ScheduledEvent): void {
    // One-entry cache: runs of the same kind are common and a string compare beats a Map lookup.
    const handler = this.lastKind === e.kind ? this.lastHandler : this.handlers.get(e.kind);
    if (handler === undefined) {
      throw new Error(
        `Scheduler: no handler registered for event kind '${e.kind}' (event ${e.id} at ${e.timeNs} ns); ` +
          `the event stays queued: register one with on('${e.kind}', ...) and step again`,
      );
    }
    this.lastKind = e.kind;
    this.lastHandler = handler;
    this.clk.advanceTo(e.timeNs); // throws without side effects if someone moved a shared clock past e
    this.heap.pop();
    this.live.delete(e.id);
    handler(e.payload, e);
  }

  private enterRun(name: string): void {
    if (this.running) {
      throw new Error(
        `Scheduler.${name}: called from inside an event handler; handlers may only schedule and cancel`,
      );
    }
    this.running = true;
  }

  private sortedLive(): ScheduledEvent[] {
    return this.heap
      .unordered()
      .filter((e) => this.live.has(e.id))
      .sort(compareFiring);
  }

  private compact(): void {
    this.heap.replaceAll(this.heap.unordered().filter((e) => this.live.has(e.id)));
    this.tombstones = 0;
  }
}

// Always the same property order, so every event object shares one hidden class and the heap stays monomorphic.
function makeEvent(
  id: number,
  timeNs: number,
  seq: number,
  kind: string,
  payload: JsonValue,
): ScheduledEvent {
  return { id, timeNs, seq, kind, payload };
}

/**
 * A deep copy, so the snapshot shares nothing with live state. This is also where a payload that is not JSON
 * (undefined, a class instance...) is caught: checking every payload at schedule() would cost the hot path.
 */
function snapshotPayload(e: ScheduledEvent): JsonValue {
  try {
    return cloneJson(e.payload);
  } catch (err) {
    throw new TypeError(`Scheduler.save: payload of event ${e.id} ('${e.kind}'): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function checkMaxEvents(method: string, maxEvents: number): void {
  if (!isSafeNonNegInt(maxEvents)) {
    throw new RangeError(
      `Scheduler.${method}: maxEvents must be a non-negative safe integer, got ${show(maxEvents)}`,
    );
  }
}

function validateState(state: unknown): { nowNs: number; nextSeq: number; events: ScheduledEvent[] } {
  const fail = (what: string): never => {
    throw new TypeError(`Scheduler.restore: malformed state: ${what}`);
  };
  if (!isRecord(state)) return fail(`expected an object, got ${show(state)}`);
  const { nowNs, nextSeq, events } = state;
  if (!isSafeNonNegInt(nowNs)) return fail(`nowNs must be a non-negative safe integer, got ${show(nowNs)}`);
  if (!isSafeNonNegInt(nextSeq)) {
    return fail(`nextSeq must be a non-negative safe integer, got ${show(nextSeq)}`);
  }
  if (!Array.isArray(events)) return fail(`events must be an array, got ${show(events)}`);
  const ids = new Set<number>();
  const out: ScheduledEvent[] = [];
  let previous: ScheduledEvent | undefined;
  for (let i = 0; i < events.length; i++) {
    const raw: unknown = events[i];
    const at = `events[${i}]`;
    if (!isRecord(raw)) return fail(`${at} must be an object, got ${show(raw)}`);
    const { id, timeNs, seq, kind, payload } = raw;
    if (!isSafeNonNegInt(id) || id >= nextSeq) {
      return fail(`${at}.id must be an integer in [0, nextSeq), got ${show(id)}`);
    }
    if (ids.has(id)) return fail(`${at}.id ${id} is not unique`);
    ids.add(id);
    if (!isSafeNonNegInt(seq) || seq >= nextSeq) {
      return fail(`${at}.seq must be an integer in [0, nextSeq), got ${show(seq)}`);
    }
    if (!isSafeNonNegInt(timeNs) || timeNs < nowNs) {
      return fail(`${at}.timeNs must be a safe integer >= nowNs (${nowNs}), got ${show(timeNs)}`);
    }
    if (typeof kind !== 'string') return fail(`${at}.kind must be a string, got ${show(kind)}`);
    if (!('payload' in raw)) return fail(`${at}.payload is missing`);
    let copied: JsonValue;
    try {
      copied = cloneJson(payload as JsonValue);
    } catch (err) {
      return fail(`${at}.payload: ${(err as Error).message}`);
    }
    const event = makeEvent(id, timeNs, seq, kind, copied);
    // Strictly increasing (timeNs, seq) also rules out duplicate seqs, which would make the order ambiguous.
    if (previous !== undefined && !firesBefore(previous, event)) {
      return fail(`${at} is not after ${`events[${i - 1}]`} in firing order (timeNs, then seq)`);
    }
    previous = event;
    out.push(event);
  }
  return { nowNs, nextSeq, events: out };
}
