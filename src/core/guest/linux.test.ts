// Today's Linux tpm_tis driver against QEMU's TIS model: the MMIO sequence of fidelity-facts §1.3–1.5,
// the locality given back after each command, the dmesg lines and error codes of its failure paths.
import { describe, expect, it } from 'vitest';
import { CC } from '../tpm2/constants';
import {
  collapsedMmio,
  fifoReadsReplaced,
  stsByteReadWithBits,
  duplicatedFifoRead,
  neverCompletes,
  runDriver,
  stsReadsAllOnes,
  transaction,
} from './guest-test-kit';
import { linuxDriver } from './linux';
import { getRandom } from './workload-commands';

const GET_RANDOM_32 = getRandom(32); // 12 bytes; the response is 10 + 2 + 32 = 44 bytes

describe('linux tpm_tis driver, one GetRandom', () => {
  it('makes the accesses of tpm_chip_start, send, the completion poll, recv and tpm_chip_stop, in order and width', async () => {
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32]);
    expect(results[0]?.rc).toBe(0);
    expect(collapsedMmio(transaction(runner.trace, 0))).toEqual([
      // tpm_chip_start: check_locality (not active), requestUse, check_locality (active now)
      ['r1 000', 1],
      ['w1 000=02', 1],
      ['r1 000', 1],
      // tpm_tis_send_data: status (idle: not commandReady), tpm_tis_ready, wait_for_tpm_stat's first read
      ['r1 018', 1],
      ['w1 018=40', 1],
      ['r1 018', 1],
      // get_burstcount as one 32-bit read, then len-1 bytes, one iowrite8 each
      ['r4 018', 1],
      ['w1 024', 11],
      // wait_for_tpm_stat(VALID), status: dataExpect still set
      ['r1 018', 2],
      // the last byte on its own, VALID wait, status: dataExpect clear
      ['w1 024', 1],
      ['r1 018', 2],
      // GO
      ['w1 018=20', 1],
      // tpm_try_transmit's poll, then recv_data's wait for dataAvail|stsValid
      ['r1 018', expect.any(Number)],
      // header: burst count, then 10 byte reads
      ['r4 018', 1],
      ['r1 024', 10],
      // the rest
      ['r1 018', 1],
      ['r4 018', 1],
      ['r1 024', 34],
      // wait_for_tpm_stat(VALID), status: no data left
      ['r1 018', 2],
      // tpm_tis_ready at the end of tpm_tis_recv, then tpm_chip_stop relinquishes the locality
      ['w1 018=40', 1],
      ['w1 000=20', 1],
    ]);
    expect(results[0]?.response?.length).toBe(44);
  });

  it('polls the status every millisecond until the response is there', async () => {
    const { runner } = await runDriver(linuxDriver, [GET_RANDOM_32]);
    const tx = transaction(runner.trace, 0);
    const go = tx.findIndex(
      (e) => e.op.op === 'write' && e.op.value === 0x20 && (e.op.addr & 0xfff) === 0x18,
    );
    const firstHeaderRead = tx.findIndex(
      (e, i) => i > go && e.op.op === 'read' && (e.op.addr & 0xfff) === 0x24,
    );
    const sleeps = tx.slice(go, firstHeaderRead).filter((e) => e.op.op === 'sleep');
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sleeps.every((e) => e.op.op === 'sleep' && e.op.ns === 1_000_000)).toBe(true);
  });

  it('gives locality 0 back after every command, and finds the TIS commandReady the next time', async () => {
    const { rig, runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32, GET_RANDOM_32]);
    expect(results.map((r) => r.rc)).toEqual([0, 0]);
    expect(rig.tis.read(0x000, 1) & 0x20).toBe(0); // ACCESS: no active locality
    const second = collapsedMmio(transaction(runner.trace, 1));
    expect(second.slice(0, 5)).toEqual([
      ['r1 000', 1],
      ['w1 000=02', 1],
      ['r1 000', 1],
      ['r1 018', 1], // commandReady already: no tpm_tis_ready before the data
      ['r4 018', 1],
    ]);
  });

  it('marks the entry of each driver function with its kernel name', async () => {
    const { runner } = await runDriver(linuxDriver, [GET_RANDOM_32]);
    const names = new Set(
      transaction(runner.trace, 0).flatMap((e) =>
        e.op.op === 'mark' && e.op.name === 'driver.op' ? [(e.op.data as { name: string }).name] : [],
      ),
    );
    for (const name of [
      'tpm_dev_transmit',
      'tpm_chip_start',
      'tpm_tis_request_locality',
      '__tpm_tis_request_locality',
      'check_locality',
      'tpm_transmit',
      'tpm_try_transmit',
      'tpm_tis_send',
      'tpm_tis_send_main',
      'tpm_tis_send_data',
      'tpm_tis_status',
      'tpm_tis_ready',
      'wait_for_tpm_stat',
      'get_burstcount',
      'tpm_tis_recv',
      'tpm_tis_try_recv',
      'recv_data',
      'tpm_chip_stop',
      'tpm_tis_relinquish_locality',
    ]) {
      expect(names).toContain(name);
    }
  });
});

