// A set of non-negative safe integers (event ids), for the scheduler's "is this id still pending" question.
// A built-in Set<number> costs 70-500 ns per add+delete in V8 once ids grow past the small-integer range;
// this open-addressing table on a Float64Array costs a few ns.
//
// Ids are consecutive insertion counters, so the identity hash (low bits) puts neighbouring ids in
// neighbouring slots: no collisions and cache-friendly. Plain linear probing would then form one long run
// and make deletion scan it to the end (quadratic); Robin Hood ordering lets deletion stop at the first key
// that sits in its home slot, keeping every operation O(1) expected.

const EMPTY = -1;
const MIN_CAPACITY = 16;

export class IdSet {
  private keys = new Float64Array(MIN_CAPACITY).fill(EMPTY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.find(id) >= 0;
  }

  /** Adds id, a non-negative safe integer not already present (the scheduler never re-adds a live id). */
  add(id: number): void {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new RangeError(`IdSet.add: not a non-negative safe integer: ${id}`);
    }
    if ((this.count + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    this.place(id);
    this.count++;
  }

  /** Removes id; returns whether it was present. */
  delete(id: number): boolean {
    const found = this.find(id);
    if (found < 0) return false;
    const keys = this.keys;
    const mask = this.mask;
    // Backward shift: pull the following displaced keys one slot towards home, stopping at an empty slot or
    // at a key already in its home slot. No tombstones, so lookups never slow down over time.
    let hole = found;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j] as number;
      if (k === EMPTY || (k & mask) === j) break;
      keys[hole] = k;
      hole = j;
    }
    keys[hole] = EMPTY;
    this.count--;
    // Shrink after a burst drains, so one million-event run does not pin a large table forever.
    if (this.keys.length > MIN_CAPACITY && this.count * 8 < this.keys.length) {
      this.resize(this.keys.length / 2);
    }
    return true;
  }

  clear(): void {
    this.keys = new Float64Array(MIN_CAPACITY).fill(EMPTY);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
  }

  /** The slot holding id, or -1. Stops early once the probe is farther from home than the resident key. */
  private find(id: number): number {
    if (!(id >= 0)) return -1; // negative numbers and NaN are never members; -1 would match EMPTY
    const keys = this.keys;
    const mask = this.mask;
    for (let i = id & mask, dist = 0; ; i = (i + 1) & mask, dist++) {
      const k = keys[i] as number;
      if (k === id) return i;
      if (k === EMPTY || ((i - (k & mask)) & mask) < dist) return -1;
    }
  }

  /** Robin Hood insertion: a key farther from its home slot takes the place of one nearer to its own. */
  private place(id: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let cur = id;
    for (let i = cur & mask, dist = 0; ; i = (i + 1) & mask, dist++) {
      const k = keys[i] as number;
      if (k === EMPTY) {
        keys[i] = cur;
        return;
      }
      const kDist = (i - (k & mask)) & mask;
      if (kDist < dist) {
        keys[i] = cur;
        cur = k;
        dist = kDist;
      }
    }
  }

  private resize(capacity: number): void {
    const old = this.keys;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j] as number;
      if (k !== EMPTY) this.place(k);
    }
  }
}
