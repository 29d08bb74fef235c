// The IndexedDB drive against fake-indexeddb, an in-memory IndexedDB for Node: one IDBFactory stands for
// the page's origin, so closing the drive and opening it again from the same factory is a page reload.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Nvram } from '../../core/nvram';
import { BlobStateStore, STATE_DRIVE_SIZE } from '../../core/swtpm/blob-state-store';
import { SwtpmDevice } from '../../core/swtpm/device';
import { buildCommand, parseResponse, pwSession } from '../../core/tpm2/build';
import { CC, RH } from '../../core/tpm2/constants';
import { fromHex } from '../../core/tpm2/marshal';
import { RC } from '../../core/tpm2/rc';
import { IndexedDbDrive } from './indexeddb-drive';

const open = (factory: IDBFactory, sizeBytes = 10_000, chunkSize = 1024) =>
  IndexedDbDrive.open({ name: 'tislab-nvram', sizeBytes, chunkSize, factory });

describe('IndexedDbDrive', () => {
  it('reads zeros where nothing was written and stores nothing until written', async () => {
    const drive = await open(new IDBFactory());
    expect(await drive.read(0, 3000)).toEqual(new Uint8Array(3000));
    expect(await drive.storedChunks()).toBe(0);
  });

  it('keeps writes across chunk boundaries, and across a reload', async () => {
    const factory = new IDBFactory();
    const drive = await open(factory);
    const data = Uint8Array.from({ length: 2500 }, (_, i) => (i * 7) & 0xff);
    await drive.write(1000, data);
    await drive.write(0, Uint8Array.of(0xaa));
    await drive.write(9999, Uint8Array.of(0xbb));
    await drive.flush();
    expect(await drive.read(1000, 2500)).toEqual(data);
    expect(await drive.read(990, 12)).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7));
    drive.close();

    const reloaded = await open(factory);
    expect(await reloaded.read(1000, 2500)).toEqual(data);
    expect((await reloaded.read(0, 1))[0]).toBe(0xaa);
    expect((await reloaded.read(9999, 1))[0]).toBe(0xbb);
    // Chunks 0..3 and 9: only what was touched.
    expect(await reloaded.storedChunks()).toBe(5);
  });

  it('copies the bytes it is given', async () => {
    const drive = await open(new IDBFactory());
    const data = Uint8Array.of(1, 2, 3);
    const done = drive.write(5, data);
    data.fill(0);
    await done;
    expect(await drive.read(5, 3)).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('refuses a database made for another size and leaves it as it is', async () => {
    const factory = new IDBFactory();
    const drive = await open(factory);
    await drive.write(0, Uint8Array.of(42));
    drive.close();
    await expect(open(factory, 20_000)).rejects.toThrow(
      /holds 10000 bytes in chunks of 1024; expected 20000 in chunks of 1024\. It was left as it is/,
    );
    await expect(open(factory, 10_000, 512)).rejects.toThrow(/expected 10000 in chunks of 512/);
    expect((await (await open(factory)).read(0, 1))[0]).toBe(42);
  });

  it('refuses accesses past the end of the drive', async () => {
    const drive = await open(new IDBFactory());
    await expect(drive.write(9999, Uint8Array.of(1, 2))).rejects.toThrow(
      /past the end of the 10000-byte drive/,
    );
    await expect(drive.read(10_000, 1)).rejects.toThrow(RangeError);
  });

  it('holds an NVRAM whose blobs survive a reload', async () => {
    const factory = new IDBFactory();
    const start = async () => {
      const n = Nvram.setup('tpm0', await open(factory));
      n.registerBlob('permall', 3000);
      await n.start();
      return n;
    };
    const first = await start();
    await first.write('permall', new TextEncoder().encode('in the browser'), { wait: true });
    (first.drive as IndexedDbDrive).close();
    const second = await start();
    expect(new TextDecoder().decode(await second.read('permall'))).toBe('in the browser');
  });

  it('keeps a TPM NV index across a page reload', async () => {
    const factory = new IDBFactory();
    const index = 0x01500030;
    const define = buildCommand({
      code: CC.NV_DefineSpace,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => w.u16(0).u16(14).u32(index).u16(0x000b).u32(0x00060006).u16(0).u16(8),
    });
    const readPublic = buildCommand({ code: CC.NV_ReadPublic, handles: [index] });
    const startup = fromHex('80010000000c000001440000');
    const page = async () => {
      const drive = await IndexedDbDrive.open({ name: 'tpm0', sizeBytes: STATE_DRIVE_SIZE, factory });
      const store = await BlobStateStore.openDrive('tpm0', drive);
      const dev = new SwtpmDevice({ seed: 'browser', store });
      expect(parseResponse(dev.handleCommand(startup).response).rc).toBe(RC.SUCCESS);
      return { dev, store, drive };
    };
    const first = await page();
    expect(parseResponse(first.dev.handleCommand(define).response).rc).toBe(RC.SUCCESS);
    await first.store.settled();
    first.drive.close();

    const second = await page();
    expect(parseResponse(second.dev.handleCommand(readPublic).response).rc).toBe(RC.SUCCESS);
  });
});
