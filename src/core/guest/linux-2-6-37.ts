// The Linux 2.6.37-era TPM stack: drivers/char/tpm/tpm_tis.c and tpm_transmit in tpm.c (fidelity-facts
// §1.6, from the LX-2.6.3x copy with LX-4.5 and LX-3.x-if for the shape). It differs from today's driver
// in what a migration snapshot sees: the locality is requested at every send and kept between commands
// (released only when another locality asks for it), the burst count is two byte reads at STS+1 and STS+2,
// every wait sleeps msleep(TPM_TIMEOUT = 5 ms), several wait results are ignored, there is no header
// `< 10` check and no retry. Polling mode, as on QEMU's TIS (no IRQ).
//
// It predates TPM 2.0 and drives one here (our engine is TPM2 only):
// - tpm_get_timeouts sends a TPM 1.2 GetCapability that a TPM2 rejects, so the tpm_tis_init defaults stay:
//   a = 750, b = 2000, c = 750, d = 750 ms;
// - tpm_calc_ordinal_duration finds no TPM2 ordinal in its TPM 1.2 tables and falls back to 2 * 60 * HZ:
//   every command gets 2 minutes.
// - 2.6.37 knows no MSFT0101 ACPI id, so it binds with tpm_tis.force=1 to the platform device "tpm_tis";
//   its messages carry that device's name.
import { isRecord } from '../kernel/checks';
import type { JsonValue } from '../kernel';
import type { GuestDriver, TransmitResult } from './driver';
import { E2BIG, EBUSY, ECANCELED, EIO, ENODATA, ETIME } from './errno';
import { enter, ioread32, ioread8, iowrite8, now, NS_PER_MS, print, sleepNs, type Op } from './ops';
import {
  TPM_ACCESS,
  TPM_ACCESS_ACTIVE_LOCALITY,
  TPM_ACCESS_REQUEST_PENDING,
  TPM_ACCESS_REQUEST_USE,
  TPM_ACCESS_VALID,
  TPM_BUFSIZE,
  TPM_DATA_FIFO,
  TPM_DID_VID,
  TPM_HEADER_SIZE,
  TPM_RID,
  TPM_STS,
  TPM_STS_COMMAND_READY,
  TPM_STS_DATA_AVAIL,
  TPM_STS_DATA_EXPECT,
  TPM_STS_GO,
  TPM_STS_VALID,
  headerSize,
} from './tis-regs';

/** What the driver remembers: chip->vendor.locality (check_locality sets it). */
export type Linux2637State = { locality: number };

const TIMEOUT_A_NS = 750 * NS_PER_MS;
const TIMEOUT_B_NS = 2000 * NS_PER_MS;
const TIMEOUT_C_NS = 750 * NS_PER_MS;
const TIMEOUT_D_NS = 750 * NS_PER_MS;
/** TPM_TIMEOUT: every poll's msleep. */
const TPM_TIMEOUT_NS = 5 * NS_PER_MS;
/** tpm_calc_ordinal_duration's fallback, 2 * 60 * HZ, which every TPM2 ordinal gets. */
export const OLD_DURATION_NS = 120_000 * NS_PER_MS;

export const OLD_PREFIX = 'tpm_tis tpm_tis: ';

function* devErr(text: string): Op {
  yield* print(OLD_PREFIX + text, 'err');
}

/** Only activeLocality and tpmRegValidSts are looked at; requestUse is not masked as it is today. */
export function* check_locality(st: Linux2637State, l: number): Op<number> {
  yield* enter('check_locality');
  const access = yield* ioread8(TPM_ACCESS(l));
  const mask = TPM_ACCESS_ACTIVE_LOCALITY | TPM_ACCESS_VALID;
  if ((access & mask) === mask) return (st.locality = l);
  return -1;
}

/** Gives the locality back only when forced or when another locality is waiting for it. */
export function* release_locality(l: number, force: boolean): Op {
  yield* enter('release_locality');
  const pendingValid = TPM_ACCESS_REQUEST_PENDING | TPM_ACCESS_VALID;
  if (force || ((yield* ioread8(TPM_ACCESS(l))) & pendingValid) === pendingValid) {
    yield* iowrite8(TPM_ACCESS(l), TPM_ACCESS_ACTIVE_LOCALITY);
  }
}

export function* request_locality(st: Linux2637State, l: number): Op<number> {
  yield* enter('request_locality');
  if ((yield* check_locality(st, l)) >= 0) return l;
  yield* iowrite8(TPM_ACCESS(l), TPM_ACCESS_REQUEST_USE);
  const stop = (yield* now()) + TIMEOUT_A_NS;
  do {
    if ((yield* check_locality(st, l)) >= 0) return l;
    yield* sleepNs(TPM_TIMEOUT_NS);
  } while ((yield* now()) < stop);
  return -1;
}

