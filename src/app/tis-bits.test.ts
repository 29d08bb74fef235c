import { describe, expect, it } from 'vitest';
import { decodeRegister, registerAt, TIS_REGISTER_SPECS } from './tis-bits';

const STS = TIS_REGISTER_SPECS.find((s) => s.name === 'STS')!;

describe('decodeRegister', () => {
  it('names STS bits and the burst count as QEMU sets them with a response ready', () => {
    // stsValid | dataAvail, burstCount 314, TPM 2.0 family
    const sts = 0x90 | (314 << 8) | (1 << 26);
    const fields = Object.fromEntries(decodeRegister(STS, sts, null).map((f) => [f.name, f]));
    expect(fields.stsValid!.value).toBe(1);
    expect(fields.dataAvail!.value).toBe(1);
    expect(fields.commandReady!.value).toBe(0);
    expect(fields.burstCount).toMatchObject({ value: 314, bits: '8–23' });
    expect(fields.tpmFamily!.value).toBe(1);
    expect(Object.values(fields).some((f) => f.changed)).toBe(false);
  });

  it('marks exactly the bits that changed since the previous step', () => {
    const before = 0x80 | 0x40; // stsValid | commandReady
    const after = 0x80 | 0x08; // stsValid | Expect
    const changed = decodeRegister(STS, after, before)
      .filter((f) => f.changed)
      .map((f) => f.name);
    expect(changed).toEqual(['commandReady', 'Expect']);
  });
});

describe('registerAt', () => {
  it('names TIS registers by locality', () => {
    expect(registerAt(0xfed40024)).toBe('DATA_FIFO (locality 0)');
    expect(registerAt(0xfed41019)).toBe('STS+1 (locality 1)');
    expect(registerAt(0xfed40084)).toBe('XDATA_FIFO (locality 0)');
    expect(registerAt(0x1000)).toBe('0x00001000');
  });
});
