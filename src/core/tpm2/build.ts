// Building commands and reading responses: used by tests, the guest workloads and the CLI.
import { RH, ST, TPM_HEADER_SIZE } from './constants';
import { TpmReader, TpmWriter } from './marshal';

export interface SessionSpec {
  handle: number;
  nonce?: Uint8Array;
  attributes?: number;
  hmac?: Uint8Array;
}

/** A password session (TPM_RS_PW) with continueSession set, as tpm2-tools sends it. */
export function pwSession(password: Uint8Array | string = new Uint8Array(0)): SessionSpec {
  const hmac = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  return { handle: RH.PW, attributes: 0x01, hmac };
}

export interface CommandSpecBytes {
  code: number;
  handles?: number[];
  /** With sessions the tag is TPM_ST_SESSIONS, without it TPM_ST_NO_SESSIONS. */
  sessions?: SessionSpec[];
  params?: Uint8Array | ((w: TpmWriter) => void);
  /** Override the tag (to test bad tags). */
  tag?: number;
}

export function buildCommand(spec: CommandSpecBytes): Uint8Array {
  const w = new TpmWriter();
  const tag = spec.tag ?? (spec.sessions ? ST.SESSIONS : ST.NO_SESSIONS);
  w.u16(tag);
  w.u32(0);
  w.u32(spec.code);
  for (const h of spec.handles ?? []) w.u32(h);
  if (spec.sessions) {
    const fill = w.sizeField(4);
    for (const s of spec.sessions) {
      w.u32(s.handle);
      w.tpm2b(s.nonce ?? new Uint8Array(0));
      w.u8(s.attributes ?? 0);
      w.tpm2b(s.hmac ?? new Uint8Array(0));
    }
    fill();
  }
  if (spec.params instanceof Uint8Array) w.bytes(spec.params);
  else spec.params?.(w);
  const out = w.finish();
  new DataView(out.buffer).setUint32(2, out.length);
  return out;
}

export interface ParsedResponse {
  tag: number;
  size: number;
  rc: number;
  /** Reader positioned after the header (at the handle area or parameters). */
  body: TpmReader;
}

export function parseResponse(bytes: Uint8Array): ParsedResponse {
  if (bytes.length < TPM_HEADER_SIZE)
    throw new Error(`response of ${bytes.length} bytes is shorter than a header`);
  const r = new TpmReader(bytes);
  const tag = r.u16();
  const size = r.u32();
  const rc = r.u32();
  return { tag, size, rc, body: r };
}
