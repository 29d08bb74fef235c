// The trace: an append-only record of what happened, in virtual time. Views read a bounded window of recent
// events; the hash covers the whole stream, so two runs can be compared for determinism with one string.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { isSafeNonNegInt, show } from './checks';
import { cloneJson, stableStringify } from './json';
import type { JsonValue } from './json';

/** Lines wait in a string until this many UTF-16 units, then go to the hash in one update. */
const HASH_BATCH_CHARS = 32_768;

/** A running SHA-256 over UTF-8 text. */
export interface Sha256Stream {
  update(text: string): void;
  /** Hex digest of everything so far, leaving the stream open for more. */
  hexDigest(): string;
}

export type Sha256StreamFactory = () => Sha256Stream;

/** SHA-256 from @noble/hashes: pure JS, runs everywhere (~80 MB/s here). */
export const nobleSha256Stream: Sha256StreamFactory = () => {
  const hasher = sha256.create();
  return {
    update: (text) => hasher.update(utf8ToBytes(text)),
    hexDigest: () => bytesToHex(hasher.clone().digest()),
  };
};

let defaultSha256: Sha256StreamFactory = nobleSha256Stream;

export interface TraceEvent {
  readonly t: number;
  readonly seq: number;
  readonly source: string;
  readonly kind: string;
  readonly data: JsonValue;
}

export interface TraceLogOptions {
  /** How many recent events window() keeps (default 10,000). */
  windowSize?: number;
}

export type TraceListener = (event: TraceEvent) => void;

export class TraceLog {
  private readonly windowSize: number;
  /** Ring buffer: event seq lives at index seq % windowSize. Grows to windowSize, then overwrites. */
  private readonly ring: TraceEvent[] = [];
  private count = 0;
  private lastT = 0;
  private readonly hasher: Sha256Stream;
  /** JSONL text appended since the hasher was last fed (batched: one update per ~32 KiB, not per line). */
  private unhashed = '';
  private readonly listeners = new Set<TraceListener>();

  constructor({ windowSize = 10_000 }: TraceLogOptions = {}) {
    if (!isSafeNonNegInt(windowSize) || windowSize < 1) {
      throw new RangeError(`TraceLog: windowSize must be a positive integer, got ${show(windowSize)}`);
    }
    this.windowSize = windowSize;
    this.hasher = defaultSha256();
  }

  /**
   * Sets the SHA-256 implementation new logs use. Node entry points (CLI, benchmarks) install Node's
   * native one, an order of magnitude faster than the portable default; the hash is the same either way.
   */
  static useSha256(factory: Sha256StreamFactory): void {
    defaultSha256 = factory;
  }

  get totalCount(): number {
    return this.count;
  }

  /**
   * Appends an event at virtual time t (ns, never before the previous event) and returns it. The data is
   * copied, so later changes by the caller cannot make the window disagree with the hash.
   */
  append(t: number, source: string, kind: string, data: JsonValue = null): TraceEvent {
    if (!isSafeNonNegInt(t) || t < this.lastT) {
      throw new RangeError(
        `TraceLog.append: t must be a safe integer >= the previous t (${this.lastT} ns), got ${show(t)}`,
      );
    }
    if (typeof source !== 'string' || typeof kind !== 'string') {
      throw new TypeError(
        `TraceLog.append: source and kind must be strings, got ${show(source)}, ${show(kind)}`,
      );
    }
    // Everything that can throw (invalid data) happens before any state changes.
    let copy = flatCopy(data);
    let dataText = flatText;
    if (copy === undefined) {
      copy = cloneJson(data);
      dataText = stableStringify(copy);
    }
    const event: TraceEvent = { t, seq: this.count, source, kind, data: copy };
    this.unhashed += `{"data":${dataText},"kind":${quoted(kind)},"seq":${event.seq},"source":${quoted(source)},"t":${t}}\n`;
    if (this.unhashed.length >= HASH_BATCH_CHARS) this.feedHasher();
    if (this.ring.length < this.windowSize) this.ring.push(event);
    else this.ring[this.count % this.windowSize] = event;
    this.count++;
    this.lastT = t;
    this.notify(event);
    return event;
  }

  /** The last windowSize events (fewer at first), oldest first. */
  window(): readonly TraceEvent[] {
    return this.since(0);
  }

