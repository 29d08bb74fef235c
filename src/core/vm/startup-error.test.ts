// QEMU's TIS with its backend and a swtpm-like TPM that cannot start: what a guest then sees.
import { describe, expect, it } from 'vitest';
import { EmulatorBackend } from '../backend/emulator-backend';
import { InProcessTransport } from '../backend/transport';
import { Scheduler, TraceLog } from '../kernel';
import { MemoryStateStore, STATE_FILE, SwtpmDevice } from '../swtpm';
import { REG_ACCESS, REG_DID_VID, REG_STS } from '../tis/registers';
import { TisDevice } from '../tis/tis-device';

describe('a TPM whose permanent state is damaged at reset', () => {
  it('fails CMD_INIT: QEMU reports it and the TIS reads 0 until a startup succeeds', async () => {
    const store = new MemoryStateStore();
    const device = new SwtpmDevice({ seed: 'rig-startup', store, startupClear: true });
    const scheduler = new Scheduler();
    const trace = new TraceLog();
    const backend = new EmulatorBackend({ scheduler, trace, transport: new InProcessTransport(device) });
    await backend.init();
    const tis = new TisDevice(backend);
    backend.setFrontend(tis);
    expect(tis.read(REG_DID_VID, 4)).toBe(0x00011014);
    const flipLastByteAndReset = async () => {
      const permall = store.load(STATE_FILE.permanent)!;
      permall[permall.length - 1]! ^= 1;
      store.save(STATE_FILE.permanent, permall);
      tis.reset();
      scheduler.runUntilIdle();
      await backend.pendingAnswer;
      scheduler.runUntilIdle();
    };

    // The drive under the TPM flips a bit of tpm2-00.permall; the machine resets (tpm_tis_reset).
    await flipLastByteAndReset();
    expect(backend.hadStartupError).toBe(true);
    expect(trace.window().find((e) => e.kind === 'error_report')?.data).toMatchObject({
      message: expect.stringMatching(/CMD_INIT/),
    });
    expect(tis.read(REG_DID_VID, 4)).toBe(0);
    tis.write(REG_ACCESS, 1, 0x02); // request use: dropped
    expect(tis.read(REG_ACCESS, 1)).toBe(0);
    expect(tis.read(REG_STS, 4)).toBe(0);
    expect(tis.snapshot().activeLocality).toBe(0xff);

    // The drive is mended and the machine resets again: the TPM starts and the TIS answers.
    await flipLastByteAndReset();
    expect(backend.hadStartupError).toBe(false);
    expect(tis.read(REG_DID_VID, 4)).toBe(0x00011014);
  });
});
