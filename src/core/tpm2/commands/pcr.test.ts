// PCR_Read, PCR_Extend, PCR_Event and PCR_Reset. Every response code and every locality / counter rule
// asserted here was observed from swtpm 0.7.1 (libtpms 0.9.2) with the same command bytes.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCommand, parseResponse, pwSession } from '../build';
import { ALG, CC, RH, SU } from '../constants';
import { Tpm2Engine } from '../engine';
import { fromHex, hex, type TpmReader, type TpmWriter } from '../marshal';
import { RC } from '../rc';

const SHA1 = ALG.SHA1;
const SHA256 = ALG.SHA256;
const SHA384 = ALG.SHA384;
const NODE_NAME: Record<number, string> = { [SHA1]: 'sha1', [SHA256]: 'sha256', [SHA384]: 'sha384' };
const SIZE: Record<number, number> = { [SHA1]: 20, [SHA256]: 32, [SHA384]: 48 };

function h(alg: number, ...parts: Uint8Array[]): Uint8Array {
  const x = createHash(NODE_NAME[alg]!);
  for (const p of parts) x.update(p);
  return new Uint8Array(x.digest());
}

function started(): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed: 'pcr' });
  expect(tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) })).rc).toBe(0);
  return tpm;
}

type Sel = [alg: number, select: number[]];

function writeSel(w: TpmWriter, sels: Sel[]): void {
  w.u32(sels.length);
  for (const [alg, bytes] of sels) w.u16(alg).u8(bytes.length).bytes(new Uint8Array(bytes));
}

interface ReadResult {
  counter: number;
  selections: Sel[];
  values: string[];
}

function readSelections(r: TpmReader): Sel[] {
  const n = r.u32();
  return Array.from({ length: n }, () => {
    const alg = r.u16();
    const size = r.u8();
    return [alg, [...r.bytes(size)]] as Sel;
  });
}

function pcrRead(tpm: Tpm2Engine, sels: Sel[]): ReadResult {
  const res = tpm.execute(buildCommand({ code: CC.PCR_Read, params: (w) => writeSel(w, sels) }));
  expect(res.rc).toBe(0);
  const r = parseResponse(res.response).body;
  const counter = r.u32();
  const selections = readSelections(r);
  const n = r.u32();
  const values = Array.from({ length: n }, () => hex(r.tpm2b(64)));
  expect(r.remaining).toBe(0);
  return { counter, selections, values };
}

function pcrValue(tpm: Tpm2Engine, alg: number, pcr: number): string {
  const sel = [0, 0, 0];
  sel[pcr >> 3] = 1 << (pcr & 7);
  return pcrRead(tpm, [[alg, sel]]).values[0]!;
}

function counter(tpm: Tpm2Engine): number {
  return pcrRead(tpm, []).counter;
}

function extendCmd(pcr: number, digests: Array<[number, Uint8Array]>, password = ''): Uint8Array {
  return buildCommand({
    code: CC.PCR_Extend,
    handles: [pcr],
    sessions: [pwSession(password)],
    params: (w) => {
      w.u32(digests.length);
      for (const [alg, d] of digests) w.u16(alg).bytes(d);
    },
  });
}

function eventCmd(pcr: number, data: Uint8Array): Uint8Array {
  return buildCommand({
    code: CC.PCR_Event,
    handles: [pcr],
    sessions: [pwSession()],
    params: (w) => w.tpm2b(data),
  });
}

function resetCmd(pcr: number, password = ''): Uint8Array {
  return buildCommand({ code: CC.PCR_Reset, handles: [pcr], sessions: [pwSession(password)] });
}

function rcOf(tpm: Tpm2Engine, cmd: Uint8Array, locality = 0): number {
  return tpm.execute(cmd, { locality }).rc;
}

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const ALL: Sel = [SHA256, [0xff, 0xff, 0xff]];

