// What a guest TPM driver offers the workloads: probe once, then transmit commands. Both Linux drivers
// (linux.ts, linux-2-6-37.ts) implement it. A driver keeps everything that must survive between
// transactions (the locality it holds, flags printed once, ...) in a plain-data state that the caller
// owns, passes in, and saves in its checkpoints; the driver functions update it in place.
import type { JsonValue } from '../kernel';
import type { Op } from './ops';

export const DRIVER_NAMES = ['linux', 'linux-2.6.37'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export interface TransmitResult {
  /** 0 when a response came back, else the kernel's negative error code (-ETIME, -EIO, ...). */
  rc: number;
  /** The bytes user space would read from /dev/tpm0 (present when rc is 0). */
  response?: Uint8Array;
}

export interface GuestDriver<S extends JsonValue = JsonValue> {
  readonly name: DriverName;
  /** The state of a driver that has not touched the device yet. */
  initialState(): S;
  /** Checks a state taken from a checkpoint; throws an Error saying what is wrong. */
  parseState(value: JsonValue): S;
  /** Driver init as far as it touches the TIS (request the locality, read DID_VID and RID, print). */
  probe(state: S): Op;
  /** One command through /dev/tpm0: write() then read(), as tpm_transmit does it. */
  transmit(state: S, command: Uint8Array): Op<TransmitResult>;
}
