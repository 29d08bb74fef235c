import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { TraceEvent } from '../../core/kernel/trace';
import { createMachine } from '../../core/vm';
import {
  LANES,
  describeEvent,
  laneOf,
  laneRows,
  laneSpans,
  spanCovering,
  registerName,
  visibleRange,
  type LaneRow,
} from './lanes';

const ev = (source: string, kind: string, data: TraceEvent['data'] = {}, t = 0, seq = 0): TraceEvent => ({
  t,
  seq,
  source,
  kind,
  data,
});

async function keygenTrace(): Promise<readonly TraceEvent[]> {
  const machine = await createMachine({
    seed: 'lanes',
    guest: { driver: 'linux-2.6.37', workload: 'keygen' },
  });
  await machine.run({ until: { kind: 'transactionsDone', count: 1 } });
  return machine.trace.window();
}

describe('laneOf', () => {
  it('puts one MMIO access on the lanes of its three steps: KVM exit, QEMU TIS access, KVM re-entry', () => {
    expect(laneOf(ev('kvm', 'kvm_exit'))).toBe('KVM');
    expect(laneOf(ev('qemu', 'memory_region_ops_read'))).toBe('QEMU TIS');
    expect(laneOf(ev('tis', 'tpm_tis_mmio_read'))).toBe('QEMU TIS');
    expect(laneOf(ev('tis', 'tpm_tis_data_read'))).toBe('QEMU TIS');
    expect(laneOf(ev('kvm', 'kvm_run'))).toBe('KVM');
    expect(laneOf(ev('guest', 'mark'))).toBe('vCPU');
    expect(laneOf(ev('vcpu', 'mmio_reexecuted'))).toBe('vCPU');
  });

  it('follows a command through the backend thread, the TPM and the bottom half on the main loop', () => {
    expect(laneOf(ev('tis', 'tpm_tis_tpm_send'))).toBe('QEMU TIS');
    expect(laneOf(ev('backend', 'tpm_backend_deliver_request'))).toBe('backend thread');
    expect(laneOf(ev('backend', 'tpm_emulator_unix_tx_bufs'))).toBe('TPM worker');
    expect(laneOf(ev('backend', 'tpm_backend_worker_thread'))).toBe('backend thread');
    expect(laneOf(ev('backend', 'tpm_backend_request_completed'))).toBe('main loop (bottom half)');
    expect(laneOf(ev('tis', 'tpm_tis_request_completed'))).toBe('main loop (bottom half)');
  });

  it('puts savevm, the state blobs and an incoming migration on the migration lane; a pause on the main loop', () => {
    expect(laneOf(ev('migration', 'savevm_start'))).toBe('migration');
    expect(laneOf(ev('backend', 'tpm_emulator_pre_save'))).toBe('migration');
    expect(laneOf(ev('backend', 'tpm_emulator_get_state_blob'))).toBe('migration');
    expect(laneOf(ev('backend', 'tpm_emulator_set_state_blobs_done'))).toBe('migration');
    expect(laneOf(ev('qemu', 'vm_state_notify', { running: 0, reason: 'inmigrate' }))).toBe('migration');
    expect(laneOf(ev('qemu', 'vm_state_notify', { running: 0, reason: 'paused' }))).toBe(
      'main loop (bottom half)',
    );
  });

  it('shows a hazard where it happens', () => {
    expect(laneOf(ev('hazard', 'duplicated-mmio-read'))).toBe('vCPU');
    expect(laneOf(ev('hazard', 'double-execution'))).toBe('TPM worker');
    expect(laneOf(ev('hazard', 'lost-response'))).toBe('main loop (bottom half)');
    expect(laneOf(ev('elsewhere', 'x'))).toBeNull();
  });

  it('places every event of a real keygen transaction on one of the seven lanes', async () => {
    const events = await keygenTrace();
    expect(events.length).toBeGreaterThan(1000);
    const used = new Set(events.map((e) => laneOf(e)));
    expect(used.has(null)).toBe(false);
    for (const lane of ['vCPU', 'KVM', 'QEMU TIS', 'backend thread', 'main loop (bottom half)', 'TPM worker'])
      expect(used.has(lane as (typeof LANES)[number])).toBe(true);
    for (const e of events) expect(describeEvent(e).length).toBeGreaterThan(0);
  });
});

