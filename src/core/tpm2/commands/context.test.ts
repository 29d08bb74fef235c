// TPM2_ContextSave / TPM2_ContextLoad. Codes marked "observed" were read from swtpm 0.7.1 / libtpms 0.9.2
// for the same bytes (a saved context from tpm2_createprimary -c, then altered).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCommand, parseResponse, pwSession } from '../build';
import { CC, RH, SU } from '../constants';
import { Tpm2Engine } from '../engine';
import { fromHex, hex, TpmWriter } from '../marshal';
import { RC } from '../rc';

const FIXTURES = JSON.parse(readFileSync(new URL('./object.fixtures.json', import.meta.url), 'utf8')) as {
  fixtures: { name: string; command: string }[];
};
const createPrimary = (name: string) => fromHex(FIXTURES.fixtures.find((f) => f.name === name)!.command);

function started(seed = 'contexts'): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed });
  expect(tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) })).rc).toBe(0);
  return tpm;
}

interface Context {
  sequence: bigint;
  savedHandle: number;
  hierarchy: number;
  blob: Uint8Array;
}

function save(tpm: Tpm2Engine, handle: number): Context {
  const r = parseResponse(tpm.execute(buildCommand({ code: CC.ContextSave, handles: [handle] })).response);
  expect(r.rc).toBe(0);
  const c = {
    sequence: r.body.u64(),
    savedHandle: r.body.u32(),
    hierarchy: r.body.u32(),
    blob: r.body.tpm2b(0xffff),
  };
  expect(r.body.remaining).toBe(0);
  return c;
}

function loadCommand(c: Context): Uint8Array {
  return buildCommand({
    code: CC.ContextLoad,
    params: (w: TpmWriter) => w.u64(c.sequence).u32(c.savedHandle).u32(c.hierarchy).tpm2b(c.blob),
  });
}

function load(tpm: Tpm2Engine, c: Context): { rc: number; handle?: number } {
  const r = parseResponse(tpm.execute(loadCommand(c)).response);
  return r.rc === 0 ? { rc: 0, handle: r.body.u32() } : { rc: r.rc };
}

function readPublic(tpm: Tpm2Engine, handle: number): string {
  const r = tpm.execute(buildCommand({ code: CC.ReadPublic, handles: [handle] }));
  expect(r.rc).toBe(0);
  return hex(r.response.subarray(10));
}

function flush(tpm: Tpm2Engine, handle: number): number {
  return tpm.execute(buildCommand({ code: CC.FlushContext, params: (w) => w.u32(handle) })).rc;
}

