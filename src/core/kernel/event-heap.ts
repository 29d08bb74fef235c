// The scheduler's priority queue: an array-backed binary min-heap ordered by (timeNs, seq). It is written for
// one item shape and compares fields inline (no comparator callback) because it sits on the hottest path of
// the simulator: every event is pushed once and popped once.

export interface Timed {
  readonly timeNs: number;
  readonly seq: number;
}

/** Firing order: earlier time first, and at equal times the earlier insertion (lower seq) first. */
export function firesBefore(a: Timed, b: Timed): boolean {
  return a.timeNs < b.timeNs || (a.timeNs === b.timeNs && a.seq < b.seq);
}

export function compareFiring(a: Timed, b: Timed): number {
  return a.timeNs - b.timeNs || a.seq - b.seq;
}

export class EventHeap<T extends Timed> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    // Sift up with a hole instead of swaps: one write per level.
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (!(item.timeNs < parent.timeNs || (item.timeNs === parent.timeNs && item.seq < parent.seq))) break;
      items[i] = parent;
      i = parentIndex;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop() as T;
    const n = items.length;
    if (n > 0) this.siftDown(last, 0, n);
    return top;
  }

  /** All items, unordered (heap layout). */
  unordered(): readonly T[] {
    return this.items;
  }

  /** Replaces the content with the given items (any order) in O(n). */
  replaceAll(items: T[]): void {
    this.items = items;
    const n = items.length;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(items[i] as T, i, n);
  }

  private siftDown(item: T, start: number, n: number): void {
    const items = this.items;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let c = items[child] as T;
      const right = child + 1;
      if (right < n) {
        const r = items[right] as T;
        if (r.timeNs < c.timeNs || (r.timeNs === c.timeNs && r.seq < c.seq)) {
          child = right;
          c = r;
        }
      }
      if (!(c.timeNs < item.timeNs || (c.timeNs === item.timeNs && c.seq < item.seq))) break;
      items[i] = c;
      i = child;
    }
    items[i] = item;
  }
}
