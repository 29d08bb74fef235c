import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  applyBlob,
  BLOB_FORMAT_VERSION,
  BLOB_HASH_SIZE,
  BLOB_HEADER_SIZE,
  BLOB_MAGIC,
  BlobError,
  getBlob,
  parseBlob,
  type BlobType,
} from './blob';
import { buildCommand, parseResponse, pwSession } from './build';
import { CC, SU } from './constants';
import { Tpm2Engine } from './engine';
import { hex } from './marshal';
import { RC } from './rc';

const startup = (su: number) => buildCommand({ code: CC.Startup, params: (w) => w.u16(su) });
const shutdown = (su: number) => buildCommand({ code: CC.Shutdown, params: (w) => w.u16(su) });
const getRandom = (n: number) => buildCommand({ code: CC.GetRandom, params: (w) => w.u16(n) });
const readClock = () => buildCommand({ code: CC.ReadClock });
const hashSequenceStart = () =>
  buildCommand({ code: CC.HashSequenceStart, params: (w) => w.tpm2b(new Uint8Array(0)).u16(0x000b) });
const pcrExtend = (pcr: number, byte: number) =>
  buildCommand({
    code: CC.PCR_Extend,
    handles: [pcr],
    sessions: [pwSession()],
    params: (w) => w.u32(1).u16(0x000b).bytes(new Uint8Array(32).fill(byte)),
  });

function busyTpm(seed: string | number = 'blob'): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed });
  expect(tpm.execute(startup(SU.CLEAR)).rc).toBe(RC.SUCCESS);
  tpm.execute(getRandom(16));
  tpm.execute(pcrExtend(3, 0xaa));
  tpm.execute(hashSequenceStart());
  return tpm;
}

/** A blob whose body is replaced and whose hash is recomputed, so only the body checks can refuse it. */
function reframe(type: BlobType, body: string, version = BLOB_FORMAT_VERSION): Uint8Array {
  const text = new TextEncoder().encode(body);
  const out = new Uint8Array(BLOB_HEADER_SIZE + text.length + BLOB_HASH_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0, BLOB_MAGIC[type]);
  v.setUint16(4, version);
  v.setUint32(8, text.length);
  out.set(text, BLOB_HEADER_SIZE);
  out.set(sha256(out.subarray(0, BLOB_HEADER_SIZE + text.length)), BLOB_HEADER_SIZE + text.length);
  return out;
}

function bodyOf(blob: Uint8Array): Record<string, unknown> {
  const len = new DataView(blob.buffer, blob.byteOffset).getUint32(8);
  return JSON.parse(
    new TextDecoder().decode(blob.subarray(BLOB_HEADER_SIZE, BLOB_HEADER_SIZE + len)),
  ) as Record<string, unknown>;
}

