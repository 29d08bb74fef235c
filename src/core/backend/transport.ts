// How QEMU's TPM backend reaches the TPM emulator: swtpm's two channels, command and control, as an
// asynchronous transport. Implementations: in-process (Node, tests), over a message port (the TPM Web
// Worker, or worker_threads in Node), and over sockets (src/cli, to a real swtpm or `tislab tpm-server`).
import { SwtpmDevice, type SwtpmDeviceOptions } from '../swtpm';

export interface TpmCommandResult {
  response: Uint8Array;
  /** Virtual time the TPM spent on the command (from the engine's cost model). */
  durationNs: number;
}

export interface TpmTransport {
  /** Sends one TPM command on the data channel; `nowNs` is the virtual time it is delivered at. */
  command(bytes: Uint8Array, nowNs?: number): Promise<TpmCommandResult>;
  /** Sends one control-channel request (tpm_ioctl.h layout) and returns the response bytes. */
  control(bytes: Uint8Array): Promise<Uint8Array>;
  close(): void;
}

/** The device in the same thread: answers are immediate, but still asynchronous like the others. */
export class InProcessTransport implements TpmTransport {
  readonly device: SwtpmDevice;

  constructor(options: SwtpmDeviceOptions | SwtpmDevice) {
    this.device = options instanceof SwtpmDevice ? options : new SwtpmDevice(options);
  }

  command(bytes: Uint8Array, nowNs?: number): Promise<TpmCommandResult> {
    return Promise.resolve(this.device.handleCommand(bytes, nowNs === undefined ? {} : { nowNs }));
  }

  control(bytes: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.device.handleControl(bytes));
  }

  close(): void {}
}
