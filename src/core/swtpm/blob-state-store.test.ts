import { describe, expect, it } from 'vitest';
import { CrashingDrive, MemoryDrive, NvramError, type Drive } from '../nvram';
import { parseResponse } from '../tpm2/build';
import { RC } from '../tpm2/rc';
import { BlobStateStore, STATE_DRIVE_SIZE } from './blob-state-store';
import { SwtpmDevice } from './device';
import { CMD, PTM_INIT_FLAG_DELETE_VOLATILE, u32be } from './ioctl';
import { STATE_FILE } from './nvstore';
import { STARTUP_CLEAR, nvDefine, nvRead, nvWrite } from './nv-test-commands';

function rc(dev: SwtpmDevice, command: Uint8Array): number {
  return parseResponse(dev.handleCommand(command).response).rc;
}

/** The TPM process starting on the drive: swtpm --tpmstate backed by the NVRAM blobstore. */
async function boot(drive: Drive): Promise<{ dev: SwtpmDevice; store: BlobStateStore }> {
  const store = await BlobStateStore.openDrive('tpm0-nvram', drive);
  return { dev: new SwtpmDevice({ seed: 'blob-store', store }), store };
}

/** NV_Read's data, or undefined when the index is not there. */
function nvData(dev: SwtpmDevice): string | undefined {
  const r = parseResponse(dev.handleCommand(nvRead()).response);
  if (r.rc !== RC.SUCCESS) return undefined;
  r.body.u32(); // parameterSize
  return new TextDecoder().decode(r.body.tpm2b(1024));
}

