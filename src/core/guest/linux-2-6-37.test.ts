// The 2.6.37-era tpm_tis against QEMU's TIS model: the byte-wise accesses of fidelity-facts §1.6, the
// locality it keeps between commands, and its failure messages (no retry, no length checks).
import { describe, expect, it } from 'vitest';
import {
  collapsedMmio,
  stsByteReadWithBits,
  duplicatedFifoRead,
  neverCompletes,
  runDriver,
  stsReadsAllOnes,
  transaction,
} from './guest-test-kit';
import { linux2637Driver } from './linux-2-6-37';
import { getRandom } from './workload-commands';

const GET_RANDOM_32 = getRandom(32); // 12 bytes; the response is 44 bytes

describe('2.6.37 tpm_tis driver, one GetRandom', () => {
  it('reads the burst count as two bytes at STS+1 and STS+2 and the FIFO a byte at a time', async () => {
    const { runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32]);
    expect(results[0]?.rc).toBe(0);
    expect(collapsedMmio(transaction(runner.trace, 0))).toEqual([
      // request_locality: already active since tpm_tis_init took it
      ['r1 000', 1],
      // status (idle), tpm_tis_ready, wait_for_stat's first read
      ['r1 018', 1],
      ['w1 018=40', 1],
      ['r1 018', 1],
      // get_burstcount: 0xff from QEMU's clamped byte, then 0 (so 255), then the first 11 bytes
      ['r1 019', 1],
      ['r1 01a', 1],
      ['w1 024', 11],
      // wait_for_stat(VALID) (result ignored), status: dataExpect set
      ['r1 018', 2],
      ['w1 024', 1],
      ['r1 018', 2],
      ['w1 018=20', 1],
      // tpm_transmit's poll every 5 ms, then recv_data's wait_for_stat
      ['r1 018', expect.any(Number)],
      ['r1 019', 1],
      ['r1 01a', 1],
      ['r1 024', 10],
      ['r1 018', 1],
      ['r1 019', 1],
      ['r1 01a', 1],
      ['r1 024', 34],
      ['r1 018', 2],
      // tpm_tis_ready, then release_locality reads ACCESS and keeps the locality (nobody is waiting)
      ['w1 018=40', 1],
      ['r1 000', 1],
    ]);
    expect(results[0]?.response?.length).toBe(44);
  });

  it('sees a burst count of 255 while sending (QEMU clamps the byte read) and the real count in completion', async () => {
    const { runner } = await runDriver(linux2637Driver, [GET_RANDOM_32]);
    const reads = transaction(runner.trace, 0).filter(
      (e) => e.op.op === 'read' && (e.op.addr & 0xfff) === 0x19,
    );
    expect(reads.map((e) => e.input)).toEqual([0xff, 44, 34]);
  });

  it('keeps locality 0 active between commands', async () => {
    const { rig, runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32, GET_RANDOM_32]);
    expect(results.map((r) => r.rc)).toEqual([0, 0]);
    expect(rig.tis.read(0x000, 1) & 0xa0).toBe(0xa0);
    const accessWrites = runner.trace.filter((e) => e.op.op === 'write' && (e.op.addr & 0xfff) === 0x000);
    expect(accessWrites.length).toBe(1); // the requestUse of tpm_tis_init, never a relinquish
    expect(runner.lines.map((l) => l.text)).toEqual(['tpm_tis tpm_tis: 1.2 TPM (device-id 0x1, rev-id 1)']);
  });

  it('sleeps msleep(5) between completion polls', async () => {
    const { runner } = await runDriver(linux2637Driver, [GET_RANDOM_32]);
    const sleeps = transaction(runner.trace, 0).filter((e) => e.op.op === 'sleep');
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sleeps.every((e) => e.op.op === 'sleep' && e.op.ns === 5_000_000)).toBe(true);
  });
});

describe('2.6.37 tpm_tis driver, failures', () => {
  it('gives up on an unanswered command after 2 minutes: "Operation Timed out", -ETIME', async () => {
    const { runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32], neverCompletes);
    expect(results[0]).toEqual({ rc: -62 });
    expect(runner.lines.map((l) => l.text)).toContain('tpm_tis tpm_tis: Operation Timed out');
    const tx = transaction(runner.trace, 0);
    const go = tx.find((e) => e.op.op === 'write' && e.op.value === 0x20 && (e.op.addr & 0xfff) === 0x18);
    const cancel = [...tx].reverse().find((e) => e.op.op === 'write' && e.op.value === 0x40);
    expect(cancel!.ns - go!.ns).toBeGreaterThanOrEqual(120_000_000_000);
    expect(cancel!.ns - go!.ns).toBeLessThan(120_010_000_000);
  });

  it('fails a garbled header size with -EIO: "tpm_transmit: tpm_recv: error -5", no retry', async () => {
    const { runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32], (tis) =>
      duplicatedFifoRead(tis, 2),
    );
    expect(results[0]).toEqual({ rc: -5 });
    expect(runner.lines.map((l) => l.text)).toContain('tpm_tis tpm_tis: tpm_transmit: tpm_recv: error -5');
    const stsWrites = collapsedMmio(transaction(runner.trace, 0)).filter(([k]) => k.startsWith('w1 018'));
    expect(stsWrites.map(([k]) => k)).toEqual(['w1 018=40', 'w1 018=20', 'w1 018=40']);
  });

  it('reports a body one byte short as "Unable to read remainder of result", -ETIME', async () => {
    const { runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32], (tis) =>
      duplicatedFifoRead(tis, 9),
    );
    expect(results[0]).toEqual({ rc: -62 });
    expect(runner.lines.map((l) => l.text).slice(1)).toEqual([
      'tpm_tis tpm_tis: Unable to read remainder of result',
      'tpm_tis tpm_tis: tpm_transmit: tpm_recv: error -62',
    ]);
  });

  it('hands over a response with a byte skipped inside a burst and a trailing 0xff, without complaint', async () => {
    const { results } = await runDriver(linux2637Driver, [GET_RANDOM_32], (tis) =>
      duplicatedFifoRead(tis, 20),
    );
    expect(results[0]?.rc).toBe(0);
    expect(results[0]?.response?.length).toBe(44);
    expect(results[0]?.response?.[43]).toBe(0xff);
  });

  it('does not resend after a transfer error on the send side: "tpm_transmit: tpm_send: error -5"', async () => {
    // The sixth status byte read is the dataExpect check after the last byte: report it still set once.
    const { runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32], (tis) =>
      stsByteReadWithBits(tis, 5, 0x08),
    );
    expect(results[0]).toEqual({ rc: -5 });
    expect(runner.lines.map((l) => l.text).slice(1)).toEqual([
      'tpm_tis tpm_tis: tpm_transmit: tpm_send: error -5',
    ]);
    const tx = collapsedMmio(transaction(runner.trace, 0));
    expect(tx.some(([k]) => k === 'w1 018=20')).toBe(false); // never GO
  });

  it('has no invalid-status check: a status of all ones is taken at face value', async () => {
    const { runner, results } = await runDriver(linux2637Driver, [GET_RANDOM_32], stsReadsAllOnes);
    // 0xff has dataExpect set after the last byte: -EIO from the send, reported by tpm_transmit.
    expect(results[0]).toEqual({ rc: -5 });
    expect(runner.lines.map((l) => l.text).slice(1)).toEqual([
      'tpm_tis tpm_tis: tpm_transmit: tpm_send: error -5',
    ]);
  });
});
