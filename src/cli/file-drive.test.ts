import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Nvram } from '../core/nvram';
import { BlobStateStore, STATE_DRIVE_SIZE } from '../core/swtpm/blob-state-store';
import { SwtpmDevice } from '../core/swtpm/device';
import { buildCommand, parseResponse, pwSession } from '../core/tpm2/build';
import { CC, RH } from '../core/tpm2/constants';
import { fromHex } from '../core/tpm2/marshal';
import { RC } from '../core/tpm2/rc';
import { FileDrive } from './file-drive';

const dirs: string[] = [];
const drives: FileDrive[] = [];

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tislab-nvram-'));
  dirs.push(dir);
  return join(dir, 'nvram.img');
}

async function openDrive(path: string, size: number): Promise<FileDrive> {
  const d = await FileDrive.open(path, size);
  drives.push(d);
  return d;
}

afterEach(async () => {
  for (const d of drives.splice(0)) await d.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('FileDrive', () => {
  it('creates a file of the drive size that reads as zeros, and keeps what was written across reopening', async () => {
    const path = tempPath();
    const drive = await openDrive(path, 8192);
    expect(statSync(path).size).toBe(8192);
    expect(await drive.read(4000, 16)).toEqual(new Uint8Array(16));
    await drive.write(4090, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    await drive.flush();
    await drive.close();
    const again = await openDrive(path, 8192);
    expect(await again.read(4090, 10)).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    expect(readFileSync(path).subarray(4090, 4093)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('refuses a file of another size and leaves it alone', async () => {
    const path = tempPath();
    writeFileSync(path, 'not a drive of this size');
    await expect(FileDrive.open(path, 8192)).rejects.toThrow(
      /has 24 bytes, expected 8192; it was left as it is/,
    );
    expect(readFileSync(path, 'utf8')).toBe('not a drive of this size');
  });

  it('sizes an empty file it is given', async () => {
    const path = tempPath();
    writeFileSync(path, '');
    await openDrive(path, 4096);
    expect(statSync(path).size).toBe(4096);
  });

  it('refuses accesses past the end of the drive', async () => {
    const drive = await openDrive(tempPath(), 4096);
    await expect(drive.write(4090, new Uint8Array(7))).rejects.toThrow(/past the end of the 4096-byte drive/);
    await expect(drive.read(-1, 1)).rejects.toThrow(RangeError);
  });

  it('holds an NVRAM whose blobs survive closing and reopening the file', async () => {
    const path = tempPath();
    const blobs = async (drive: FileDrive) => {
      const n = Nvram.setup('tpm0', drive);
      n.registerBlob('permall', 1000);
      await n.start();
      return n;
    };
    const first = await blobs(await openDrive(path, 4096));
    await first.write('permall', new TextEncoder().encode('on disk'), { wait: true });
    await drives[0]!.close();
    const second = await blobs(await openDrive(path, 4096));
    expect(new TextDecoder().decode(await second.read('permall'))).toBe('on disk');
  });

  it('keeps a TPM NV index across a restart of the TPM process', async () => {
    const path = tempPath();
    const define = buildCommand({
      code: CC.NV_DefineSpace,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => w.u16(0).u16(14).u32(0x01500020).u16(0x000b).u32(0x00060006).u16(0).u16(8),
    });
    const readPublic = buildCommand({ code: CC.NV_ReadPublic, handles: [0x01500020] });
    const startup = fromHex('80010000000c000001440000');
    const boot = async () => {
      const store = await BlobStateStore.openDrive('tpm0', await openDrive(path, STATE_DRIVE_SIZE));
      const dev = new SwtpmDevice({ seed: 'file-drive', store });
      expect(parseResponse(dev.handleCommand(startup).response).rc).toBe(RC.SUCCESS);
      return { dev, store };
    };
    const first = await boot();
    expect(parseResponse(first.dev.handleCommand(readPublic).response).rc).not.toBe(RC.SUCCESS);
    expect(parseResponse(first.dev.handleCommand(define).response).rc).toBe(RC.SUCCESS);
    await first.store.settled();
    await drives[0]!.close();

    const second = await boot();
    expect(parseResponse(second.dev.handleCommand(readPublic).response).rc).toBe(RC.SUCCESS);
  });
});