describe('describeEvent', () => {
  it('names registers and values the way the TIS spec does', () => {
    expect(registerName(0xfed40024)).toBe('l0 DATA_FIFO');
    expect(registerName(0x2018)).toBe('l2 STS');
    expect(registerName(0x0f00)).toBe('l0 DID_VID');
    expect(describeEvent(ev('kvm', 'kvm_exit', { addr: 0xfed40024, isWrite: false, len: 1 }))).toBe(
      'exit R1 l0 DATA_FIFO',
    );
    expect(describeEvent(ev('kvm', 'kvm_run', { data: 0x80, rip: 4 }))).toBe('re-enter, guest gets 0x80');
    expect(describeEvent(ev('tis', 'tpm_tis_data_read', { off: 6, value: 0 }))).toBe('FIFO[6] → 0x0');
    expect(
      describeEvent(ev('backend', 'tpm_emulator_unix_tx_bufs', { inLen: 67, durationNs: 12_000_000 })),
    ).toBe('TPM executes 67 B command (12 ms)');
    expect(describeEvent(ev('hazard', 'lost-response', { title: 'Lost response' }))).toBe('⚠ Lost response');
    expect(describeEvent(ev('backend', 'tpm_emulator_set_locality', { locality: 0 }))).toBe(
      'set_locality locality=0',
    );
  });
});

describe('laneSpans', () => {
  it('opens a KVM span at the exit and closes it at the re-entry, and leaves a cut one open', () => {
    const events = [
      ev('kvm', 'kvm_exit'),
      ev('tis', 'tpm_tis_mmio_read'),
      ev('kvm', 'kvm_run'),
      ev('kvm', 'kvm_exit'),
      ev('qemu', 'vm_state_notify', { running: 0, reason: 'paused' }),
    ];
    const spans = laneSpans(events);
    expect(spans.filter((s) => s.lane === 'KVM').map((s) => [s.start, s.end])).toEqual([
      [0, 2],
      [3, null],
    ]);
    expect(spans.find((s) => s.lane === 'vCPU')).toMatchObject({ start: 4, end: null });
  });

  it('in a real transaction the TPM executes while the backend thread waits, then the bottom half is pending', async () => {
    const events = await keygenTrace();
    const spans = laneSpans(events);
    const tpm = spans.find((s) => s.lane === 'TPM worker');
    const thread = spans.find((s) => s.lane === 'backend thread');
    const bh = spans.find((s) => s.lane === 'main loop (bottom half)');
    expect(tpm && thread && bh).toBeTruthy();
    expect(thread!.start).toBeLessThan(tpm!.start);
    expect(tpm!.end).toBe(thread!.end);
    expect(bh!.start).toBe(tpm!.end);
    expect(events[bh!.end!]?.kind).toBe('tpm_backend_request_completed');
    // Every KVM span of the finished transaction is closed: each exit was re-entered.
    const kvm = spans.filter((s) => s.lane === 'KVM');
    expect(kvm.length).toBeGreaterThan(300);
    expect(kvm.slice(0, -1).every((s) => s.end !== null && events[s.end]?.kind === 'kvm_run')).toBe(true);
  });
});

describe('spanCovering', () => {
  it('finds the span over an event, open spans reaching to the end', () => {
    const spans = laneSpans([
      ev('kvm', 'kvm_exit'),
      ev('kvm', 'kvm_run'),
      ev('tis', 'tpm_tis_mmio_read'),
      ev('kvm', 'kvm_exit'),
      ev('tis', 'tpm_tis_mmio_read'),
    ]);
    expect([0, 1, 2, 3, 4, 99].map((i) => spanCovering(spans, i)?.start ?? null)).toEqual([
      0,
      0,
      null,
      3,
      3,
      3,
    ]);
  });
});

