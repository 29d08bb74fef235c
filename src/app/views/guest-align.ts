// The Guest view's model: the bytes the guest driver received set beside the bytes the TPM sent, aligned
// so that a lost byte shows as a gap, not as every later byte being "wrong". The alignment is a shortest
// edit script (Myers' O(ND) diff: a migration cut costs a byte or two, so D is small), then each edit is
// named: a truth byte the guest never got is missing; a received byte that repeats the one before it is
// duplicated; received bytes after the end of the truth are trailing (the 2011 report: the FIFO pointer
// moved twice, so the driver read one byte short of the response and then 0xff/0x00 past its end). Truth
// bytes after the last byte the guest received are unread, not missing: mid-read (where the 2011 scenario
// pauses) the guest simply has not got there yet, or its driver gave up.

export type AlignKind = 'same' | 'missing' | 'duplicated' | 'extra' | 'trailing' | 'changed' | 'unread';

export interface AlignedCell {
  kind: AlignKind;
  /** Position and value in what the TPM sent (null where the guest has a byte the TPM did not send). */
  truthIndex: number | null;
  truth: number | null;
  /** Position and value in what the guest received (null for a missing byte). */
  receivedIndex: number | null;
  received: number | null;
}

export interface Alignment {
  cells: AlignedCell[];
  counts: Record<AlignKind, number>;
  /** Index into cells of the first cell that is neither 'same' nor 'unread', or null. */
  firstDifference: number | null;
  /** True when the two differ too much for an edit script and are compared position by position. */
  positional: boolean;
  /** One or two sentences saying what the guest got wrong. */
  summary: string;
}

/** Past this many edits the diff gives up and compares position by position (bounded work per frame). */
export const MAX_EDITS = 64;

/** How far past the received bytes the diff looks in the truth (see alignBytes). */
const UNREAD_WINDOW = 16;

type Op = 'eq' | 'del' | 'ins';

/** Myers' greedy shortest edit script from truth (a) to received (b), or null if it needs > maxD edits. */
function editScript(a: readonly number[], b: readonly number[], maxD: number): Op[] | null {
  const n = a.length;
  const m = b.length;
  const offset = maxD + 1;
  const v = new Int32Array(2 * offset + 1);
  const history: Int32Array[] = [];
  for (let d = 0; d <= maxD; d++) {
    history.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      // Prefer a deletion (x + 1) unless an insertion reaches further: lost bytes before added ones.
      let x =
        k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))
          ? (v[offset + k + 1] as number)
          : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(history, offset, n, m, d);
    }
  }
  return null;
}

function backtrack(history: Int32Array[], offset: number, n: number, m: number, dEnd: number): Op[] {
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    const v = history[d] as Int32Array;
    const k = x - y;
    const down = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number));
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[offset + prevK] as number;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push('eq');
      x--;
      y--;
    }
    ops.push(down ? 'ins' : 'del');
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push('eq');
    x--;
    y--;
  }
  return ops.reverse();
}

function positionalOps(n: number, m: number): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < Math.min(n, m); i++) ops.push('eq');
  for (let i = m; i < n; i++) ops.push('del');
  for (let i = n; i < m; i++) ops.push('ins');
  return ops;
}

