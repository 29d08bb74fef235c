// Today's Linux tpm_tis driver, the register side: drivers/char/tpm/tpm_tis_core.c (LX-new in
// fidelity-facts §1.3–1.5) over the MMIO phy (one ioread8/ioread32 per register access, FIFO bytes one
// ioread8/iowrite8 each), in polling mode: QEMU's TIS declares no IRQ, so the driver never waits on a queue.
// Each function starts with a 'driver.op' mark naming the kernel function it follows.
//
// Sleeps: usleep_range(min, max) sleeps for max here (the kernel's hrtimer may fire anywhere in the range;
// the upper bound is the deterministic choice that never undershoots), so tpm_msleep(ms) = ms * 1e6 ns.
import { EAGAIN, EBUSY, EIO, ETIME } from './errno';
import {
  TPM_ACCESS,
  TPM_ACCESS_ACTIVE_LOCALITY,
  TPM_ACCESS_REQUEST_USE,
  TPM_ACCESS_VALID,
  TPM_DATA_FIFO,
  TPM_HEADER_SIZE,
  TPM_STS,
  TPM_STS_COMMAND_READY,
  TPM_STS_DATA_AVAIL,
  TPM_STS_DATA_EXPECT,
  TPM_STS_GO,
  TPM_STS_READ_ZERO,
  TPM_STS_RESPONSE_RETRY,
  TPM_STS_VALID,
  headerSize,
} from './tis-regs';
import {
  enter,
  ioread32,
  ioread8,
  iowrite8,
  now,
  NS_PER_MS,
  NS_PER_US,
  print,
  sleepNs,
  type Op,
} from './ops';

/** What the driver remembers between transactions (struct tpm_tis_data and struct tpm_chip, in part). */
export type LinuxState = {
  /** priv->locality: the locality registers are addressed at; check_locality sets it. */
  locality: number;
  /** priv->locality_count: nested requests of the locality; the hardware is asked only on 0 -> 1. */
  localityCount: number;
  /** chip->locality: -1 while tpm_chip_start has not taken a locality. */
  chipLocality: number;
  /** TPM_TIS_INVALID_STATUS in priv->flags: the invalid-status message is printed once per boot. */
  invalidStatusReported: boolean;
};

/** TPM2 chips after tpm2_get_timeouts (TPM2_TIMEOUT_A..D; B is 4000 ms since the 2024 change). */
export const TIMEOUT_A_NS = 750 * NS_PER_MS;
export const TIMEOUT_B_NS = 4000 * NS_PER_MS;
export const TIMEOUT_C_NS = 200 * NS_PER_MS;
/** TPM_TIMEOUT: the locality poll's tpm_msleep. */
const TPM_TIMEOUT_NS = 5 * NS_PER_MS;
/** priv->timeout_max = TPM_TIMEOUT_USECS_MAX: the status and burst-count polls' usleep_range bound. */
const TIMEOUT_MAX_NS = 500 * NS_PER_US;
/** TPM_RETRY: how often send_data and try_recv are retried (6.6+). */
export const TPM_RETRY = 50;

/** dev_err(&chip->dev, ...) prints with the chip's device name. */
export const CHIP_PREFIX = 'tpm tpm0: ';

export function* devErr(text: string): Op {
  yield* print(CHIP_PREFIX + text, 'err');
}

const hex2 = (v: number): string => v.toString(16).padStart(2, '0');

export function* check_locality(st: LinuxState, l: number): Op<boolean> {
  yield* enter('check_locality');
  const access = yield* ioread8(TPM_ACCESS(l));
  const mask = TPM_ACCESS_ACTIVE_LOCALITY | TPM_ACCESS_VALID | TPM_ACCESS_REQUEST_USE;
  if ((access & mask) === (TPM_ACCESS_ACTIVE_LOCALITY | TPM_ACCESS_VALID)) {
    st.locality = l;
    return true;
  }
  return false;
}

/** Returns l, or -1 when the locality did not become active within timeout_a. */
export function* __tpm_tis_request_locality(st: LinuxState, l: number): Op<number> {
  yield* enter('__tpm_tis_request_locality');
  if (yield* check_locality(st, l)) return l;
  yield* iowrite8(TPM_ACCESS(l), TPM_ACCESS_REQUEST_USE);
  const stop = (yield* now()) + TIMEOUT_A_NS;
  // Polling mode: check, then tpm_msleep(TPM_TIMEOUT), until the deadline.
  do {
    if (yield* check_locality(st, l)) return l;
    yield* sleepNs(TPM_TIMEOUT_NS);
  } while ((yield* now()) < stop);
  return -1;
}

