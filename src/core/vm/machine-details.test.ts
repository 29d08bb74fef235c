import { describe, expect, it } from 'vitest';
import { migrate } from '../migration/migrate';
import { createMachine, type Machine } from './machine';
import {
  activeTisStates,
  bufferRegion,
  changedState,
  flattenStateValue,
  tisDetail,
  TransactionWatch,
} from './machine-details';

const FIFO = 0xfed40024;
const KEYGEN_2011 = {
  seed: '2011',
  guest: { driver: 'linux-2.6.37', workload: 'keygen', iterations: 1 },
  completeMmioBeforeStop: false,
};

function atFifoRead(m: Machine, n: number): () => boolean {
  return () => {
    const e = m.vcpu.view.pendingExit;
    return e !== null && e.phase === 'handled' && !e.isWrite && e.addr === FIFO && m.responseBytesRead >= n;
  };
}

describe('tisDetail', () => {
  it('marks the command while the TPM executes it and the response once it is back', async () => {
    const m = await createMachine(KEYGEN_2011);
    await m.run({ until: { kind: 'commandInFlight' } });
    const sending = tisDetail(m);
    expect(sending.activeLocality).toBe(0);
    expect(sending.localities).toHaveLength(5);
    expect(sending.localities[0]!.state).toBe('execution');
    expect(sending.region).toEqual({ kind: 'command', length: 67 });
    expect(sending.buffer.length).toBeGreaterThanOrEqual(67);

    await m.run({ until: { kind: 'responseBytesRead', count: 10 } });
    const reading = tisDetail(m);
    expect(reading.localities[0]!.state).toBe('completion');
    expect(reading.region).toEqual({ kind: 'response', length: 314 });
    expect(reading.rwOffset).toBe(10);
    expect(Array.from(reading.buffer.slice(0, 2))).toEqual([0x80, 0x02]);
  });

  it('has no region in idle or ready', () => {
    expect(bufferRegion('ready', new Uint8Array([0x80, 1, 0, 0, 0, 10]))).toEqual({ kind: 'none' });
    expect(bufferRegion(undefined, new Uint8Array(8))).toEqual({ kind: 'none' });
  });
});

describe('the TIS machine’s states', () => {
  it('flattens the state value to region.state paths', () => {
    expect(flattenStateValue({ locality: 'l0', abort: 'clear', cmd0: 'idle' })).toEqual([
      'locality.l0',
      'abort.clear',
      'cmd0.idle',
    ]);
    expect(flattenStateValue({ a: { b: 'c' } })).toEqual(['a.b.c']);
  });

  it('lights the locality and the command state of a running machine', async () => {
    const m = await createMachine(KEYGEN_2011);
    expect(activeTisStates(m)).toContain('locality.none');
    await m.run({ until: { kind: 'commandInFlight' } });
    const active = activeTisStates(m);
    expect(active).toContain('locality.l0');
    expect(active).toContain('cmd0.execution');
    expect(active).toContain('cmd1.idle');
  });

  it('names the command region’s move before the others', () => {
    const before = ['locality.none', 'cmd0.idle'];
    const after = ['locality.l0', 'cmd0.ready'];
    expect(changedState(before, after, 'mmio.write')).toEqual({
      from: 'cmd0.idle',
      to: 'cmd0.ready',
      event: 'mmio.write',
    });
    expect(changedState(before, before, 'mmio.read')).toBeNull();
  });
});

describe('TransactionWatch', () => {
  it('sees the guest receive exactly what the TPM sent when nothing goes wrong', async () => {
    const m = await createMachine(KEYGEN_2011);
    const watch = new TransactionWatch();
    watch.attach(m);
    await m.run({ until: { kind: 'transactionsDone', count: 1 } });
    const tx = watch.latest;
    expect(tx.index).toBe(0);
    expect(tx.name).toBe('CreatePrimary');
    expect(tx.command?.length).toBe(67);
    expect(tx.response?.length).toBe(314);
    expect(tx.received).toEqual(Array.from(tx.response ?? []));
    expect(tx.error).toBeNull();
  });

  it('after a cut between a FIFO read’s exit and re-entry: one byte missing, a trailing 0xff', async () => {
    const src = await createMachine(KEYGEN_2011);
    const watch = new TransactionWatch();
    watch.attach(src);
    await src.run({ until: atFifoRead(src, 20) });
    const { destination } = await migrate(src, KEYGEN_2011);
    watch.attach(destination);
    await destination.run({ limitNs: 10_000_000_000 });
    const tx = watch.focus;
    const truth = Array.from(tx.response ?? []);
    expect(tx.index).toBe(0);
    expect(tx.received).toEqual([...truth.slice(0, 20), ...truth.slice(21), 0xff]);
    // The FlushContext after it went through unharmed; the focus stays on the damaged transaction.
    expect(watch.latest.index).toBeGreaterThan(0);
  });
});