/** Aligns what the guest received with what the TPM sent and names every difference. */
export function alignBytes(received: readonly number[], truth: readonly number[]): Alignment {
  // Mid-read the guest has a prefix of the response: diff only as much of the truth as the received bytes
  // could reach, so the unread rest costs no edits; it follows as deletions (unread, below).
  const head = Math.min(truth.length, received.length + UNREAD_WINDOW);
  const script = editScript(truth.slice(0, head), received, MAX_EDITS + UNREAD_WINDOW);
  const positional = script === null;
  const ops = script ?? positionalOps(head, received.length);
  for (let i = head; i < truth.length; i++) ops.push('del');
  const cells: AlignedCell[] = [];
  let t = 0;
  let r = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (op === 'eq') {
      const same = truth[t] === received[r];
      cells.push({
        kind: same ? 'same' : 'changed',
        truthIndex: t,
        truth: truth[t] ?? null,
        receivedIndex: r,
        received: received[r] ?? null,
      });
      t++;
      r++;
    } else if (
      op === 'del' &&
      ops[i + 1] === 'ins' &&
      truth[t] !== undefined &&
      !restIsInsertions(ops, i + 1)
    ) {
      // A byte replaced by another in the same place: one changed cell, not a gap and an extra.
      cells.push({
        kind: 'changed',
        truthIndex: t,
        truth: truth[t] ?? null,
        receivedIndex: r,
        received: received[r] ?? null,
      });
      t++;
      r++;
      i++;
    } else if (op === 'del') {
      cells.push({
        kind: 'missing',
        truthIndex: t,
        truth: truth[t] ?? null,
        receivedIndex: null,
        received: null,
      });
      t++;
    } else {
      const value = received[r] ?? null;
      const kind: AlignKind =
        t >= truth.length ? 'trailing' : r > 0 && received[r - 1] === value ? 'duplicated' : 'extra';
      cells.push({ kind, truthIndex: null, truth: null, receivedIndex: r, received: value });
      r++;
    }
  }
  // The tail of the truth after the last byte received: not read (yet), rather than lost.
  for (let i = cells.length - 1; i >= 0 && (cells[i] as AlignedCell).receivedIndex === null; i--) {
    (cells[i] as AlignedCell).kind = 'unread';
  }
  const counts: Record<AlignKind, number> = {
    unread: 0,
    same: 0,
    missing: 0,
    duplicated: 0,
    extra: 0,
    trailing: 0,
    changed: 0,
  };
  for (const c of cells) counts[c.kind]++;
  const first = cells.findIndex((c) => c.kind !== 'same' && c.kind !== 'unread');
  return {
    cells,
    counts,
    firstDifference: first < 0 ? null : first,
    positional,
    summary: summarise(cells, counts, received.length, truth.length),
  };
}

function restIsInsertions(ops: readonly Op[], from: number): boolean {
  for (let i = from; i < ops.length; i++) if (ops[i] !== 'ins') return false;
  return true;
}

const hexByte = (v: number | null): string => (v === null ? '--' : `0x${v.toString(16).padStart(2, '0')}`);

function listOf(cells: readonly AlignedCell[], what: (c: AlignedCell) => string): string {
  const shown = cells.slice(0, 4).map(what).join(', ');
  return cells.length > 4 ? `${shown} and ${cells.length - 4} more` : shown;
}

function summarise(
  cells: readonly AlignedCell[],
  counts: Record<AlignKind, number>,
  got: number,
  sent: number,
): string {
  const unread = counts.unread ? `${counts.unread} byte${counts.unread === 1 ? '' : 's'} not read (yet)` : '';
  if (cells.every((c) => c.kind === 'same' || c.kind === 'unread')) {
    if (sent === 0 && got === 0) return 'Nothing sent, nothing received.';
    return counts.unread
      ? `The guest has read ${got} of the ${sent} bytes the TPM sent, all as sent; ${unread}.`
      : `The guest received exactly the ${sent} bytes the TPM sent.`;
  }
  const parts: string[] = [];
  const of = (kind: AlignKind) => cells.filter((c) => c.kind === kind);
  if (counts.missing)
    parts.push(`missing ${listOf(of('missing'), (c) => `byte ${c.truthIndex} (${hexByte(c.truth)})`)}`);
  if (counts.duplicated)
    parts.push(
      `duplicated ${listOf(of('duplicated'), (c) => `${hexByte(c.received)} at received byte ${c.receivedIndex}`)}`,
    );
  if (counts.changed)
    parts.push(
      `changed ${listOf(of('changed'), (c) => `byte ${c.truthIndex} (${hexByte(c.truth)} → ${hexByte(c.received)})`)}`,
    );
  if (counts.extra) parts.push(`${counts.extra} extra byte${counts.extra === 1 ? '' : 's'}`);
  if (counts.trailing) {
    const values = [...new Set(of('trailing').map((c) => hexByte(c.received)))].join('/');
    parts.push(
      `${counts.trailing} trailing byte${counts.trailing === 1 ? '' : 's'} (${values}) past the end of the response`,
    );
  }
  if (unread) parts.push(unread);
  return `The guest received ${got} bytes, the TPM sent ${sent}: ${parts.join('; ')}.`;
}