/** A plain status read: no must-be-zero check in this era. */
export function* tpm_tis_status(st: Linux2637State): Op<number> {
  yield* enter('tpm_tis_status');
  return yield* ioread8(TPM_STS(st.locality));
}

export function* tpm_tis_ready(st: Linux2637State): Op {
  yield* enter('tpm_tis_ready');
  yield* iowrite8(TPM_STS(st.locality), TPM_STS_COMMAND_READY);
}

/** burstCount as two byte reads (STS+1, STS+2): QEMU clamps the first to 0xff outside completion. */
export function* get_burstcount(st: Linux2637State): Op<number> {
  yield* enter('get_burstcount');
  const stop = (yield* now()) + TIMEOUT_D_NS;
  do {
    let burstcnt = yield* ioread8(TPM_STS(st.locality) + 1);
    burstcnt += (yield* ioread8(TPM_STS(st.locality) + 2)) << 8;
    if (burstcnt !== 0) return burstcnt;
    yield* sleepNs(TPM_TIMEOUT_NS);
  } while ((yield* now()) < stop);
  return EBUSY; // silently: no "Unable to read burstcount" in this era
}

/** The local wait_for_stat: one read, then {msleep(TPM_TIMEOUT); read} until the deadline. */
export function* wait_for_stat(st: Linux2637State, mask: number, timeoutNs: number): Op<number> {
  yield* enter('wait_for_stat');
  let status = yield* tpm_tis_status(st);
  if ((status & mask) === mask) return 0;
  const stop = (yield* now()) + timeoutNs;
  do {
    yield* sleepNs(TPM_TIMEOUT_NS);
    status = yield* tpm_tis_status(st);
    if ((status & mask) === mask) return 0;
  } while ((yield* now()) < stop);
  return ETIME;
}

/** Reads byte by byte while data is available; returns how many it got (short when the wait gave up). */
export function* recv_data(st: Linux2637State, buf: number[], count: number): Op<number> {
  yield* enter('recv_data');
  let size = 0;
  while (size < count && (yield* wait_for_stat(st, TPM_STS_DATA_AVAIL | TPM_STS_VALID, TIMEOUT_C_NS)) === 0) {
    // A negative burst count (-EBUSY) reads nothing and goes round again.
    for (let burstcnt = yield* get_burstcount(st); burstcnt > 0 && size < count; burstcnt--) {
      buf.push(yield* ioread8(TPM_DATA_FIFO(st.locality)));
      size++;
    }
  }
  return size;
}

/** Header, then the rest; ends with commandReady and (maybe) a release of the locality. */
export function* tpm_tis_recv(st: Linux2637State, buf: number[], count: number): Op<number> {
  yield* enter('tpm_tis_recv');
  let size: number;
  receiving: {
    if (count < TPM_HEADER_SIZE) {
      size = EIO;
      break receiving;
    }
    size = yield* recv_data(st, buf, TPM_HEADER_SIZE);
    if (size < TPM_HEADER_SIZE) {
      yield* devErr('Unable to read header');
      break receiving; // returns the short size itself, not an error
    }
    // `int expected`, compared with the size_t count: a negative size is huge there.
    const expected = headerSize(Uint8Array.from(buf)) | 0;
    if (expected >>> 0 > count) {
      size = EIO;
      break receiving;
    }
    // No `expected < 10` check: a smaller size makes `expected - 10` wrap as a size_t, and recv_data
    // reads until the data runs out.
    const rest = expected - TPM_HEADER_SIZE < 0 ? Number.MAX_SAFE_INTEGER : expected - TPM_HEADER_SIZE;
    size += yield* recv_data(st, buf, rest);
    if (size < expected) {
      yield* devErr('Unable to read remainder of result');
      size = ETIME;
      break receiving;
    }
    yield* wait_for_stat(st, TPM_STS_VALID, TIMEOUT_C_NS); // result ignored
    if ((yield* tpm_tis_status(st)) & TPM_STS_DATA_AVAIL) {
      // "retry?" says the comment beside this check; nothing retries in this era.
      yield* devErr('Error left over data');
      size = EIO;
      break receiving;
    }
  }
  // out:
  yield* tpm_tis_ready(st);
  yield* release_locality(st.locality, false);
  return size;
}