describe('TPM2_ContextSave and TPM2_ContextLoad', () => {
  it('round trip: the loaded copy is the same key, in the lowest free slot; sequence numbers count up', () => {
    const tpm = started();
    expect(tpm.execute(createPrimary('owner_ecc256')).rc).toBe(0);
    const c = save(tpm, 0x80000000);
    // Observed layout: sequence 1, savedHandle 0x80000000, the owner hierarchy, a 64-octet integrity.
    expect(c.sequence).toBe(1n);
    expect(c.savedHandle).toBe(0x80000000);
    expect(c.hierarchy).toBe(RH.OWNER);
    expect(hex(c.blob.subarray(0, 2))).toBe('0040');
    expect(load(tpm, c)).toEqual({ rc: 0, handle: 0x80000001 });
    expect(readPublic(tpm, 0x80000001)).toBe(readPublic(tpm, 0x80000000));
    expect(flush(tpm, 0x80000000)).toBe(0);
    // The context can be loaded again and again; the blob hides the key material.
    expect(load(tpm, c)).toEqual({ rc: 0, handle: 0x80000000 });
    expect(save(tpm, 0x80000001).sequence).toBe(2n);
    expect(load(tpm, c)).toEqual({ rc: 0, handle: 0x80000002 });
    // All three slots are full: TPM_RC_OBJECT_MEMORY (observed 0x902).
    expect(load(tpm, c).rc).toBe(RC.OBJECT_MEMORY);
  });

  it('a hash sequence context keeps its data', () => {
    const tpm = started();
    const start = tpm.execute(
      buildCommand({ code: CC.HashSequenceStart, params: (w) => w.u16(0).u16(0x000b) }),
    );
    expect(start.rc).toBe(0);
    const update = buildCommand({
      code: CC.SequenceUpdate,
      handles: [0x80000000],
      sessions: [pwSession()],
      params: (w) => w.tpm2b(new TextEncoder().encode('abc')),
    });
    expect(tpm.execute(update).rc).toBe(0);
    const c = save(tpm, 0x80000000);
    expect(c.savedHandle).toBe(0x80000001);
    expect(flush(tpm, 0x80000000)).toBe(0);
    expect(load(tpm, c)).toEqual({ rc: 0, handle: 0x80000000 });
    const complete = parseResponse(
      tpm.execute(
        buildCommand({
          code: CC.SequenceComplete,
          handles: [0x80000000],
          sessions: [pwSession()],
          params: (w) => w.u16(0).u32(RH.NULL),
        }),
      ).response,
    );
    expect(complete.rc).toBe(0);
    complete.body.u32();
    // SHA-256("abc").
    expect(hex(complete.body.tpm2b(64))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('a changed context is TPM_RC_INTEGRITY + P1; malformed fields get the codes swtpm answers', () => {
    const tpm = started();
    expect(tpm.execute(createPrimary('owner_ecc256')).rc).toBe(0);
    const c = save(tpm, 0x80000000);
    const last = c.blob.slice();
    last[last.length - 1]! ^= 1;
    // All observed from swtpm 0.7.1.
    expect(load(tpm, { ...c, blob: last }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, sequence: 9n }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, hierarchy: RH.ENDORSEMENT }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, hierarchy: RH.NULL }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, savedHandle: 0x80000001 }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, savedHandle: 0x02000000 }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, savedHandle: 0x80000005 }).rc).toBe(0x1c4); // TPM_RC_VALUE + P1
    expect(load(tpm, { ...c, savedHandle: 0x81000000 }).rc).toBe(0x1c4);
    expect(load(tpm, { ...c, hierarchy: RH.PW }).rc).toBe(0x1c4);
    expect(load(tpm, { ...c, blob: new Uint8Array(0) }).rc).toBe(RC.INSUFFICIENT); // bare 0x09a
    expect(load(tpm, { ...c, blob: fromHex('0040') }).rc).toBe(RC.INSUFFICIENT);
    const shortIntegrity = new TpmWriter().u16(32).bytes(new Uint8Array(98)).finish();
    expect(load(tpm, { ...c, blob: shortIntegrity }).rc).toBe(0x1d5); // TPM_RC_SIZE + P1
    const noFingerprint = new TpmWriter().u16(64).bytes(new Uint8Array(64)).finish();
    expect(load(tpm, { ...c, blob: noFingerprint }).rc).toBe(0x1d5);
    // contextBlob holds at most 0xabc octets (observed: 0xabc is checked further, 0xabd is 0x1d5).
    const padded = (n: number) =>
      new TpmWriter()
        .u16(64)
        .bytes(new Uint8Array(n - 2))
        .finish();
    expect(load(tpm, { ...c, blob: padded(0xabc) }).rc).toBe(0x1df);
    expect(load(tpm, { ...c, blob: padded(0xabd) }).rc).toBe(0x1d5);
    // Nothing was loaded by any of these.
    expect(load(tpm, c)).toEqual({ rc: 0, handle: 0x80000001 });
  });

  it('ContextSave of an empty slot, a non-context handle, or an unknown session (observed codes)', () => {
    const tpm = started();
    const saveRc = (h: number) => tpm.execute(buildCommand({ code: CC.ContextSave, handles: [h] })).rc;
    expect(saveRc(0x80000000)).toBe(0x910);
    expect(saveRc(0x02000000)).toBe(0x910);
    expect(saveRc(0x80000005)).toBe(0x184);
    expect(saveRc(0x81000000)).toBe(0x184);
    expect(saveRc(0x01000000)).toBe(0x184);
  });

  it('contexts survive a TPM Restart but not a TPM Reset (observed from swtpm 0.7.1: 0x1df)', () => {
    const tpm = started();
    expect(tpm.execute(createPrimary('owner_ecc256')).rc).toBe(0);
    const c = save(tpm, 0x80000000);
    const shutdown = (type: number) =>
      tpm.execute(buildCommand({ code: CC.Shutdown, params: (w) => w.u16(type) })).rc;
    const startup = (type: number) => {
      tpm.ctx.started = false; // _TPM_Init
      return tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(type) })).rc;
    };
    expect(shutdown(SU.STATE)).toBe(0);
    expect(startup(SU.CLEAR)).toBe(0); // TPM Restart
    expect(load(tpm, c)).toEqual({ rc: 0, handle: 0x80000000 });
    expect(startup(SU.CLEAR)).toBe(0); // no orderly shutdown: TPM Reset
    expect(load(tpm, c).rc).toBe(0x1df);
  });
});