describe('SwtpmDevice on the NVRAM blobstore', () => {
  it('keeps an NV index defined and written through TPM commands across a restart on the same drive', async () => {
    const drive = new MemoryDrive(STATE_DRIVE_SIZE);
    const first = await boot(drive);
    expect(rc(first.dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(rc(first.dev, nvDefine())).toBe(RC.SUCCESS);
    expect(rc(first.dev, nvWrite())).toBe(RC.SUCCESS);
    expect(first.store.pendingWrites).toBeGreaterThan(0);
    await first.store.settled();
    expect(first.store.pendingWrites).toBe(0);

    const second = await boot(drive);
    expect(rc(second.dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(nvData(second.dev)).toBe('kept across restarts');
  });

  it('a TPM on a fresh drive has no such index', async () => {
    const { dev } = await boot(new MemoryDrive(STATE_DRIVE_SIZE));
    expect(rc(dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(nvData(dev)).toBeUndefined();
  });

  it('always starts after a crash while saving, with the index either fully there or not at all', async () => {
    const base = new MemoryDrive(STATE_DRIVE_SIZE);
    const first = await boot(base);
    expect(rc(first.dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    await first.store.settled();
    const image = base.bytes.slice();

    // How many bytes defining and writing the index puts on the drive.
    const measured = new MemoryDrive(STATE_DRIVE_SIZE);
    measured.bytes.set(image);
    const measure = new CrashingDrive(measured);
    const probe = await boot(measure);
    expect(rc(probe.dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    await probe.store.settled();
    const before = measure.bytesWritten;
    rc(probe.dev, nvDefine());
    rc(probe.dev, nvWrite());
    await probe.store.settled();
    const total = measure.bytesWritten - before;

    const seen = new Set<string>();
    const budgets = [...Array.from({ length: Math.ceil(total / 37) }, (_, i) => i * 37), total];
    for (const budget of budgets) {
      const drive = new MemoryDrive(STATE_DRIVE_SIZE);
      drive.bytes.set(image);
      const crashing = new CrashingDrive(drive);
      const run = await boot(crashing);
      expect(rc(run.dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
      await run.store.settled();
      crashing.crashAfter(budget);
      expect(rc(run.dev, nvDefine())).toBe(RC.SUCCESS);
      expect(rc(run.dev, nvWrite())).toBe(RC.SUCCESS);
      await run.store.settled().catch(() => undefined);

      const after = await boot(drive);
      expect(rc(after.dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
      const data = nvData(after.dev);
      // Defined and written is one state; defined but not yet written reads as TPM_RC_NV_UNINITIALIZED.
      const state = data ?? (rc(after.dev, nvRead()) === RC.NV_UNINITIALIZED ? 'defined' : 'absent');
      seen.add(state);
      expect(['absent', 'defined', 'kept across restarts']).toContain(state);
    }
    expect(seen).toEqual(new Set(['absent', 'defined', 'kept across restarts']));
  });

  it('stores volatile state on STORE_VOLATILE and erases it when INIT deletes it', async () => {
    const drive = new MemoryDrive(STATE_DRIVE_SIZE);
    const { dev, store } = await boot(drive);
    expect(rc(dev, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    dev.handleControl(u32be(CMD.STORE_VOLATILE));
    await store.settled();
    expect((await BlobStateStore.openDrive('tpm0-nvram', drive)).load(STATE_FILE.volatile)).toBeDefined();

    dev.handleControl(u32be(CMD.INIT, PTM_INIT_FLAG_DELETE_VOLATILE));
    await store.settled();
    const reopened = await BlobStateStore.openDrive('tpm0-nvram', drive);
    expect(reopened.load(STATE_FILE.volatile)).toBeUndefined();
    expect(reopened.load(STATE_FILE.permanent)).toBeDefined();
  });
});

describe('BlobStateStore', () => {
  it('hands out copies, so neither side can change the other', async () => {
    const store = await BlobStateStore.openDrive('d', new MemoryDrive(STATE_DRIVE_SIZE));
    const bytes = Uint8Array.of(1, 2, 3);
    store.save(STATE_FILE.permanent, bytes);
    bytes[0] = 9;
    store.load(STATE_FILE.permanent)![1] = 9;
    expect(store.load(STATE_FILE.permanent)).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('refuses a file over its blob size at once, keeping the old one in the cache and on the drive', async () => {
    const drive = new MemoryDrive(STATE_DRIVE_SIZE);
    const store = await BlobStateStore.openDrive('d', drive);
    store.save(STATE_FILE.savestate, Uint8Array.of(7));
    expect(() => store.save(STATE_FILE.savestate, new Uint8Array(16 * 1024 + 1))).toThrow(NvramError);
    await store.settled();
    expect(store.load(STATE_FILE.savestate)).toEqual(Uint8Array.of(7));
    expect((await BlobStateStore.openDrive('d', drive)).load(STATE_FILE.savestate)).toEqual(Uint8Array.of(7));
  });

  it('refuses a file name that has no blob', async () => {
    const store = await BlobStateStore.openDrive('d', new MemoryDrive(STATE_DRIVE_SIZE));
    expect(() => store.save('tpm2-00.permall.bak', Uint8Array.of(1))).toThrow(
      /no blob "tpm2-00.permall.bak"/,
    );
    expect(store.load('tpm2-00.permall.bak')).toBeUndefined();
  });

  it('reports a write the drive lost through settled(), once', async () => {
    const drive = new MemoryDrive(STATE_DRIVE_SIZE);
    const crashing = new CrashingDrive(drive);
    const store = await BlobStateStore.openDrive('d', crashing);
    crashing.crashAfter(10);
    store.save(STATE_FILE.permanent, Uint8Array.of(1, 2, 3));
    await expect(store.settled()).rejects.toThrow(/writing blob "tpm2-00.permall" failed/);
    await store.settled();
  });

  it('refuses a drive formatted for other blobs', async () => {
    const drive = new MemoryDrive(STATE_DRIVE_SIZE);
    await BlobStateStore.openDrive('d', drive);
    await expect(BlobStateStore.openDrive('e', drive)).rejects.toThrow(/formatted as NVRAM drive "d"/);
  });
});