  /** The events still in the window whose seq is >= the given one, oldest first. */
  since(seq: number): readonly TraceEvent[] {
    const first = Math.max(this.count - this.ring.length, Number.isFinite(seq) ? Math.ceil(seq) : 0);
    const out: TraceEvent[] = [];
    for (let s = first; s < this.count; s++) out.push(this.ring[s % this.windowSize] as TraceEvent);
    return out;
  }

  /** The canonical one-line form of an event, used for export and for the hash. */
  static toJsonLine(e: TraceEvent): string {
    return stableStringify({ t: e.t, seq: e.seq, source: e.source, kind: e.kind, data: e.data });
  }

  /** The window as JSON Lines, each line ending in '\n'. */
  toJsonl(): string {
    return this.window()
      .map((e) => `${TraceLog.toJsonLine(e)}\n`)
      .join('');
  }

  /**
   * Hex SHA-256 over every event's JSON line plus '\n' since creation, i.e. over the full JSONL stream. It is
   * maintained incrementally, so it does not depend on windowSize; digesting a clone keeps the running hash open.
   */
  traceHash(): string {
    this.feedHasher();
    return this.hasher.hexDigest();
  }

  private feedHasher(): void {
    if (this.unhashed.length === 0) return;
    this.hasher.update(this.unhashed);
    this.unhashed = '';
  }

  /** Calls listener after each append; returns the unsubscribe function. */
  subscribe(listener: TraceListener): () => void {
    // A wrapper per subscription, so subscribing the same function twice gives two independent subscriptions.
    const entry: TraceListener = (e) => listener(e);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /**
   * Every listener sees every event even if an earlier one throws; the first error is rethrown afterwards.
   * The append itself has already happened, so the log stays consistent either way.
   */
  private notify(event: TraceEvent): void {
    if (this.listeners.size === 0) return;
    let failure: { error: unknown } | undefined;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

/** JSON.stringify of the strings a trace repeats (kinds, sources, data keys), made once per string. */
const quotedCache = new Map<string, string>();
const QUOTED_CACHE_MAX = 4096;

function quoted(text: string): string {
  let q = quotedCache.get(text);
  if (q === undefined) {
    q = JSON.stringify(text);
    if (quotedCache.size < QUOTED_CACHE_MAX) quotedCache.set(text, q);
  }
  return q;
}

/** The canonical text of the last record flatCopy copied (a second result without an allocation). */
let flatText = '';
/** Scratch for flatCopy's keys, reused: one trace event is appended at a time. */
const flatKeys: string[] = [];

/**
 * Most trace data is one flat record of numbers and strings. For those, a shallow copy with its keys in
 * canonical order, and (in flatText) the canonical text, in one pass; undefined for anything else
 * (nested values, arrays, odd keys or values), which takes the general cloneJson/stableStringify path
 * and gets its checks and error messages. The line of an event is written out directly (keys sorted:
 * data, kind, seq, source, t), as stableStringify would, because one is made for every event.
 */
function flatCopy(data: JsonValue): JsonValue | undefined {
  if (data === null) {
    flatText = 'null';
    return null;
  }
  if (typeof data !== 'object' || Array.isArray(data) || Object.getPrototypeOf(data) !== Object.prototype) {
    return undefined;
  }
  // The own enumerable keys (for-in also walks the prototype, which is Object.prototype: nothing
  // enumerable), in the default sort's order: insertion sort, since there are few.
  const keys = flatKeys;
  let n = 0;
  for (const key in data) {
    let i = n++;
    while (i > 0 && (keys[i - 1] as string) > key) {
      keys[i] = keys[i - 1] as string;
      i--;
    }
    keys[i] = key;
  }
  const copy: Record<string, JsonValue> = {};
  let text = '{';
  for (let i = 0; i < n; i++) {
    const key = keys[i] as string;
    const value = data[key];
    let valueText: string;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return undefined;
      valueText = String(value);
    } else if (typeof value === 'string') valueText = JSON.stringify(value);
    else if (typeof value === 'boolean') valueText = value ? 'true' : 'false';
    else if (value === null) valueText = 'null';
    else return undefined;
    if (key === '__proto__') return undefined;
    copy[key] = value;
    text += i === 0 ? `${quoted(key)}:${valueText}` : `,${quoted(key)}:${valueText}`;
  }
  flatText = `${text}}`;
  return copy;
}
