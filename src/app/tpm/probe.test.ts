import { describe, expect, it } from 'vitest';
import { InProcessTransport } from '../../core/backend/transport';
import { probeTpm } from './probe';

describe('probeTpm', () => {
  it('reads identity and random bytes from a started TPM, deterministically per seed', async () => {
    const a = await probeTpm(new InProcessTransport({ seed: 'probe', startupClear: true }));
    const b = await probeTpm(new InProcessTransport({ seed: 'probe', startupClear: true }));
    expect(a.manufacturer).toBe('TISL');
    expect(a.vendor).toBe('TIS Lab');
    expect(a.randomHex).toMatch(/^[0-9a-f]{16}$/);
    expect(a).toEqual(b);
    expect(a.durationNs).toBeGreaterThan(0);
  });

  it('says which command failed when the TPM was never started', async () => {
    await expect(probeTpm(new InProcessTransport({ seed: 'probe' }))).rejects.toThrow(
      'GetCapability answered TPM_RC_INITIALIZE',
    );
  });
});
