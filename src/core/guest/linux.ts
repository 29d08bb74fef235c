// Today's Linux TPM stack above the TIS driver: /dev/tpm0's write path (tpm-dev-common.c
// tpm_dev_transmit between tpm_try_get_ops and tpm_put_ops), tpm-chip.c (tpm_chip_start/stop take and
// give back the locality around every command) and tpm-interface.c (tpm_transmit's retry on
// TPM2_RC_RETRY/TESTING, tpm_try_transmit's completion poll). fidelity-facts §1.3–1.5 (LX-new).
import { isRecord } from '../kernel/checks';
import type { JsonValue } from '../kernel';
import { CC } from '../tpm2/constants';
import { RC } from '../tpm2/rc';
import type { GuestDriver, TransmitResult } from './driver';
import { E2BIG, ECANCELED, EFAULT, ENODATA, EPIPE, ETIME } from './errno';
import {
  devErr,
  tpm_tis_ready,
  tpm_tis_recv,
  tpm_tis_relinquish_locality,
  tpm_tis_request_locality,
  tpm_tis_send,
  tpm_tis_status,
  type LinuxState,
} from './linux-tis';
import { enter, ioread32, ioread8, now, NS_PER_MS, print, sleepNs, type Op } from './ops';
import {
  TPM_BUFSIZE,
  TPM_DID_VID,
  TPM_HEADER_SIZE,
  TPM_RID,
  TPM_STS_COMMAND_READY,
  TPM_STS_DATA_AVAIL,
  TPM_STS_VALID,
  headerCode,
  headerSize,
} from './tis-regs';
import { TPM2_DURATION_LONG_MS, TPM2_DURATION_SHORT_MS, tpm2OrdinalDurationNs } from './tpm2-durations';

export type { LinuxState } from './linux-tis';

/** TPM_TIMEOUT_POLL: the completion poll's tpm_msleep. */
const TPM_TIMEOUT_POLL_NS = 1 * NS_PER_MS;
/** req_complete_mask and req_complete_val of tpm_tis. */
const REQ_COMPLETE = TPM_STS_DATA_AVAIL | TPM_STS_VALID;
/** The platform device QEMU's ACPI table makes for a TPM 2.0 TIS (_HID MSFT0101). */
const PLATFORM_PREFIX = 'tpm_tis MSFT0101:00: ';

export function initialLinuxState(): LinuxState {
  return { locality: 0, localityCount: 0, chipLocality: -1, invalidStatusReported: false };
}

export function* tpm_chip_start(st: LinuxState): Op<number> {
  yield* enter('tpm_chip_start');
  // tpm_clk_enable: CLKRUN only matters on some Intel LPC chipsets, not on QEMU's TIS.
  if (st.chipLocality === -1) {
    const rc = yield* tpm_tis_request_locality(st, 0);
    if (rc < 0) return rc;
    st.chipLocality = rc;
  }
  return 0;
}

export function* tpm_chip_stop(st: LinuxState): Op {
  yield* enter('tpm_chip_stop');
  // tpm_go_idle is for CRB only; then tpm_relinquish_locality.
  yield* tpm_tis_relinquish_locality(st, st.chipLocality);
  st.chipLocality = -1;
}

function completed(status: number): boolean {
  return (status & REQ_COMPLETE) === REQ_COMPLETE;
}

/** One send, the completion poll, one receive. Returns the response length or a negative error. */
export function* tpm_try_transmit(st: LinuxState, command: Uint8Array): Op<TransmitResult> {
  yield* enter('tpm_try_transmit');
  const count = headerSize(command);
  const ordinal = headerCode(command);
  if (count === 0) return { rc: ENODATA };
  if (count > TPM_BUFSIZE) {
    yield* devErr(`invalid count value ${count.toString(16)} ${TPM_BUFSIZE.toString(16)}`);
    return { rc: E2BIG };
  }
  // The kernel sends `count` bytes of its buffer: the header's size, not the length of the write.
  const buf = new Uint8Array(count);
  buf.set(command.subarray(0, count));
  const sent = yield* tpm_tis_send(st, buf);
  if (sent < 0) {
    if (sent !== EPIPE) yield* devErr(`tpm_try_transmit: send(): error ${sent}`);
    return { rc: sent };
  }
  const outcome = yield* pollCompletion(st, ordinal);
  if (outcome === 'canceled') {
    yield* devErr('Operation Canceled');
    return { rc: ECANCELED };
  }
  if (outcome === 'timeout') {
    yield* tpm_tis_ready(st); // tpm_chip_cancel
    yield* devErr('Operation Timed out');
    return { rc: ETIME };
  }
  const response: number[] = [];
  const len = yield* tpm_tis_recv(st, response, TPM_BUFSIZE);
  if (len < 0) {
    yield* devErr(`tpm_transmit: tpm_recv: error ${len}`);
    return { rc: len };
  }
  const bytes = Uint8Array.from(response.slice(0, len));
  if (len < TPM_HEADER_SIZE || len !== headerSize(bytes)) return { rc: EFAULT };
  return { rc: 0, response: bytes };
}