function refusal(type: BlobType, bytes: Uint8Array): BlobError {
  try {
    parseBlob(type, bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(BlobError);
    return e as BlobError;
  }
  throw new Error('the blob was accepted');
}

describe('state blobs', () => {
  it('a restored TPM continues exactly: same random bytes, clock, PCRs and loaded sequence', () => {
    const source = busyTpm();
    const perm = getBlob(source.ctx, 'permanent');
    const vol = getBlob(source.ctx, 'volatile');

    const dest = new Tpm2Engine({ seed: 'another seed entirely' });
    applyBlob(dest.ctx, parseBlob('permanent', perm));
    applyBlob(dest.ctx, parseBlob('volatile', vol));

    const next = [
      getRandom(32),
      readClock(),
      buildCommand({
        code: CC.PCR_Read,
        params: (w) => w.u32(1).u16(0x000b).u8(3).u8(0xff).u8(0xff).u8(0xff),
      }),
      buildCommand({ code: CC.GetCapability, params: (w) => w.u32(1).u32(0x80000000).u32(8) }),
      getRandom(8),
    ];
    for (const cmd of next) {
      const expected = source.execute(cmd).response;
      expect(parseResponse(expected).rc).toBe(RC.SUCCESS);
      expect(hex(dest.execute(cmd).response)).toBe(hex(expected));
    }
    // Without the volatile blob the destination would still need TPM2_Startup.
    const cold = new Tpm2Engine({ seed: 'another seed entirely' });
    applyBlob(cold.ctx, parseBlob('permanent', perm));
    expect(cold.execute(getRandom(8)).rc).toBe(RC.INITIALIZE);
  });

  it('blobs are deterministic and change when the state changes', () => {
    const a = busyTpm('same');
    const b = busyTpm('same');
    expect(hex(getBlob(a.ctx, 'volatile'))).toBe(hex(getBlob(b.ctx, 'volatile')));
    expect(hex(getBlob(a.ctx, 'permanent'))).toBe(hex(getBlob(b.ctx, 'permanent')));
    const before = getBlob(a.ctx, 'volatile');
    a.execute(getRandom(1));
    expect(hex(getBlob(a.ctx, 'volatile'))).not.toBe(hex(before));
  });

  it('has the documented header: magic, version, flags, length, then SHA-256 over header and body', () => {
    const blob = getBlob(busyTpm().ctx, 'permanent');
    const v = new DataView(blob.buffer);
    expect(v.getUint32(0)).toBe(0x544c504d); // "TLPM"
    expect(v.getUint16(4)).toBe(1);
    expect(v.getUint16(6)).toBe(0);
    const len = v.getUint32(8);
    expect(blob.length).toBe(12 + len + 32);
    expect(hex(blob.subarray(12 + len))).toBe(hex(sha256(blob.subarray(0, 12 + len))));
    const magics = Object.values(BLOB_MAGIC);
    expect(new Set(magics).size).toBe(3);
  });

  it('the save-state blob is empty without Shutdown(STATE) and carries the saved PCRs after it', () => {
    const tpm = busyTpm();
    expect(getBlob(tpm.ctx, 'savestate').length).toBe(0);
    expect(parseBlob('savestate', new Uint8Array(0)).saved).toBeNull();
    expect(tpm.execute(shutdown(SU.STATE)).rc).toBe(RC.SUCCESS);
    const blob = getBlob(tpm.ctx, 'savestate');
    expect(blob.length).toBeGreaterThan(44);
    const parsed = parseBlob('savestate', blob);
    expect(hex(parsed.saved!.pcrs.sha256[3]!)).toBe(hex(tpm.ctx.vol.pcrs.sha256[3]!));
  });

  it('Shutdown(STATE) travels with the permanent state, so Startup(STATE) works after a restore', () => {
    const tpm = busyTpm();
    expect(tpm.execute(shutdown(SU.STATE)).rc).toBe(RC.SUCCESS);
    const perm = getBlob(tpm.ctx, 'permanent');
    const dest = new Tpm2Engine({ seed: 'fresh' });
    expect(dest.execute(startup(SU.STATE)).rc).not.toBe(RC.SUCCESS);
    const dest2 = new Tpm2Engine({ seed: 'fresh' });
    applyBlob(dest2.ctx, parseBlob('permanent', perm));
    expect(dest2.execute(startup(SU.STATE)).rc).toBe(RC.SUCCESS);
    expect(hex(dest2.ctx.vol.pcrs.sha256[3]!)).toBe(hex(tpm.ctx.vol.pcrs.sha256[3]!));
  });

  it('one parsed blob applied to two TPMs gives two independent TPMs', () => {
    const parsed = parseBlob('volatile', getBlob(busyTpm().ctx, 'volatile'));
    const x = new Tpm2Engine({ seed: 1 });
    const y = new Tpm2Engine({ seed: 2 });
    applyBlob(x.ctx, parsed);
    applyBlob(y.ctx, parsed);
    const rx = x.execute(getRandom(16)).response;
    const ry = y.execute(getRandom(16)).response;
    expect(hex(rx)).toBe(hex(ry));
    x.ctx.vol.pcrs.sha256[0]![0] = 0x55;
    expect(y.ctx.vol.pcrs.sha256[0]![0]).toBe(0);
  });
});

describe('refused blobs', () => {
  const good = getBlob(busyTpm().ctx, 'volatile');

  it('a truncated blob names the sizes', () => {
    const e = refusal('volatile', good.subarray(0, good.length - 1));
    expect(e.kind).toBe('truncated');
    expect(e.message).toMatch(/needs \d+ bytes, but it has \d+/);
    expect(refusal('volatile', good.subarray(0, 3)).kind).toBe('truncated');
    expect(refusal('permanent', new Uint8Array(0)).kind).toBe('truncated');
  });

  it('an oversized blob says how many bytes too many', () => {
    const e = refusal('volatile', Uint8Array.from([...good, 0, 0]));
    expect(e.kind).toBe('oversized');
    expect(e.message).toContain('2 more than');
  });

  it('the wrong blob type is named', () => {
    const e = refusal('permanent', good);
    expect(e.kind).toBe('magic');
    expect(e.message).toContain('it is a volatile-state blob');
    const junk = refusal(
      'permanent',
      new TextEncoder().encode('hello, this is not a blob at all, not even close'),
    );
    expect(junk.message).toMatch(/magic is 0x68656c6c "hell".*expected magic 0x544c504d "TLPM"/);
  });

  it('another format version names both versions', () => {
    const e = refusal('volatile', reframe('volatile', JSON.stringify(bodyOf(good)), 2));
    expect(e.kind).toBe('version');
    expect(e.message).toContain('format version 2');
    expect(e.message).toContain('reads format version 1');
  });

  it('a flipped byte anywhere in the body or hash is a hash mismatch', () => {
    for (const at of [12, Math.floor(good.length / 2), good.length - 1]) {
      const bad = good.slice();
      bad[at]! ^= 0x01;
      expect(refusal('volatile', bad).kind).toBe('hash');
    }
  });

  it('unknown flags are refused', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint16(6, 1);
    expect(refusal('volatile', bad).kind).toBe('flags');
  });

  it('the body is checked field by field, with the path of the first problem', () => {
    const body = bodyOf(good) as { vol: { pcrs: { sha256: string[] } }; started: unknown; extra?: number };
    const cases: [(b: typeof body) => void, RegExp][] = [
      [
        (b) => b.vol.pcrs.sha256.pop(),
        /\$\.vol\.pcrs\.sha256: expected an array of exactly 24 entries, got 23/,
      ],
      [
        (b) => (b.vol.pcrs.sha256[5] = '00'),
        /\$\.vol\.pcrs\.sha256\[5\]: expected 64 lowercase hex digits \(32 bytes\), got 1 bytes/,
      ],
      [(b) => (b.vol.pcrs.sha256[5] = 'zz'), /\$\.vol\.pcrs\.sha256\[5\]: expected 64 lowercase hex digits/],
      [(b) => (b.started = 1), /\$\.started: expected true or false, got number 1/],
      [(b) => (b.extra = 1), /unexpected field "extra"/],
      [(b) => delete (b as Partial<typeof body>).started, /missing field "started"/],
    ];
    for (const [mutate, message] of cases) {
      const b = structuredClone(body);
      mutate(b);
      const e = refusal('volatile', reframe('volatile', JSON.stringify(b)));
      expect(e.kind).toBe('shape');
      expect(e.message).toMatch(message);
    }
    expect(refusal('volatile', reframe('volatile', '{not json')).kind).toBe('shape');
  });

  it('a DRBG state that cannot be restored is refused before anything is applied', () => {
    const body = bodyOf(good) as { drbg: { k: string } };
    body.drbg.k = 'short';
    const e = refusal('volatile', reframe('volatile', JSON.stringify(body)));
    expect(e.message).toMatch(/\$\.drbg: .*k must be 64 lowercase hex digits/);
  });

  it('a refused blob leaves the TPM untouched', () => {
    const tpm = busyTpm('untouched');
    const twin = busyTpm('untouched');
    const before = getBlob(tpm.ctx, 'volatile');
    const bad = good.slice();
    bad[20]! ^= 0xff;
    expect(() => applyBlob(tpm.ctx, parseBlob('volatile', bad))).toThrow(BlobError);
    expect(hex(getBlob(tpm.ctx, 'volatile'))).toBe(hex(before));
    expect(hex(tpm.execute(getRandom(16)).response)).toBe(hex(twin.execute(getRandom(16)).response));
    expect(parseResponse(tpm.execute(readClock()).response).rc).toBe(RC.SUCCESS);
  });
});