describe('PCR_Read', () => {
  it('reads the power-on values: zeros, and all ones for PCRs 17–22', () => {
    const tpm = started();
    for (const alg of [SHA1, SHA256, SHA384]) {
      expect(pcrValue(tpm, alg, 0)).toBe('00'.repeat(SIZE[alg]!));
      expect(pcrValue(tpm, alg, 16)).toBe('00'.repeat(SIZE[alg]!));
      expect(pcrValue(tpm, alg, 17)).toBe('ff'.repeat(SIZE[alg]!));
      expect(pcrValue(tpm, alg, 22)).toBe('ff'.repeat(SIZE[alg]!));
      expect(pcrValue(tpm, alg, 23)).toBe('00'.repeat(SIZE[alg]!));
    }
  });

  it('returns at most eight digests and clears the selection bits it did not return', () => {
    const tpm = started();
    const all = pcrRead(tpm, [ALL, [SHA1, [0xff, 0xff, 0xff]], [SHA384, [0xff, 0xff, 0xff]]]);
    expect(all.values).toHaveLength(8);
    expect(all.selections).toEqual([
      [SHA256, [0xff, 0, 0]],
      [SHA1, [0, 0, 0]],
      [SHA384, [0, 0, 0]],
    ]);
    // Across banks, in request order (observed from swtpm 0.7.1: 0f / ff01 / 01 → 0f / 0f / 00).
    const mixed = pcrRead(tpm, [
      [SHA256, [0x0f, 0, 0]],
      [SHA1, [0xff, 0x01, 0]],
      [SHA384, [0x01, 0, 0]],
    ]);
    expect(mixed.selections).toEqual([
      [SHA256, [0x0f, 0, 0]],
      [SHA1, [0x0f, 0, 0]],
      [SHA384, [0, 0, 0]],
    ]);
    expect(mixed.values.map((v) => v.length / 2)).toEqual([32, 32, 32, 32, 20, 20, 20, 20]);
    // A selection starting at PCR 16 returns 16..23: six ones-valued PCRs among them.
    const high = pcrRead(tpm, [[SHA256, [0, 0, 0xff]]]);
    expect(high.values).toEqual([
      '00'.repeat(32),
      ...Array<string>(6).fill('ff'.repeat(32)),
      '00'.repeat(32),
    ]);
  });

  it('keeps empty and repeated selections in the answer', () => {
    const tpm = started();
    const r = pcrRead(tpm, [
      [SHA256, [0, 0, 0]],
      [SHA256, [1, 0, 0]],
      [SHA256, [1, 0, 0]],
    ]);
    expect(r.selections).toHaveLength(3);
    expect(r.values).toEqual(['00'.repeat(32), '00'.repeat(32)]);
    expect(pcrRead(tpm, []).selections).toEqual([]);
  });

  it('refuses malformed selections like swtpm', () => {
    const tpm = started();
    const read = (params: string) => rcOf(tpm, buildCommand({ code: CC.PCR_Read, params: fromHex(params) }));
    // Observed from swtpm 0.7.1.
    expect(read('00000005')).toBe(0x1d5); // more than HASH_COUNT selections: TPM_RC_SIZE
    expect(read('00000001 000b 02 ffff')).toBe(0x1c4); // sizeofSelect below PCR_SELECT_MIN: TPM_RC_VALUE
    expect(read('00000001 000b 04 ffffffff')).toBe(0x1c4); // above PCR_SELECT_MAX
    expect(read('00000001 0012 03 010000')).toBe(0x1c3); // SM3 is not implemented: TPM_RC_HASH
    expect(read('00000001 0010 03 010000')).toBe(0x1c3); // TPM_ALG_NULL
    expect(read('00000001 0099 03 010000')).toBe(0x1c3);
    expect(read('00000001 000b 03')).toBe(0x1da); // TPM_RC_INSUFFICIENT
    expect(read('00000001 000b 03 000000 00')).toBe(0x095); // a left-over byte: TPM_RC_SIZE
    // libtpms also has a SHA-512 bank (swtpm answers 0x000); this engine has none.
    expect(read('00000001 000d 03 010000')).toBe(0x1c3);
  });
});