/**
 * The polling loop of tpm_try_transmit: status until dataAvail|stsValid, tpm_msleep(TPM_TIMEOUT_POLL)
 * between reads, for tpm_calc_ordinal_duration; then one last look before giving up.
 */
function* pollCompletion(st: LinuxState, ordinal: number): Op<'done' | 'canceled' | 'timeout'> {
  const stop = (yield* now()) + tpm2OrdinalDurationNs(ordinal);
  do {
    const status = yield* tpm_tis_status(st);
    if (completed(status)) return 'done';
    // tpm_tis_req_canceled: QEMU's VID (0x1014) gets the default test, status == commandReady.
    if (status === TPM_STS_COMMAND_READY) return 'canceled';
    yield* sleepNs(TPM_TIMEOUT_POLL_NS);
  } while ((yield* now()) < stop);
  return completed(yield* tpm_tis_status(st)) ? 'done' : 'timeout';
}

/** tpm_transmit: resends the command on TPM2_RC_RETRY and TPM2_RC_TESTING, 20 ms doubling to 2 s. */
export function* tpm_transmit(st: LinuxState, command: Uint8Array): Op<TransmitResult> {
  yield* enter('tpm_transmit');
  const cc = headerCode(command);
  let delayMs = TPM2_DURATION_SHORT_MS;
  for (;;) {
    const result = yield* tpm_try_transmit(st, command);
    if (result.rc < 0 || !result.response) return result;
    const rc = headerCode(result.response);
    if (rc !== RC.RETRY && rc !== RC.TESTING) return result;
    // A self test still running is reported at once, to keep boot short.
    if (rc === RC.TESTING && cc === CC.SelfTest) return result;
    if (delayMs > TPM2_DURATION_LONG_MS) {
      yield* devErr(rc === RC.RETRY ? 'in retry loop' : 'self test is still running');
      return result;
    }
    yield* sleepNs(delayMs * NS_PER_MS);
    delayMs *= 2;
  }
}

/**
 * write() then read() on /dev/tpm0: tpm_try_get_ops (which starts the chip and so takes the locality;
 * when that fails write() returns -EPIPE), tpm_transmit, tpm_put_ops (chip stop: the locality goes back).
 * No kernel HMAC session is open, so tpm2_end_auth_session sends nothing.
 */
export function* tpm_dev_transmit(st: LinuxState, command: Uint8Array): Op<TransmitResult> {
  yield* enter('tpm_dev_transmit');
  if ((yield* tpm_chip_start(st)) !== 0) return { rc: EPIPE };
  const result = yield* tpm_transmit(st, command);
  yield* tpm_chip_stop(st);
  return result;
}

/** The part of tpm_tis_core_init that shows in a trace and in dmesg: DID_VID and RID, and the banner. */
export function* tpm_tis_core_init(): Op {
  yield* enter('tpm_tis_core_init');
  const vendor = yield* ioread32(TPM_DID_VID(0));
  const rid = yield* ioread8(TPM_RID(0));
  const deviceId = (vendor >>> 16).toString(16).toUpperCase();
  yield* print(`${PLATFORM_PREFIX}2.0 TPM (device-id 0x${deviceId}, rev-id ${rid})`);
}

export function parseLinuxState(value: JsonValue): LinuxState {
  if (
    !isRecord(value) ||
    typeof value.locality !== 'number' ||
    typeof value.localityCount !== 'number' ||
    typeof value.chipLocality !== 'number' ||
    typeof value.invalidStatusReported !== 'boolean'
  ) {
    throw new Error(
      'linux driver: malformed state; expected {locality, localityCount, chipLocality, invalidStatusReported}',
    );
  }
  return {
    locality: value.locality,
    localityCount: value.localityCount,
    chipLocality: value.chipLocality,
    invalidStatusReported: value.invalidStatusReported,
  };
}

export const linuxDriver: GuestDriver<LinuxState> = {
  name: 'linux',
  initialState: initialLinuxState,
  parseState: parseLinuxState,
  probe: () => tpm_tis_core_init(),
  transmit: tpm_dev_transmit,
};
