// A copied swtpm (clone, copyFrom) is the same process state twice: the cut explorer forks machines with
// it and starts each destination from one freshly started TPM. A copy must answer exactly as the
// original would, and neither may see what the other does afterwards.
import { describe, expect, it } from 'vitest';
import { MemoryDrive } from '../nvram';
import { buildCommand, parseResponse, pwSession } from '../tpm2/build';
import { CC } from '../tpm2/constants';
import { fromHex } from '../tpm2/marshal';
import { RC } from '../tpm2/rc';
import { BlobStateStore, STATE_DRIVE_SIZE } from './blob-state-store';
import { MemoryStateStore, SwtpmDevice } from './device';
import { BLOB_TYPE, ctrlRequest, ctrlResponse, PTM_STATE_FLAG_DECRYPTED } from './ioctl';
import { NV_DATA, nvDefine, nvRead, nvWrite } from './nv-test-commands';

const GET_RANDOM_16 = fromHex('80010000000c0000017b0010');
const PCR_EXTEND_16 = buildCommand({
  code: CC.PCR_Extend,
  handles: [16],
  sessions: [pwSession()],
  params: (w) => w.u32(1).u16(0x000b).bytes(new Uint8Array(32).fill(0xab)),
});

function ok(dev: SwtpmDevice, cmd: Uint8Array): Uint8Array {
  const r = dev.handleCommand(cmd);
  expect(parseResponse(r.response).rc).toBe(RC.SUCCESS);
  return r.response;
}

function blobs(dev: SwtpmDevice): Uint8Array[] {
  return [BLOB_TYPE.PERMANENT, BLOB_TYPE.VOLATILE, BLOB_TYPE.SAVESTATE].map(
    (type) =>
      ctrlResponse.stateBlob(dev.handleControl(ctrlRequest.getStateBlob(type, PTM_STATE_FLAG_DECRYPTED)))
        .data,
  );
}

/** A TPM that has been used: an NV index written, random bytes drawn, the locality changed. */
function usedTpm(): SwtpmDevice {
  const dev = new SwtpmDevice({ seed: 'clone', startupClear: true });
  ok(dev, nvDefine());
  ok(dev, nvWrite());
  ok(dev, GET_RANDOM_16);
  dev.handleControl(ctrlRequest.setLocality(3));
  return dev;
}

describe('SwtpmDevice copies', () => {
  it('a clone answers every later command and control request exactly as the original', () => {
    const original = usedTpm();
    const copy = original.clone();
    expect(copy.locality).toBe(3);
    for (const cmd of [GET_RANDOM_16, nvRead(), PCR_EXTEND_16, GET_RANDOM_16]) {
      expect(copy.handleCommand(cmd)).toEqual(original.handleCommand(cmd));
    }
    expect(blobs(copy)).toEqual(blobs(original));
  });

  it('neither sees what the other does after the copy (TPM state, random bytes, state files)', () => {
    const original = usedTpm();
    const before = blobs(original);
    const copy = original.clone();
    const nextRandom = ok(copy.clone(), GET_RANDOM_16);
    ok(copy, GET_RANDOM_16);
    ok(copy, PCR_EXTEND_16);
    copy.handleControl(ctrlRequest.setLocality(0));
    expect(original.locality).toBe(3);
    expect(blobs(original)).toEqual(before);
    expect(ok(original, GET_RANDOM_16)).toEqual(nextRandom);
    expect(ok(original, nvRead()).subarray(-NV_DATA.length - 5, -5)).toEqual(NV_DATA);
  });

  it('copyFrom makes a device that was used differently the original again', () => {
    const original = usedTpm();
    const other = new SwtpmDevice({ seed: 'another seed', startupClear: true });
    ok(other, GET_RANDOM_16);
    other.copyFrom(original);
    expect(other.handleCommand(GET_RANDOM_16)).toEqual(original.handleCommand(GET_RANDOM_16));
    expect(blobs(other)).toEqual(blobs(original));
  });

  it('only a TPM whose state files are in a plain MemoryStateStore can be copied', async () => {
    class WatchedStore extends MemoryStateStore {}
    const watched = new SwtpmDevice({ seed: 'clone', store: new WatchedStore() });
    const store = await BlobStateStore.openDrive('tpm0-nvram', new MemoryDrive(STATE_DRIVE_SIZE));
    const onDrive = new SwtpmDevice({ seed: 'clone', store });
    for (const dev of [watched, onDrive]) {
      expect(dev.cloneable).toBe(false);
      expect(() => dev.clone()).toThrow(/MemoryStateStore/);
    }
    expect(new SwtpmDevice({ seed: 'clone' }).cloneable).toBe(true);
  });
});