/** The refcounted request: the hardware is asked only when nobody holds the locality yet. */
export function* tpm_tis_request_locality(st: LinuxState, l: number): Op<number> {
  yield* enter('tpm_tis_request_locality');
  let ret = 0;
  if (st.localityCount === 0) ret = yield* __tpm_tis_request_locality(st, l);
  // As the kernel: success is `!ret`, which only holds for locality 0 (the only one it uses).
  if (ret === 0) st.localityCount++;
  return ret;
}

export function* tpm_tis_relinquish_locality(st: LinuxState, l: number): Op<number> {
  yield* enter('tpm_tis_relinquish_locality');
  st.localityCount--;
  // __tpm_tis_relinquish_locality writes ACTIVE_LOCALITY unconditionally, without reading ACCESS first.
  if (st.localityCount === 0) yield* iowrite8(TPM_ACCESS(l), TPM_ACCESS_ACTIVE_LOCALITY);
  return 0;
}

/** One status read; a value with must-be-zero bits set (0xff: locality not held) counts as 0. */
export function* tpm_tis_status(st: LinuxState): Op<number> {
  yield* enter('tpm_tis_status');
  const status = yield* ioread8(TPM_STS(st.locality));
  if ((status & TPM_STS_READ_ZERO) !== 0) {
    if (!st.invalidStatusReported) {
      st.invalidStatusReported = true;
      yield* devErr(`invalid TPM_STS.x 0x${hex2(status)}, dumping stack for forensics`);
    }
    return 0;
  }
  return status;
}

/** Also chip->ops->cancel: writing commandReady aborts whatever the TPM is doing. */
export function* tpm_tis_ready(st: LinuxState): Op {
  yield* enter('tpm_tis_ready');
  yield* iowrite8(TPM_STS(st.locality), TPM_STS_COMMAND_READY);
}

/**
 * Polled wait_for_tpm_stat: one status read up front, then {usleep_range; read} until the bits are all set
 * or the deadline passes. LX-new sleeps before each read of the loop (LX-6.x read first).
 */
export function* wait_for_tpm_stat(st: LinuxState, mask: number, timeoutNs: number): Op<number> {
  yield* enter('wait_for_tpm_stat');
  let status = yield* tpm_tis_status(st);
  if ((status & mask) === mask) return 0;
  const stop = (yield* now()) + timeoutNs;
  do {
    yield* sleepNs(TIMEOUT_MAX_NS);
    status = yield* tpm_tis_status(st);
    if ((status & mask) === mask) return 0;
  } while ((yield* now()) < stop);
  return ETIME;
}

/** burstCount from one 32-bit STS read; -EBUSY when it stays 0 for timeout_a (TPM2). */
export function* get_burstcount(st: LinuxState): Op<number> {
  yield* enter('get_burstcount');
  const stop = (yield* now()) + TIMEOUT_A_NS;
  do {
    const value = yield* ioread32(TPM_STS(st.locality));
    const burstcnt = (value >>> 8) & 0xffff;
    if (burstcnt !== 0) return burstcnt;
    yield* sleepNs(TIMEOUT_MAX_NS);
  } while ((yield* now()) < stop);
  return EBUSY;
}

/** Reads count bytes into buf, a burst at a time, with no status check between the bytes of a burst. */
export function* recv_data(st: LinuxState, buf: number[], count: number): Op<number> {
  yield* enter('recv_data');
  let size = 0;
  while (size < count) {
    const rc = yield* wait_for_tpm_stat(st, TPM_STS_DATA_AVAIL | TPM_STS_VALID, TIMEOUT_C_NS);
    if (rc < 0) return rc;
    let burstcnt = yield* get_burstcount(st);
    if (burstcnt < 0) {
      yield* devErr('Unable to read burstcount');
      return burstcnt;
    }
    burstcnt = Math.min(burstcnt, count - size);
    // tpm_tis_read_bytes: burstcnt separate ioread8s of the same FIFO address.
    for (let i = 0; i < burstcnt; i++) buf.push(yield* ioread8(TPM_DATA_FIFO(st.locality)));
    size += burstcnt;
  }
  return size;
}