describe('PCR_Extend', () => {
  it('extends each bank named in the digest list: PCR = H(PCR || digest)', () => {
    const tpm = started();
    const d256 = fill(32, 0x11);
    const d1 = fill(20, 0x22);
    expect(
      rcOf(
        tpm,
        extendCmd(0, [
          [SHA256, d256],
          [SHA1, d1],
        ]),
      ),
    ).toBe(0);
    const expected256 = h(SHA256, new Uint8Array(32), d256);
    expect(pcrValue(tpm, SHA256, 0)).toBe(hex(expected256));
    expect(pcrValue(tpm, SHA1, 0)).toBe(hex(h(SHA1, new Uint8Array(20), d1)));
    expect(pcrValue(tpm, SHA384, 0)).toBe('00'.repeat(48));
    // The same bank twice in one command extends twice.
    expect(
      rcOf(
        tpm,
        extendCmd(0, [
          [SHA256, d256],
          [SHA256, d256],
        ]),
      ),
    ).toBe(0);
    expect(pcrValue(tpm, SHA256, 0)).toBe(hex(h(SHA256, h(SHA256, expected256, d256), d256)));
    // PCR 17 starts as all ones: the extend starts from them.
    expect(rcOf(tpm, extendCmd(17, [[SHA384, fill(48, 0x33)]]), 2)).toBe(0);
    expect(pcrValue(tpm, SHA384, 17)).toBe(hex(h(SHA384, fill(48, 0xff), fill(48, 0x33))));
  });

  it('does nothing for TPM_RH_NULL, from any locality', () => {
    const tpm = started();
    const before = pcrRead(tpm, [ALL]);
    expect(rcOf(tpm, extendCmd(RH.NULL, [[SHA256, fill(32, 1)]]), 3)).toBe(0);
    expect(pcrRead(tpm, [ALL])).toEqual(before);
  });

  it('answers malformed digest lists and bad handles like swtpm', () => {
    const tpm = started();
    const five = Array.from({ length: 5 }, () => [SHA256, fill(32, 0)] as [number, Uint8Array]);
    // Observed from swtpm 0.7.1.
    expect(rcOf(tpm, extendCmd(1, five))).toBe(0x1d5);
    expect(rcOf(tpm, extendCmd(1, [[0x0012, fill(32, 0)]]))).toBe(0x1c3);
    expect(rcOf(tpm, extendCmd(1, [[ALG.NULL, new Uint8Array(0)]]))).toBe(0x1c3);
    expect(rcOf(tpm, extendCmd(1, [[SHA256, fill(31, 0)]]))).toBe(0x1da);
    expect(rcOf(tpm, extendCmd(1, [[SHA1, fill(21, 0)]]))).toBe(0x095);
    expect(rcOf(tpm, extendCmd(24, []))).toBe(0x184);
    expect(rcOf(tpm, extendCmd(RH.OWNER, []))).toBe(0x184);
    expect(rcOf(tpm, extendCmd(0x80000000, []))).toBe(0x184);
    // PCRs are DA-exempt: a wrong password is TPM_RC_BAD_AUTH for session 1.
    expect(rcOf(tpm, extendCmd(1, [], 'x'))).toBe(0x9a2);
    const noSession = buildCommand({ code: CC.PCR_Extend, handles: [1], params: (w) => w.u32(0) });
    expect(rcOf(tpm, noSession)).toBe(RC.AUTH_MISSING);
    // Nothing changed on the way.
    expect(pcrValue(tpm, SHA256, 1)).toBe('00'.repeat(32));
  });

  it('follows the PC Client extend localities', () => {
    // Observed from swtpm 0.7.1 (0x907 = TPM_RC_LOCALITY), PCRs 17–22 by locality 0..4.
    const allowed: Record<number, number[]> = {
      17: [2, 3, 4],
      18: [2, 3, 4],
      19: [2, 3],
      20: [1, 2, 3],
      21: [2],
      22: [2],
    };
    for (let pcr = 0; pcr < 24; pcr++) {
      for (let locality = 0; locality <= 4; locality++) {
        const tpm = started();
        const ok = allowed[pcr]?.includes(locality) ?? true;
        const before = pcrValue(tpm, SHA256, pcr);
        const rc = rcOf(tpm, extendCmd(pcr, [[SHA256, fill(32, 7)]]), locality);
        expect({ pcr, locality, rc }).toEqual({ pcr, locality, rc: ok ? 0 : RC.LOCALITY });
        expect(pcrValue(tpm, SHA256, pcr) !== before).toBe(ok);
      }
    }
  });
});

