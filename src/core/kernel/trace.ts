// The trace: an append-only record of what happened, in virtual time. Views read a bounded window of recent
// events; the hash covers the whole stream, so two runs can be compared for determinism with one string.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { isSafeNonNegInt, show } from './checks';
import { cloneJson, stableStringify } from './json';
import type { JsonValue } from './json';

/** Lines wait in pieces (~6 characters each) until about this many, then go to the hash in one update. */
const HASH_BATCH_PIECES = 4096;

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
  /** The end of a line: `,"source":<source>,"t":<t>}` and a newline, for lastTailSource at lastT (runs
   * of events share both). */
  private lastTail = '';
  private lastTailSource = '';
  private readonly hasher: Sha256Stream;
  /** JSONL text appended since the hasher was last fed (batched: one update per ~4096 pieces, not per
   * line). */
  private readonly unhashed = new TextBatch();
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
    // Everything that can throw (invalid data) happens before any state changes: the pieces of the line
    // go to the batch, and are taken back if the data is not a flat record.
    const parts = this.unhashed;
    const mark = parts.count;
    let copy = flatCopy(data, parts);
    let closeData = flatOpen;
    if (copy === undefined) {
      parts.count = mark;
      copy = cloneJson(data);
      parts.push('{"data":');
      parts.push(stableStringify(copy));
      closeData = false;
    }
    const seq = this.count;
    const event: TraceEvent = { t, seq, source, kind, data: copy };
    parts.push(kindPart(kind, closeData));
    parts.push(String(seq));
    if (t !== this.lastT || source !== this.lastTailSource || this.lastTail === '') {
      this.lastTail = `,"source":${quoted(source)},"t":${t}}\n`;
      this.lastTailSource = source;
    }
    parts.push(this.lastTail);
    if (parts.count >= HASH_BATCH_PIECES) this.feedHasher();
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
    if (this.unhashed.count === 0) return;
    this.hasher.update(this.unhashed.take());
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

/**
 * Text as pieces in an array that is reused from batch to batch: adding a piece allocates nothing (a
 * string concatenation per piece would make a cons string each), and the text is joined once per batch.
 */
class TextBatch {
  private readonly pieces: string[] = new Array<string>(HASH_BATCH_PIECES + 64).fill('');
  /** Pieces in the batch; lowering it drops the last ones. */
  count = 0;

  push(piece: string): void {
    this.pieces[this.count++] = piece;
  }

  /** The text of the batch, which is then empty. Concatenated here rather than joined: V8's cons strings
   * (flattened once by the hasher, then garbage at once) are several times faster than Array.join. */
  take(): string {
    const pieces = this.pieces;
    let text = '';
    for (let i = 0; i < this.count; i++) {
      text += pieces[i] as string;
      pieces[i] = '';
    }
    this.count = 0;
    return text;
  }
}

/** `,"kind":<kind>,"seq":`, the piece of a line between its data and its seq, per kind; with a `}` first
 * for data that flatCopy left open. */
const kindParts = new Map<string, string>();
const closingKindParts = new Map<string, string>();

function kindPart(kind: string, closeData: boolean): string {
  const cache = closeData ? closingKindParts : kindParts;
  let part = cache.get(kind);
  if (part === undefined) {
    part = `${closeData ? '}' : ''},"kind":${JSON.stringify(kind)},"seq":`;
    if (cache.size < QUOTED_CACHE_MAX) cache.set(kind, part);
  }
  return part;
}

/** The pieces before a value in a record, per key: `{"data":{"key":` (the event's data record's first
 * key), `{"key":` (a nested record's first key) and `,"key":` (any later key). */
type KeyPosition = '{"data":{' | '{' | ',';
const keyPartCaches: Record<KeyPosition, Map<string, string>> = {
  '{"data":{': new Map(),
  '{': new Map(),
  ',': new Map(),
};

