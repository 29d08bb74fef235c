// A set of non-negative safe integers (event ids), for the scheduler's "is this id still pending" question.
// A built-in Set<number> costs 70-500 ns per add+delete in V8 once ids grow past the small-integer cache;
// this open-addressing table on a Float64Array costs a few ns. Ids are consecutive insertion counters, so the
// identity hash (low bits) spreads them perfectly and keeps neighbouring ids in neighbouring slots.

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
    const keys = this.keys;
    const mask = this.mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === id) return true;
      if (k === EMPTY) return false;
    }
  }

  /** Adds id (a non-negative safe integer not already present: the scheduler never re-adds a live id). */
  add(id: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    const keys = this.keys;
    const mask = this.mask;
    let i = id & mask;
    while (keys[i] !== EMPTY) i = (i + 1) & mask;
    keys[i] = id;
    this.count++;
  }

  /** Removes id; returns whether it was present. */
  delete(id: number): boolean {
    const keys = this.keys;
    const mask = this.mask;
    let i = id & mask;
    for (;;) {
      const k = keys[i];
      if (k === id) break;
      if (k === EMPTY) return false;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion (no tombstones): pull later members of the probe run into the hole when the
    // hole lies between their home slot and their current slot, so every lookup still finds them.
    let hole = i;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j] as number;
      if (k === EMPTY) break;
      const home = k & mask;
      const distHole = (hole - home) & mask;
      const distHere = (j - home) & mask;
      if (distHole < distHere) {
        keys[hole] = k;
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.count--;
    // Shrink after a burst drains, so one million-event run does not pin a large table forever.
    if (this.keys.length > MIN_CAPACITY && this.count * 8 < this.keys.length) this.resize(this.keys.length / 2);
    return true;
  }

  clear(): void {
    this.keys = new Float64Array(MIN_CAPACITY).fill(EMPTY);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
  }

  private resize(capacity: number): void {
    const old = this.keys;
    const keys = new Float64Array(capacity).fill(EMPTY);
    const mask = capacity - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j] as number;
      if (k === EMPTY) continue;
      let i = k & mask;
      while (keys[i] !== EMPTY) i = (i + 1) & mask;
      keys[i] = k;
    }
    this.keys = keys;
    this.mask = mask;
  }
}
