// Big-endian wire format of TPM 2.0 Part 2 §5 ("canonical form"). Underflow is TPM_RC_INSUFFICIENT and
// an oversized TPM2B is TPM_RC_SIZE, as the reference unmarshalling code returns them; the caller adds
// the parameter number (rcParam) like libtpms' generated *_Unmarshal wrappers.
import { RC, TpmError } from './rc';

export class TpmReader {
  private offset: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private end = buf.length,
  ) {
    this.offset = start;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Restricts reading to the next n bytes (e.g. the authorization area), returning the old end. */
  limit(n: number): number {
    const old = this.end;
    this.end = this.offset + n;
    return old;
  }

  restoreLimit(end: number): void {
    this.end = end;
  }

  private need(n: number): void {
    if (this.end - this.offset < n) throw new TpmError(RC.INSUFFICIENT, `need ${n} more bytes`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  /** The next byte, without consuming it. */
  peekU8(): number {
    this.need(1);
    return this.buf[this.offset]!;
  }

  u16(): number {
    this.need(2);
    const b = this.buf;
    const v = (b[this.offset]! << 8) | b[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const o = this.offset;
    const v = (b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)) >>> 0;
    this.offset += 4;
    return v;
  }

  u64(): bigint {
    const hi = this.u32();
    const lo = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A TPM2B: u16 size then that many bytes; `max` is the buffer's declared capacity. */
  tpm2b(max: number): Uint8Array {
    const size = this.u16();
    if (size > max) throw new TpmError(RC.SIZE, `TPM2B of ${size} bytes exceeds its maximum ${max}`);
    return this.bytes(size);
  }
}

export class TpmWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf[this.len++] = (v >>> 24) & 0xff;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u64(v: bigint): this {
    this.u32(Number((v >> 32n) & 0xffffffffn));
    return this.u32(Number(v & 0xffffffffn));
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  tpm2b(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }

  /** Writes a placeholder u16/u32 and returns a function that fills in the bytes written since. */
  sizeField(width: 2 | 4): () => void {
    const at = this.len;
    if (width === 2) this.u16(0);
    else this.u32(0);
    return () => {
      const size = this.len - at - width;
      if (width === 2) {
        this.buf[at] = (size >>> 8) & 0xff;
        this.buf[at + 1] = size & 0xff;
      } else {
        this.buf[at] = (size >>> 24) & 0xff;
        this.buf[at + 1] = (size >>> 16) & 0xff;
        this.buf[at + 2] = (size >>> 8) & 0xff;
        this.buf[at + 3] = size & 0xff;
      }
    };
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(h: string): Uint8Array {
  const clean = h.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not a hex string: ${h}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