describe('laneRows', () => {
  const events = [10, 20, 20, 30].map((t, i) => ({ t, seq: i }));

  it('places a marker after the events at or before its time', () => {
    const rows = laneRows(events, [
      { t: 20, label: 'snapshot' },
      { t: 0, label: 'start' },
      { t: 99, label: 'migrate' },
    ]);
    const all = Array.from({ length: rows.count }, (_, r) => rows.at(r));
    expect(all).toEqual<LaneRow[]>([
      { type: 'marker', marker: { t: 0, label: 'start' }, before: 0 },
      { type: 'event', index: 0 },
      { type: 'event', index: 1 },
      { type: 'event', index: 2 },
      { type: 'marker', marker: { t: 20, label: 'snapshot' }, before: 3 },
      { type: 'event', index: 3 },
      { type: 'marker', marker: { t: 99, label: 'migrate' }, before: 4 },
    ]);
    expect([0, 1, 2, 3].map((i) => rows.rowOfEvent(i))).toEqual([1, 2, 3, 5]);
    expect(rows.markerRows).toEqual([4, 0, 6]);
  });

  it('places a marker with a seq exactly, between events that share its time', () => {
    const rows = laneRows(events, [{ t: 20, label: 'migration 1', seq: 2 }]);
    expect(rows.markerRows).toEqual([2]);
    expect(rows.at(2)).toEqual({
      type: 'marker',
      marker: { t: 20, label: 'migration 1', seq: 2 },
      before: 2,
    });
    expect(rows.at(-1)).toBeUndefined();
    expect(rows.at(7)).toBeUndefined();
  });

  it('agrees with a plain merge for any events and markers (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(50), { maxLength: 40 }),
        fc.array(fc.nat(60), { maxLength: 8 }),
        (ts, ms) => {
          const evs = [...ts].sort((a, b) => a - b).map((t, i) => ({ t, seq: i }));
          const markers = ms.map((t, i) => ({ t, label: `m${i}` }));
          const rows = laneRows(evs, markers);
          // Reference: walk events, inserting markers (stable by time) once the next event is later.
          const sortedMarkers = markers.map((m, i) => ({ m, i })).sort((a, b) => a.m.t - b.m.t || a.i - b.i);
          const expected: string[] = [];
          let k = 0;
          for (let i = 0; i <= evs.length; i++) {
            while (k < sortedMarkers.length && (i === evs.length || evs[i]!.t > sortedMarkers[k]!.m.t))
              expected.push(sortedMarkers[k++]!.m.label);
            if (i < evs.length) expected.push(`e${i}`);
          }
          const got = Array.from({ length: rows.count }, (_, r) => {
            const row = rows.at(r)!;
            return row.type === 'event' ? `e${row.index}` : row.marker.label;
          });
          expect(got).toEqual(expected);
          evs.forEach((_, i) => expect(got[rows.rowOfEvent(i)]).toBe(`e${i}`));
          markers.forEach((m, i) => expect(got[rows.markerRows[i]!]).toBe(m.label));
        },
      ),
    );
  });

  it('builds the rows of 100k events without touching each one', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => ({ t: i * 500, seq: i }));
    const rows = laneRows(many, [{ t: 25_000_000, label: 'savevm' }]);
    expect(rows.count).toBe(100_001);
    expect(rows.at(50_001)).toEqual({
      type: 'marker',
      marker: { t: 25_000_000, label: 'savevm' },
      before: 50_001,
    });
    expect(rows.at(100_000)).toEqual({ type: 'event', index: 99_999 });
  });
});

describe('visibleRange', () => {
  it('renders the rows in view plus an overscan, clamped to the list', () => {
    expect(visibleRange(0, 200, 20, 100_000, 5)).toEqual({ first: 0, last: 15 });
    expect(visibleRange(20_000, 200, 20, 100_000, 5)).toEqual({ first: 995, last: 1015 });
    expect(visibleRange(1e9, 200, 20, 100, 5)).toEqual({ first: 99, last: 99 });
    expect(visibleRange(0, 200, 20, 0)).toEqual({ first: 0, last: -1 });
    expect(visibleRange(Number.NaN, 200, 20, 10, 0)).toEqual({ first: 0, last: 9 });
  });

  it('never renders more than a screenful plus the overscan, however long the run (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(10_000_000),
        fc.integer({ min: 0, max: 2000 }),
        fc.nat(1_000_000),
        (top, h, count) => {
          const { first, last } = visibleRange(top, h, 22, count, 8);
          if (count === 0) {
            expect(last).toBe(-1);
            return;
          }
          expect(first).toBeGreaterThanOrEqual(0);
          expect(last).toBeLessThan(count);
          expect(last - first + 1).toBeLessThanOrEqual(Math.ceil(h / 22) + 1 + 16 + 1);
        },
      ),
    );
  });
});
