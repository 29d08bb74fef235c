import { describe, expect, it } from 'vitest';
import { CC } from './constants';
import { exampleCommands } from './corpus';
import { Tpm2Engine } from './engine';

describe('fuzz corpus', () => {
  it('every example command succeeds in order on a fresh TPM, so mutations start from valid bytes', () => {
    const tpm = new Tpm2Engine({ seed: 'corpus' });
    const failures: string[] = [];
    for (const c of exampleCommands()) {
      const r = tpm.execute(c);
      if (r.rc !== 0) failures.push(`0x${r.commandCode.toString(16)} → 0x${r.rc.toString(16)}`);
    }
    expect(failures).toEqual([]);
  });

  it('covers every implemented command group', () => {
    const codes = new Set(exampleCommands().map((c) => new DataView(c.buffer).getUint32(6)));
    for (const cc of [CC.Startup, CC.PCR_Extend, CC.Hash, CC.NV_Write, CC.CreatePrimary, CC.GetCapability]) {
      expect(codes.has(cc)).toBe(true);
    }
  });
});