/** Request the locality, write the command (waits for stsValid ignored), GO. Returns len. */
export function* tpm_tis_send(st: Linux2637State, buf: Uint8Array): Op<number> {
  yield* enter('tpm_tis_send');
  const len = buf.length;
  if ((yield* request_locality(st, 0)) < 0) return EBUSY;
  const fifo = TPM_DATA_FIFO(st.locality);
  let rc: number;
  sending: {
    if (((yield* tpm_tis_status(st)) & TPM_STS_COMMAND_READY) === 0) {
      yield* tpm_tis_ready(st);
      if ((yield* wait_for_stat(st, TPM_STS_COMMAND_READY, TIMEOUT_B_NS)) < 0) {
        rc = ETIME;
        break sending;
      }
    }
    let count = 0;
    while (count < len - 1) {
      for (let burstcnt = yield* get_burstcount(st); burstcnt > 0 && count < len - 1; burstcnt--) {
        yield* iowrite8(fifo, buf[count] ?? 0);
        count++;
      }
      yield* wait_for_stat(st, TPM_STS_VALID, TIMEOUT_C_NS); // result ignored
      // Not an iTPM (itpm=0): dataExpect must still be set.
      if (((yield* tpm_tis_status(st)) & TPM_STS_DATA_EXPECT) === 0) {
        rc = EIO;
        break sending;
      }
    }
    yield* iowrite8(fifo, buf[count] ?? 0);
    yield* wait_for_stat(st, TPM_STS_VALID, TIMEOUT_C_NS); // result ignored
    if (((yield* tpm_tis_status(st)) & TPM_STS_DATA_EXPECT) !== 0) {
      rc = EIO;
      break sending;
    }
    yield* iowrite8(TPM_STS(st.locality), TPM_STS_GO);
    return len;
  }
  // out_err:
  yield* tpm_tis_ready(st);
  yield* release_locality(st.locality, false);
  return rc;
}

/** tpm_transmit (tpm.c): send, poll the status every 5 ms for up to 2 minutes, receive. */
export function* tpm_transmit(st: Linux2637State, command: Uint8Array): Op<TransmitResult> {
  yield* enter('tpm_transmit');
  const count = headerSize(command);
  if (count === 0) return { rc: ENODATA };
  if (count > TPM_BUFSIZE) {
    yield* devErr(`invalid count value ${count.toString(16)} ${TPM_BUFSIZE.toString(16)}`);
    return { rc: E2BIG };
  }
  const buf = new Uint8Array(count);
  buf.set(command.subarray(0, count));
  const sent = yield* tpm_tis_send(st, buf);
  if (sent < 0) {
    yield* devErr(`tpm_transmit: tpm_send: error ${sent}`);
    return { rc: sent };
  }
  const stop = (yield* now()) + OLD_DURATION_NS;
  let complete = false;
  do {
    const status = yield* tpm_tis_status(st);
    if ((status & (TPM_STS_DATA_AVAIL | TPM_STS_VALID)) === (TPM_STS_DATA_AVAIL | TPM_STS_VALID)) {
      complete = true;
      break;
    }
    // req_canceled is a value here, compared for equality: TPM_STS_COMMAND_READY.
    if (status === TPM_STS_COMMAND_READY) {
      yield* devErr('Operation Canceled');
      return { rc: ECANCELED };
    }
    yield* sleepNs(TPM_TIMEOUT_NS);
  } while ((yield* now()) < stop);
  if (!complete) {
    yield* tpm_tis_ready(st); // chip->vendor.cancel
    yield* devErr('Operation Timed out');
    return { rc: ETIME };
  }
  const response: number[] = [];
  const rc = yield* tpm_tis_recv(st, response, TPM_BUFSIZE);
  if (rc < 0) {
    yield* devErr(`tpm_transmit: tpm_recv: error ${rc}`);
    return { rc };
  }
  // No length check in this era: read() hands user space whatever recv returned.
  return { rc: 0, response: Uint8Array.from(response.slice(0, rc)) };
}

/** The part of tpm_tis_init that touches the TIS: take locality 0 (and keep it), DID_VID, RID, banner. */
export function* tpm_tis_init(st: Linux2637State): Op {
  yield* enter('tpm_tis_init');
  if ((yield* request_locality(st, 0)) !== 0) {
    yield* devErr('tpm_tis_init: could not get locality 0'); // the kernel fails with -ENODEV here
    return;
  }
  const vendor = yield* ioread32(TPM_DID_VID(0));
  const rid = yield* ioread8(TPM_RID(0));
  const deviceId = (vendor >>> 16).toString(16).toUpperCase();
  yield* print(`${OLD_PREFIX}1.2 TPM (device-id 0x${deviceId}, rev-id ${rid})`);
}

export function parseLinux2637State(value: JsonValue): Linux2637State {
  if (!isRecord(value) || typeof value.locality !== 'number') {
    throw new Error('linux-2.6.37 driver: malformed state; expected {locality}');
  }
  return { locality: value.locality };
}

export const linux2637Driver: GuestDriver<Linux2637State> = {
  name: 'linux-2.6.37',
  initialState: () => ({ locality: 0 }),
  parseState: parseLinux2637State,
  probe: tpm_tis_init,
  transmit: tpm_transmit,
};