describe('linux tpm_tis driver, failures', () => {
  it('cancels a command the TPM never answers after its ordinal duration: "Operation Timed out", -ETIME', async () => {
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32], neverCompletes);
    expect(results[0]).toEqual({ rc: -62 });
    expect(runner.lines.map((l) => l.text)).toContain('tpm tpm0: Operation Timed out');
    // GetRandom is a LONG command: 2 s of polling. Then tpm_chip_cancel writes commandReady.
    const tx = transaction(runner.trace, 0);
    const go = tx.find((e) => e.op.op === 'write' && e.op.value === 0x20 && (e.op.addr & 0xfff) === 0x18);
    const cancel = [...tx].reverse().find((e) => e.op.op === 'write' && e.op.value === 0x40);
    expect(cancel!.ns - go!.ns).toBeGreaterThanOrEqual(2_000_000_000);
    expect(cancel!.ns - go!.ns).toBeLessThan(2_010_000_000);
  });

  it('reports a status of all ones once, and a send that never sees commandReady as "send(): error -62"', async () => {
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32, GET_RANDOM_32], stsReadsAllOnes);
    expect(results).toEqual([{ rc: -62 }, { rc: -62 }]);
    expect(runner.lines.map((l) => l.text)).toEqual([
      'tpm_tis MSFT0101:00: 2.0 TPM (device-id 0x1, rev-id 1)',
      'tpm tpm0: invalid TPM_STS.x 0xff, dumping stack for forensics',
      'tpm tpm0: tpm_try_transmit: send(): error -62',
      'tpm tpm0: tpm_try_transmit: send(): error -62',
    ]);
  });

  it('recovers from a skipped header byte with responseRetry (6.6+)', async () => {
    // The third FIFO read is duplicated: the guest misses byte 2, so the size it reads is garbage.
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32], (tis) =>
      duplicatedFifoRead(tis, 2),
    );
    expect(results[0]?.rc).toBe(0);
    const response = results[0]!.response!;
    expect(response.length).toBe(44);
    expect(Array.from(response.subarray(0, 10))).toEqual([0x80, 0x01, 0, 0, 0, 44, 0, 0, 0, 0]);
    const writes = collapsedMmio(transaction(runner.trace, 0)).filter(([k]) => k.startsWith('w1 018'));
    expect(writes.map(([k]) => k)).toEqual(['w1 018=40', 'w1 018=20', 'w1 018=02', 'w1 018=40']);
    expect(runner.lines.filter((l) => l.level === 'err')).toEqual([]);
  });

  it('misses a body byte skipped inside a burst: the response keeps its size and ends in 0xff', async () => {
    // The burst count was read before the duplicated read, so the guest reads one byte past the end,
    // which QEMU answers with 0xff: one byte lost, a trailing 0xff, and no error (the 2011 report).
    const clean = await runDriver(linuxDriver, [GET_RANDOM_32]);
    const { results } = await runDriver(linuxDriver, [GET_RANDOM_32], (tis) => duplicatedFifoRead(tis, 20));
    const good = clean.results[0]!.response!;
    const bad = results[0]!.response!;
    expect(results[0]?.rc).toBe(0);
    expect(bad.length).toBe(44);
    expect(Array.from(bad.subarray(0, 20))).toEqual(Array.from(good.subarray(0, 20)));
    expect(Array.from(bad.subarray(20, 43))).toEqual(Array.from(good.subarray(21, 44)));
    expect(bad[43]).toBe(0xff);
  });

  it('does not retry when the body comes up one byte short: recv_data times out, "tpm_recv: error -62"', async () => {
    // The last header byte is read twice: the body burst is then one byte short of what the header says.
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32], (tis) =>
      duplicatedFifoRead(tis, 9),
    );
    expect(results[0]).toEqual({ rc: -62 });
    expect(runner.lines.map((l) => l.text)).toContain('tpm tpm0: tpm_transmit: tpm_recv: error -62');
    const writes = collapsedMmio(transaction(runner.trace, 0)).filter(([k]) => k.startsWith('w1 018'));
    expect(writes.map(([k]) => k)).not.toContain('w1 018=02');
  });

  it('resends the command after a transfer error on the send side (6.6+), without a message', async () => {
    // The sixth status byte read is the dataExpect check after the last byte: report it still set once.
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32], (tis) =>
      stsByteReadWithBits(tis, 5, 0x08),
    );
    expect(results[0]?.rc).toBe(0);
    const tx = collapsedMmio(transaction(runner.trace, 0));
    expect(tx.filter(([k]) => k.startsWith('w1 018')).map(([k]) => k)).toEqual([
      'w1 018=40', // before the data
      'w1 018=40', // out_err of the failed try
      'w1 018=20', // GO after the second try
      'w1 018=40', // end of recv
    ]);
    expect(tx.filter(([k]) => k === 'w1 024').reduce((n, [, c]) => n + c, 0)).toBe(2 * 12);
    expect(runner.lines.filter((l) => l.level === 'err')).toEqual([]);
  });

  it('resends a command the TPM answers with TPM2_RC_RETRY, 20 ms later', async () => {
    // Bytes 8 and 9 of the first response say TPM_RC_RETRY (0x922).
    const retry = new Map([
      [8, 0x09],
      [9, 0x22],
    ]);
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32], (tis) =>
      fifoReadsReplaced(tis, retry),
    );
    expect(results[0]?.rc).toBe(0);
    expect(Array.from(results[0]!.response!.subarray(6, 10))).toEqual([0, 0, 0, 0]);
    const tx = transaction(runner.trace, 0);
    const gos = tx.filter((e) => e.op.op === 'write' && e.op.value === 0x20 && (e.op.addr & 0xfff) === 0x18);
    expect(gos).toHaveLength(2);
    expect(tx.some((e) => e.op.op === 'sleep' && e.op.ns === 20_000_000)).toBe(true);
  });

  it('returns -EPIPE without touching the FIFO when locality 0 is never granted', async () => {
    // Locality 1 holds the TIS; locality 0's request stays pending.
    const { runner, results } = await runDriver(linuxDriver, [GET_RANDOM_32], (tis) => {
      tis.write(0x1000, 1, 0x02);
      return tis;
    });
    expect(results).toEqual([{ rc: -32 }]);
    const accesses = collapsedMmio(transaction(runner.trace, 0));
    expect(accesses.some(([k]) => k.endsWith('024'))).toBe(false);
    expect(accesses.slice(0, 3)).toEqual([
      ['r1 000', 1],
      ['w1 000=02', 1],
      ['r1 000', 150], // check_locality (1 µs), then tpm_msleep(5 ms), until timeout_a (750 ms)
    ]);
  });

  it('uses the TPM2 duration table: a CreatePrimary may take 300 s, a GetRandom 2 s', async () => {
    const { tpm2OrdinalDurationNs } = await import('./tpm2-durations');
    expect(tpm2OrdinalDurationNs(CC.CreatePrimary)).toBe(300_000_000_000);
    expect(tpm2OrdinalDurationNs(CC.GetRandom)).toBe(2_000_000_000);
    expect(tpm2OrdinalDurationNs(CC.PCR_Extend)).toBe(750_000_000);
    expect(tpm2OrdinalDurationNs(CC.FlushContext)).toBe(120_000_000_000);
  });
});
