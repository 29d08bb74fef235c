// Where one message ends in swtpm's two byte streams.
//
// Control channel: swtpm's ctrlchannel_recv_cmd reads the u32 command, then waits (up to 500 ms) until
// the bytes that command needs have arrived: a fixed struct for most commands, the struct plus `length`
// data bytes for HASH_DATA and SET_STATEBLOB, and only the command word for commands without a request
// body and for unknown commands (which it answers TPM_BAD_ORDINAL). SET_BUFFERSIZE and GET_INFO have no
// case there either, so swtpm processes whatever arrived with the command word; a client sends the whole
// request in one write, which is what ctrlRequestLength assumes.
//
// Data channel: swtpm reads at least the 10-byte header and then what has arrived, at most
// TPM_BUFFER_MAX plus the 9-byte TCG send-command prefix (4105 bytes). A client writes a command in one
// piece, so a command is the header's commandSize bytes, clamped to [10, 4105]. Observed from swtpm 0.7.1:
// a 4105-byte command whose header says 9999 is answered TPM_RC_COMMAND_SIZE and a command written right
// after it is answered separately; with 4104 or 4106 bytes before it, the stream falls out of step.
import { CMD } from './ioctl';

/** libtpms' TPM_BUFFER_MAX: the largest command the data channel reads at once (without the prefix). */
export const TPM_BUFFER_MAX = 4096;
/** struct tpm2_send_command_prefix: u32 cmd (TPM2_SEND_COMMAND = 8), u8 locality, u32 size. */
export const SEND_COMMAND_PREFIX_SIZE = 9;
export const TPM2_SEND_COMMAND = 8;
/** The most swtpm's mainloop reads as one command. */
export const MAX_DATA_READ = TPM_BUFFER_MAX + SEND_COMMAND_PREFIX_SIZE;

const TPM_HEADER_SIZE = 10;

function u32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** Request bytes after the command word, for commands with a fixed-size request. */
const FIXED_BODY: ReadonlyMap<number, number> = new Map([
  [CMD.INIT, 4],
  [CMD.SET_LOCALITY, 1],
  [CMD.RESET_TPMESTABLISHED, 1],
  [CMD.GET_STATEBLOB, 12],
  [CMD.SET_BUFFERSIZE, 4],
  [CMD.GET_INFO, 16],
]);

/**
 * How many bytes the first control request in `buf` occupies, or undefined while more bytes are needed.
 * Commands without a body and unknown commands are the 4-byte command word alone.
 */
export function ctrlRequestLength(buf: Uint8Array): number | undefined {
  if (buf.length < 4) return undefined;
  const cmd = u32(buf, 0);
  let need: number;
  if (cmd === CMD.HASH_DATA) {
    if (buf.length < 8) return undefined;
    need = 8 + u32(buf, 4);
  } else if (cmd === CMD.SET_STATEBLOB) {
    if (buf.length < 16) return undefined;
    need = 16 + u32(buf, 12);
  } else {
    need = 4 + (FIXED_BODY.get(cmd) ?? 0);
  }
  return buf.length >= need ? need : undefined;
}

/**
 * How many bytes the response to `cmd` occupies at the start of `buf`, or undefined while more are
 * needed. Errors are a bare u32 result, except GET_STATEBLOB, which answers its 16-byte header for every
 * result but TPM_BAD_ORDINAL (TPM not running) and TPM_BAD_PARAMETER (short request), and carries data
 * only on success.
 */
export function ctrlResponseLength(cmd: number, buf: Uint8Array): number | undefined {
  const have = (n: number): number | undefined => (buf.length >= n ? n : undefined);
  if (cmd === CMD.GET_CAPABILITY) return have(8);
  if (buf.length < 4) return undefined;
  const result = u32(buf, 0);
  switch (cmd) {
    case CMD.GET_STATEBLOB:
      if (result === 0x0a || result === 0x03) return 4;
      if (buf.length < 16) return undefined;
      return have(16 + (result === 0 ? u32(buf, 12) : 0));
    case CMD.GET_INFO:
      if (result !== 0) return 4;
      if (buf.length < 12) return undefined;
      return have(12 + u32(buf, 8));
    case CMD.GET_TPMESTABLISHED:
    case CMD.GET_CONFIG:
      return result === 0 ? have(8) : 4;
    case CMD.SET_BUFFERSIZE:
      return result === 0 ? have(16) : 4;
    default:
      return 4;
  }
}

/**
 * How many bytes the first TPM command in `buf` occupies on the data channel, or undefined while more
 * are needed: commandSize from the header (or the size in a TCG send-command prefix), clamped to
 * [10, MAX_DATA_READ] as swtpm's read is.
 */
export function tpmCommandLength(buf: Uint8Array): number | undefined {
  if (buf.length < TPM_HEADER_SIZE) return undefined;
  const tag = (buf[0]! << 8) | buf[1]!;
  let size: number;
  if (tag !== 0x8001 && tag !== 0x8002 && u32(buf, 0) === TPM2_SEND_COMMAND) {
    size = SEND_COMMAND_PREFIX_SIZE + u32(buf, 5);
  } else {
    size = u32(buf, 2);
  }
  const need = Math.min(Math.max(size, TPM_HEADER_SIZE), MAX_DATA_READ);
  return buf.length >= need ? need : undefined;
}

/** Length of a TPM response at the start of `buf` (its header's responseSize), or undefined. */
export function tpmResponseLength(buf: Uint8Array): number | undefined {
  if (buf.length < TPM_HEADER_SIZE) return undefined;
  const size = Math.max(u32(buf, 2), TPM_HEADER_SIZE);
  return buf.length >= size ? size : undefined;
}
