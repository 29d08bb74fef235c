import { describe, expect, it } from 'vitest';
import { buildCommand, parseResponse, pwSession } from './build';
import { CC, RH, SU } from './constants';
import { Tpm2Engine } from './engine';
import { fromHex, hex } from './marshal';
import { RC } from './rc';

function started(seed: string | number = 1): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed });
  const r = tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) }));
  expect(r.rc).toBe(RC.SUCCESS);
  return tpm;
}

function rcOf(tpm: Tpm2Engine, bytes: Uint8Array | string): number {
  return tpm.execute(typeof bytes === 'string' ? fromHex(bytes) : bytes).rc;
}

describe('command header (as ExecuteCommand)', () => {
  // Expected codes observed from swtpm 0.7.1 / libtpms 0.9.2 for the same bytes.
  it('refuses commands before Startup and a second Startup with TPM_RC_INITIALIZE', () => {
    const tpm = new Tpm2Engine({ seed: 1 });
    expect(rcOf(tpm, '8001 0000000c 0000017b 0008')).toBe(RC.INITIALIZE);
    expect(rcOf(tpm, '8001 0000000c 00000144 0000')).toBe(RC.SUCCESS);
    expect(rcOf(tpm, '8001 0000000c 00000144 0000')).toBe(RC.INITIALIZE);
    // The Startup check comes before the parameters are looked at.
    expect(rcOf(tpm, '8001 0000000a 00000144')).toBe(RC.INITIALIZE);
  });

  it('answers bad tags, wrong sizes and unknown commands like swtpm', () => {
    const tpm = started();
    expect(rcOf(tpm, '0000 0000000c 00000144 0000')).toBe(0x084);
    expect(rcOf(tpm, '8003 0000000c 00000144 0000')).toBe(0x084);
    expect(rcOf(tpm, '8001 0000000d 00000144 0000')).toBe(RC.COMMAND_SIZE);
    expect(rcOf(tpm, '8001 00000008 0000017b')).toBe(RC.COMMAND_SIZE);
    expect(rcOf(tpm, '8001 0000000c 000001ff 0000')).toBe(RC.COMMAND_CODE);
    expect(rcOf(tpm, '8001 0000000a 0000017b')).toBe(0x1da); // INSUFFICIENT, parameter 1
    expect(rcOf(tpm, '8001 0000000d 0000017b 000800')).toBe(RC.SIZE); // left-over byte
    expect(rcOf(tpm, '80')).toBe(RC.INSUFFICIENT);
    expect(rcOf(tpm, '')).toBe(RC.INSUFFICIENT);
  });

  it('error responses are a bare 10-byte header with TPM_ST_NO_SESSIONS', () => {
    const tpm = started();
    const r = tpm.execute(fromHex('8002 0000000c 000001ff 0000'));
    expect(hex(r.response)).toBe('80010000000a00000143');
  });
});

describe('GetRandom', () => {
  it('is deterministic under the seed and capped at 64 bytes', () => {
    const a = started('seed-a').execute(buildCommand({ code: CC.GetRandom, params: (w) => w.u16(256) }));
    const b = started('seed-a').execute(buildCommand({ code: CC.GetRandom, params: (w) => w.u16(256) }));
    const c = started('seed-b').execute(buildCommand({ code: CC.GetRandom, params: (w) => w.u16(256) }));
    expect(a.response).toEqual(b.response);
    expect(a.response).not.toEqual(c.response);
    const p = parseResponse(a.response);
    expect(p.size).toBe(10 + 2 + 64);
    expect(p.body.u16()).toBe(64);
  });
});

describe('password sessions', () => {
  // Codes observed from swtpm 0.7.1 for the same bytes.
  it('a password session with no handle to authorize is TPM_RC_HANDLE for that session', () => {
    const tpm = started();
    const cmd = buildCommand({ code: CC.GetRandom, sessions: [pwSession()], params: (w) => w.u16(4) });
    expect(tpm.execute(cmd).rc).toBe(0x98b);
  });

  it('a password session with a nonce or with encrypt/decrypt attributes is refused', () => {
    const tpm = started();
    const withNonce = buildCommand({
      code: CC.GetRandom,
      sessions: [{ ...pwSession(), nonce: new Uint8Array([1, 2]) }],
      params: (w) => w.u16(4),
    });
    expect(tpm.execute(withNonce).rc).toBe(0x98f);
    const decrypt = buildCommand({
      code: CC.GetRandom,
      sessions: [{ ...pwSession(), attributes: 0x21 }],
      params: (w) => w.u16(4),
    });
    expect(tpm.execute(decrypt).rc).toBe(0x982);
  });

  it('a truncated session is TPM_RC_INSUFFICIENT for that session', () => {
    const tpm = started();
    expect(rcOf(tpm, '8002 0000001b 0000017b 00000009 40000009 0002 0102 01 0000 0004')).toBe(0x99a);
  });

  it('an HMAC session that was never started is TPM_RC_REFERENCE_S0', () => {
    const tpm = started();
    const cmd = buildCommand({
      code: CC.GetRandom,
      sessions: [{ handle: 0x02000000, attributes: 1 }],
      params: (w) => w.u16(4),
    });
    expect(tpm.execute(cmd).rc).toBe(RC.REFERENCE_S0);
  });

  it('an authorization area too small for a session is TPM_RC_SIZE', () => {
    const tpm = started();
    expect(rcOf(tpm, '8002 00000012 0000017b 00000004 40000009')).toBe(RC.SIZE);
    void RH;
  });
});

describe('virtual duration', () => {
  it('scales with the TPM speed', () => {
    const fast = new Tpm2Engine({ seed: 1, speed: 1 });
    const slow = new Tpm2Engine({ seed: 1, speed: 0.1 });
    const cmd = buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) });
    expect(slow.execute(cmd).durationNs).toBe(fast.execute(cmd).durationNs * 10);
  });
});
