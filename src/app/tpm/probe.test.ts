import { describe, expect, it } from 'vitest';
import { InProcessTransport } from '../../core/backend/transport';
import { MemoryStateStore, SwtpmDevice } from '../../core/swtpm';
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

  it("reads the TPM's resetCount, which grows by one each time a TPM on the same state files starts", async () => {
    const store = new MemoryStateStore();
    const first = await probeTpm(
      new InProcessTransport(new SwtpmDevice({ seed: 'p', store, startupClear: true })),
    );
    const again = await probeTpm(
      new InProcessTransport(new SwtpmDevice({ seed: 'p', store, startupClear: true })),
    );
    const fresh = await probeTpm(new InProcessTransport({ seed: 'p', startupClear: true }));
    expect(again.resetCount).toBe(first.resetCount + 1);
    expect(fresh.resetCount).toBe(first.resetCount);
  });

  it('says which command failed when the TPM was never started', async () => {
    await expect(probeTpm(new InProcessTransport({ seed: 'probe' }))).rejects.toThrow(
      'GetCapability answered TPM_RC_INITIALIZE',
    );
  });
});