function keyPart(key: string, position: KeyPosition): string {
  const cache = keyPartCaches[position];
  let part = cache.get(key);
  if (part === undefined) {
    part = `${position}${JSON.stringify(key)}:`;
    if (cache.size < QUOTED_CACHE_MAX) cache.set(key, part);
  }
  return part;
}

/** Whether flatCopy's last record is left open (its `}` comes with the kind piece). */
let flatOpen = false;
/** Scratch arrays for the keys of records being written, one per nesting depth, reused: one trace event
 * is appended at a time. */
const keyScratch: string[][] = [];
/** Records and arrays nest at most this deep on the fast path (deeper data, and cycles, take the checked
 * path, which names a cycle). */
const MAX_FAST_DEPTH = 8;

/**
 * Most trace data is a record of numbers and strings, some with a nested record or array (a guest mark's
 * data). For those, a copy with its keys in canonical order, its canonical text pushed to `out` in pieces
 * (as `{"data":` and the record, without its closing brace when flatOpen is set); undefined for anything
 * else (odd keys or values, too deep), which takes the general cloneJson/stableStringify path and gets
 * its checks and error messages (the caller takes back what was pushed). The line of an event is written
 * out directly (keys sorted: data, kind, seq, source, t), as stableStringify would, because one is made
 * for every event.
 */
function flatCopy(data: JsonValue, out: TextBatch): JsonValue | undefined {
  flatOpen = false;
  if (data === null) {
    out.push('{"data":null');
    return null;
  }
  if (typeof data !== 'object' || !isPlainRecord(data)) return undefined;
  return recordCopy(data as Record<string, JsonValue>, out, 0);
}

function isPlainRecord(value: object): boolean {
  return !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** A record's copy; its text goes to `out` as `{"data":{"k":v,...` at depth 0 (left open: see flatOpen),
 * else as `{"k":v,...}`. */
function recordCopy(
  data: Record<string, JsonValue>,
  out: TextBatch,
  depth: number,
): Record<string, JsonValue> | undefined {
  // The own enumerable keys (for-in also walks the prototype, which is Object.prototype: nothing
  // enumerable), in the default sort's order: insertion sort, since there are few.
  const keys = (keyScratch[depth] ??= []);
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
  for (let i = 0; i < n; i++) {
    const key = keys[i] as string;
    if (key === '__proto__') return undefined;
    out.push(keyPart(key, i > 0 ? ',' : depth === 0 ? '{"data":{' : '{'));
    const value = valueCopy(data[key] as JsonValue, out, depth);
    if (value === undefined) return undefined;
    copy[key] = value;
  }
  if (n === 0) out.push(depth === 0 ? '{"data":{}' : '{}');
  else if (depth > 0) out.push('}');
  else flatOpen = true;
  return copy;
}

/** A value's copy, its text pushed to `out`; undefined when the checked path must take it. */
function valueCopy(value: JsonValue, out: TextBatch, depth: number): JsonValue | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    out.push(String(value));
  } else if (typeof value === 'string') out.push(JSON.stringify(value));
  else if (typeof value === 'boolean') out.push(value ? 'true' : 'false');
  else if (value === null) out.push('null');
  else if (typeof value !== 'object' || depth + 1 > MAX_FAST_DEPTH) return undefined;
  else if (Array.isArray(value)) return arrayCopy(value, out, depth + 1);
  else if (isPlainRecord(value)) return recordCopy(value as Record<string, JsonValue>, out, depth + 1);
  else return undefined;
  return value;
}

function arrayCopy(items: readonly JsonValue[], out: TextBatch, depth: number): JsonValue[] | undefined {
  const copy: JsonValue[] = [];
  out.push('[');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out.push(',');
    if (!(i in items)) return undefined; // a hole: the checked path decides
    const item = valueCopy(items[i] as JsonValue, out, depth);
    if (item === undefined) return undefined;
    copy.push(item);
  }
  out.push(']');
  return copy;
}
