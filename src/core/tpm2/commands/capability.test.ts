import { describe, expect, it } from 'vitest';
import { buildCommand, parseResponse } from '../build';
import { CAP, CC, SU } from '../constants';
import { Tpm2Engine } from '../engine';
import { hex } from '../marshal';

/** The upper 16 bits of TPMA_CC that swtpm 0.7.1 reports for each command this engine implements. */
const SWTPM_TPMA_CC_HIGH: Record<number, number> = {
  0x142: 0x40,
  0x143: 0x40,
  0x144: 0x40,
  0x145: 0x40,
  0x146: 0x40,
  0x17b: 0x0,
  0x17c: 0x0,
  0x181: 0x0,
  0x17e: 0x0,
  0x182: 0x240,
  0x13c: 0x240,
  0x13d: 0x240,
  0x17d: 0x0,
  0x186: 0x1000,
  0x15c: 0x200,
  0x13e: 0x300,
  0x12a: 0x240,
  0x122: 0x440,
  0x169: 0x200,
  0x137: 0x440,
  0x14e: 0x400,
  0x134: 0x440,
  0x131: 0x1200,
  0x173: 0x200,
  0x165: 0x0,
  0x17a: 0x0,
  0x185: 0x540,
  0x161: 0x1000,
  0x162: 0x200,
  0x176: 0x1400,
};

function started(): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed: 'cap' });
  tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) }));
  return tpm;
}

function getCap(tpm: Tpm2Engine, capability: number, property: number, count: number) {
  return tpm.execute(
    buildCommand({ code: CC.GetCapability, params: (w) => w.u32(capability).u32(property).u32(count) }),
  );
}

function properties(bytes: Uint8Array): { moreData: number; props: Array<[number, number]> } {
  const r = parseResponse(bytes).body;
  const moreData = r.u8();
  r.u32();
  const n = r.u32();
  return { moreData, props: Array.from({ length: n }, () => [r.u32(), r.u32()] as [number, number]) };
}

describe('GetCapability', () => {
  // Byte strings below are swtpm 0.7.1's answers to the same requests.
  it('PCR handles page like swtpm', () => {
    expect(hex(getCap(started(), CAP.HANDLES, 0, 3).response)).toBe(
      '80010000001f00000000010000000100000003000000000000000100000002',
    );
  });

  it('lists the permanent handles like swtpm', () => {
    expect(hex(getCap(started(), CAP.HANDLES, 0x40000000, 100).response)).toBe(
      '80010000002f000000000000000001000000074000000140000007400000094000000a4000000b4000000c4000000d',
    );
  });

  it('refuses an unknown handle type and an unknown capability with swtpm codes', () => {
    const tpm = started();
    expect(getCap(tpm, CAP.HANDLES, 0x05000000, 3).rc).toBe(0x2cb);
    expect(getCap(tpm, 0x0b, 0, 100).rc).toBe(0x1c4);
  });

  it('a count of 0 returns an empty list with moreData set', () => {
    expect(hex(getCap(started(), CAP.ALGS, 0, 0).response)).toBe('80010000001300000000010000000000000000');
  });

  it('reports the three allocated banks with all 24 PCRs', () => {
    const r = parseResponse(getCap(started(), CAP.PCRS, 0, 100).response).body;
    expect(hex(r.bytes(r.remaining))).toBe(
      '000000000500000003' + '000403ffffff' + '000b03ffffff' + '000c03ffffff',
    );
  });

  it('fixed properties start at TPM_PT_FIXED, never spill into the variable group', () => {
    const tpm = started();
    const first = properties(getCap(tpm, CAP.TPM_PROPERTIES, 0, 3).response);
    expect(first.moreData).toBe(1);
    expect(first.props).toEqual([
      [0x100, 0x322e3000],
      [0x101, 0],
      [0x102, 164],
    ]);
    const all = properties(getCap(tpm, CAP.TPM_PROPERTIES, 0x100, 100).response);
    expect(all.moreData).toBe(0);
    expect(all.props.map((p) => p[0])).toEqual(
      [...Array(47).keys()].map((i) => 0x100 + i).filter((p) => p !== 0x115),
    );
    const none = properties(getCap(tpm, CAP.TPM_PROPERTIES, 0x300, 3).response);
    expect(none).toEqual({ moreData: 0, props: [] });
  });

  it('variable properties follow the loaded state', () => {
    const tpm = started();
    const vars = new Map(properties(getCap(tpm, CAP.TPM_PROPERTIES, 0x200, 100).response).props);
    expect(vars.get(0x201)).toBe(0x8000000f);
    expect(vars.get(0x204)).toBe(3); // HR_LOADED_AVAIL with nothing loaded
    expect(vars.get(0x202)).toBe(0); // no NV indices
  });

  it('every implemented command appears once, in order, with its handle count', () => {
    const r = parseResponse(getCap(started(), CAP.COMMANDS, 0, 256).response).body;
    expect(r.u8()).toBe(0);
    r.u32();
    const n = r.u32();
    const entries = Array.from({ length: n }, () => r.u32());
    const codes = entries.map((e) => e & 0xffff);
    expect(codes).toEqual([...codes].sort((a, b) => a - b));
    expect(codes).toContain(CC.GetCapability);
    // TPMA_CC as swtpm reports them: Startup nv; GetRandom plain.
    expect(entries.find((e) => (e & 0xffff) === CC.Startup)).toBe(0x00400144);
    expect(entries.find((e) => (e & 0xffff) === CC.GetRandom)).toBe(0x0000017b);
    for (const e of entries) {
      const code = e & 0xffff;
      expect(SWTPM_TPMA_CC_HIGH[code], `TPMA_CC of 0x${code.toString(16)}`).toBe(e >>> 16);
    }
  });
});