describe('PCR_Reset', () => {
  it('follows the PC Client reset localities; locality 4 never resets', () => {
    // Observed from swtpm 0.7.1: 16 and 23 from localities 0–3, 20–22 from locality 2 only, the rest never.
    const allowed: Record<number, number[]> = {
      16: [0, 1, 2, 3],
      20: [2],
      21: [2],
      22: [2],
      23: [0, 1, 2, 3],
    };
    for (let pcr = 0; pcr < 24; pcr++) {
      for (let locality = 0; locality <= 4; locality++) {
        const tpm = started();
        const ok = allowed[pcr]?.includes(locality) ?? false;
        expect({ pcr, locality, rc: rcOf(tpm, resetCmd(pcr), locality) }).toEqual({
          pcr,
          locality,
          rc: ok ? 0 : RC.LOCALITY,
        });
      }
    }
  });

  it('sets every bank to zeros, also for a PCR whose power-on value is all ones', () => {
    const tpm = started();
    expect(
      rcOf(
        tpm,
        extendCmd(16, [
          [SHA1, fill(20, 1)],
          [SHA256, fill(32, 1)],
          [SHA384, fill(48, 1)],
        ]),
      ),
    ).toBe(0);
    expect(pcrValue(tpm, SHA1, 16)).not.toBe('00'.repeat(20));
    expect(rcOf(tpm, resetCmd(16))).toBe(0);
    for (const alg of [SHA1, SHA256, SHA384]) expect(pcrValue(tpm, alg, 16)).toBe('00'.repeat(SIZE[alg]!));
    expect(rcOf(tpm, resetCmd(20), 2)).toBe(0);
    for (const alg of [SHA1, SHA256, SHA384]) expect(pcrValue(tpm, alg, 20)).toBe('00'.repeat(SIZE[alg]!));
    expect(pcrValue(tpm, SHA256, 19)).toBe('ff'.repeat(32));
  });

  it('answers bad handles, passwords and parameters like swtpm', () => {
    const tpm = started();
    // Observed from swtpm 0.7.1: PCR_Reset takes no TPM_RH_NULL.
    expect(rcOf(tpm, resetCmd(RH.NULL))).toBe(0x184);
    expect(rcOf(tpm, resetCmd(16, 'x'))).toBe(0x9a2);
    const extra = buildCommand({
      code: CC.PCR_Reset,
      handles: [16],
      sessions: [pwSession()],
      params: fromHex('00'),
    });
    expect(rcOf(tpm, extra)).toBe(0x095);
  });
});