/** One attempt at reading the response: the header, then the rest. Returns its size or an error. */
export function* tpm_tis_try_recv(st: LinuxState, buf: number[], count: number): Op<number> {
  yield* enter('tpm_tis_try_recv');
  buf.length = 0;
  let size = yield* recv_data(st, buf, TPM_HEADER_SIZE);
  if (size < TPM_HEADER_SIZE) {
    yield* devErr('Unable to read header');
    return size;
  }
  const expected = headerSize(Uint8Array.from(buf));
  if (expected > count || expected < TPM_HEADER_SIZE) return EIO;
  const rc = yield* recv_data(st, buf, expected - TPM_HEADER_SIZE);
  if (rc < 0) return rc;
  size += rc;
  if (size < expected) {
    yield* devErr('Unable to read remainder of result');
    return ETIME;
  }
  if ((yield* wait_for_tpm_stat(st, TPM_STS_VALID, TIMEOUT_C_NS)) < 0) return ETIME;
  const status = yield* tpm_tis_status(st);
  if (status & TPM_STS_DATA_AVAIL) {
    yield* devErr('Error left over data');
    return EIO;
  }
  // tpm_tis_verify_crc: nothing to check on the MMIO phy.
  return size;
}

/** 6.6+: a transfer error (-EIO) makes the TPM resend the response (responseRetry), up to TPM_RETRY times. */
export function* tpm_tis_recv(st: LinuxState, buf: number[], count: number): Op<number> {
  yield* enter('tpm_tis_recv');
  if (count < TPM_HEADER_SIZE) return EIO;
  let rc = 0;
  for (let attempt = 0; attempt < TPM_RETRY; attempt++) {
    rc = yield* tpm_tis_try_recv(st, buf, count);
    if (rc !== EIO) break;
    yield* iowrite8(TPM_STS(st.locality), TPM_STS_RESPONSE_RETRY);
  }
  yield* tpm_tis_ready(st);
  return rc;
}

/** Writes the command: burst-sized chunks checked for dataExpect, then the last byte on its own. */
export function* tpm_tis_send_data(st: LinuxState, buf: Uint8Array): Op<number> {
  yield* enter('tpm_tis_send_data');
  const len = buf.length;
  const fifo = TPM_DATA_FIFO(st.locality);
  let rc: number;
  sending: {
    const status = yield* tpm_tis_status(st);
    if ((status & TPM_STS_COMMAND_READY) === 0) {
      yield* tpm_tis_ready(st);
      if ((yield* wait_for_tpm_stat(st, TPM_STS_COMMAND_READY, TIMEOUT_B_NS)) < 0) {
        rc = ETIME;
        break sending;
      }
    }
    let count = 0;
    while (count < len - 1) {
      let burstcnt = yield* get_burstcount(st);
      if (burstcnt < 0) {
        yield* devErr('Unable to read burstcount');
        rc = burstcnt;
        break sending;
      }
      burstcnt = Math.min(burstcnt, len - count - 1);
      for (let i = 0; i < burstcnt; i++) yield* iowrite8(fifo, buf[count + i] ?? 0);
      count += burstcnt;
      // Not an Infineon chip (QEMU's VID is 0x1014), so no TPM_TIS_STATUS_VALID_RETRY: -ETIME, not -EAGAIN.
      if ((yield* wait_for_tpm_stat(st, TPM_STS_VALID, TIMEOUT_C_NS)) < 0) {
        rc = ETIME;
        break sending;
      }
      if (((yield* tpm_tis_status(st)) & TPM_STS_DATA_EXPECT) === 0) {
        rc = EIO;
        break sending;
      }
    }
    yield* iowrite8(fifo, buf[count] ?? 0);
    if ((yield* wait_for_tpm_stat(st, TPM_STS_VALID, TIMEOUT_C_NS)) < 0) {
      rc = ETIME;
      break sending;
    }
    if (((yield* tpm_tis_status(st)) & TPM_STS_DATA_EXPECT) !== 0) {
      rc = EIO;
      break sending;
    }
    // tpm_tis_verify_crc: nothing to check on the MMIO phy.
    return 0;
  }
  // out_err:
  yield* tpm_tis_ready(st);
  return rc;
}

/** Sends (retrying transfer errors, 6.6+), then GO. In polling mode it does not wait for the answer. */
export function* tpm_tis_send_main(st: LinuxState, buf: Uint8Array): Op<number> {
  yield* enter('tpm_tis_send_main');
  for (let attempt = 0; attempt < TPM_RETRY; attempt++) {
    const rc = yield* tpm_tis_send_data(st, buf);
    if (rc >= 0) break;
    if (rc !== EAGAIN && rc !== EIO) return rc;
    yield* sleepNs(TIMEOUT_MAX_NS);
  }
  // As the kernel: after TPM_RETRY failed transfers the loop ends and GO is written all the same.
  yield* iowrite8(TPM_STS(st.locality), TPM_STS_GO);
  return 0;
}

/** chip->ops->send. Without an IRQ there is no interrupt test, so this is send_main. */
export function* tpm_tis_send(st: LinuxState, buf: Uint8Array): Op<number> {
  yield* enter('tpm_tis_send');
  return yield* tpm_tis_send_main(st, buf);
}