describe('pcrUpdateCounter', () => {
  it('counts one change per bank extended, except for PCRs 16, 21, 22 and 23', () => {
    const tpm = started();
    let c = counter(tpm);
    const step = (cmd: Uint8Array, locality: number, delta: number) => {
      expect(rcOf(tpm, cmd, locality)).toBe(0);
      const now = counter(tpm);
      expect(now - c).toBe(delta);
      c = now;
    };
    // Deltas observed from swtpm 0.7.1 for the same commands.
    step(extendCmd(0, [[SHA256, fill(32, 0)]]), 0, 1);
    step(
      extendCmd(1, [
        [SHA256, fill(32, 0)],
        [SHA1, fill(20, 0)],
      ]),
      0,
      2,
    );
    step(extendCmd(16, [[SHA256, fill(32, 0)]]), 0, 0);
    step(extendCmd(23, [[SHA256, fill(32, 0)]]), 0, 0);
    step(extendCmd(20, [[SHA256, fill(32, 0)]]), 1, 1);
    step(extendCmd(21, [[SHA256, fill(32, 0)]]), 2, 0);
    step(extendCmd(RH.NULL, [[SHA256, fill(32, 0)]]), 0, 0);
    step(resetCmd(16), 0, 0);
    step(resetCmd(20), 2, 1);
    step(resetCmd(21), 2, 0);
    // One per bank: 3 here (swtpm has a fourth, SHA-512, bank and counts 4).
    step(eventCmd(5, new Uint8Array([1])), 0, 3);
    step(eventCmd(RH.NULL, new Uint8Array([1])), 0, 0);
    // Refused commands change nothing.
    expect(rcOf(tpm, extendCmd(17, [[SHA256, fill(32, 0)]]), 0)).toBe(RC.LOCALITY);
    expect(counter(tpm)).toBe(c);
  });
});

describe('PCR_Event', () => {
  function eventDigests(res: Uint8Array): Array<[number, string]> {
    const r = parseResponse(res).body;
    r.u32(); // parameterSize
    const n = r.u32();
    return Array.from({ length: n }, () => {
      const alg = r.u16();
      return [alg, hex(r.bytes(SIZE[alg]!))] as [number, string];
    });
  }

  it('hashes the event with every bank and extends the PCR with those digests', () => {
    const tpm = started();
    const abc = new TextEncoder().encode('abc');
    const res = tpm.execute(eventCmd(2, abc));
    expect(res.rc).toBe(0);
    expect(eventDigests(res.response)).toEqual([
      [SHA1, 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      [SHA256, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [SHA384, hex(h(SHA384, abc))],
    ]);
    for (const alg of [SHA1, SHA256, SHA384]) {
      expect(pcrValue(tpm, alg, 2)).toBe(hex(h(alg, new Uint8Array(SIZE[alg]!), h(alg, abc))));
    }
  });

  it('with TPM_RH_NULL only hashes, and an empty event is fine', () => {
    const tpm = started();
    const before = pcrRead(tpm, [ALL]);
    const res = tpm.execute(eventCmd(RH.NULL, new Uint8Array(0)), { locality: 3 });
    expect(eventDigests(res.response)[1]).toEqual([SHA256, hex(h(SHA256))]);
    expect(pcrRead(tpm, [ALL])).toEqual(before);
  });

  it('refuses events over 1024 bytes and the wrong locality', () => {
    const tpm = started();
    // Observed from swtpm 0.7.1.
    expect(rcOf(tpm, eventCmd(0, new Uint8Array(1025)))).toBe(0x1d5);
    expect(rcOf(tpm, eventCmd(0, new Uint8Array(1024)))).toBe(0);
    expect(rcOf(tpm, eventCmd(21, new Uint8Array(1)), 3)).toBe(RC.LOCALITY);
    expect(rcOf(tpm, eventCmd(24, new Uint8Array(1)))).toBe(0x184);
    expect(pcrValue(tpm, SHA256, 21)).toBe('ff'.repeat(32));
  });

  it('takes longer for more event data', () => {
    const tpm = started();
    const small = tpm.execute(eventCmd(3, new Uint8Array(1))).durationNs;
    const large = tpm.execute(eventCmd(3, new Uint8Array(1024))).durationNs;
    expect(large).toBeGreaterThan(small);
  });
});
