// When the TPM's NV cannot be written, the device answers as swtpm 0.7.1 / libtpms 0.9.2 do: NvCommit
// fails at the end of ExecuteCommand, FAIL(FATAL_ERROR_INTERNAL) puts libtpms into failure mode and the
// command is answered by TpmFailureMode (TPM_RC_FAILURE); GetTestResult tells why; CMD_INIT starts anew.
import { describe, expect, it } from 'vitest';
import { CrashingDrive, MemoryDrive } from '../nvram';
import { buildCommand, parseResponse } from '../tpm2/build';
import { CC } from '../tpm2/constants';
import { fromHex, hex } from '../tpm2/marshal';
import { RC } from '../tpm2/rc';
import { BlobStateStore, STATE_DRIVE_SIZE } from './blob-state-store';
import { FATAL_ERROR_INTERNAL, MemoryStateStore, SwtpmDevice } from './device';
import { CMD, ctrlRequest } from './ioctl';
import { STARTUP_CLEAR, nvDefine, nvRead, nvWrite } from './nv-test-commands';

const GET_TEST_RESULT = buildCommand({ code: CC.GetTestResult });
const GET_RANDOM_8 = fromHex('80010000000c0000017b0008');
const rcOf = (r: { response: Uint8Array }) => parseResponse(r.response).rc;

/** A TPM on an NVRAM drive that can be made to fail. */
async function bootOn(drive: CrashingDrive): Promise<SwtpmDevice> {
  const store = await BlobStateStore.openDrive('tpm0-nvram', drive);
  const dev = new SwtpmDevice({ seed: 'nv-failure', store });
  await dev.ready();
  expect(rcOf(await dev.handleCommandDurable(STARTUP_CLEAR))).toBe(RC.SUCCESS);
  return dev;
}

/** A --tpmstate directory on a disk that can fill up: save() throws, as writeFileSync would. */
class FullDiskStore extends MemoryStateStore {
  full = false;
  override save(name: string, bytes: Uint8Array): void {
    if (this.full) throw new Error(`ENOSPC: no space left on device, write '${name}'`);
    super.save(name, bytes);
  }
}

describe('NV that cannot be written', () => {
  it('a drive that fails while NV_DefineSpace is committed: TPM_RC_FAILURE, then failure mode', async () => {
    const inner = new MemoryDrive(STATE_DRIVE_SIZE);
    const drive = new CrashingDrive(inner);
    const dev = await bootOn(drive);
    drive.crashAfter(100); // the slot write of the new permanent state is cut short

    const define = await dev.handleCommandDurable(nvDefine());
    expect(hex(define.response)).toBe('80010000000a00000101'); // TpmFailureMode's answer
    expect(dev.inFailureMode).toBe(true);
    expect(dev.failureReason).toMatch(
      /^NV could not be written \(.*crashed.*\); libtpms entered failure mode$/,
    );
    // Every further command is TPM_RC_FAILURE, also one that writes nothing...
    expect(rcOf(await dev.handleCommandDurable(GET_RANDOM_8))).toBe(RC.FAILURE);
    expect(rcOf(await dev.handleCommandDurable(nvRead()))).toBe(RC.FAILURE);
    // ...but GetTestResult: outData = function, line, FATAL_ERROR_INTERNAL; testResult TPM_RC_FAILURE.
    const test = await dev.handleCommandDurable(GET_TEST_RESULT);
    expect(hex(test.response)).toBe(
      '80010000001c00000000' + '000c' + '00000000' + '00000000' + '00000003' + '00000101',
    );
    expect(FATAL_ERROR_INTERNAL).toBe(3);

    // The TPM restarted on what reached the drive has no index: the command did not happen.
    const again = await bootOn(new CrashingDrive(inner));
    expect(rcOf(await again.handleCommandDurable(nvRead()))).toBe(0x18b); // TPM_RC_HANDLE + handle 1
    expect(again.inFailureMode).toBe(false);
  });

  it('a command that writes no NV is answered normally even on a failed drive', async () => {
    const drive = new CrashingDrive(new MemoryDrive(STATE_DRIVE_SIZE));
    const dev = await bootOn(drive);
    drive.crashAfter(0);
    const r = await dev.handleCommandDurable(GET_RANDOM_8);
    expect(rcOf(r)).toBe(RC.SUCCESS);
    expect(dev.inFailureMode).toBe(false);
  });

  it('STORE_VOLATILE on a failed drive answers TPM_FAIL; libtpms is not in failure mode', async () => {
    const drive = new CrashingDrive(new MemoryDrive(STATE_DRIVE_SIZE));
    const dev = await bootOn(drive);
    drive.crashAfter(0);
    expect(hex(await dev.handleControlDurable(ctrlRequest.bare(CMD.STORE_VOLATILE)))).toBe('00000009');
    expect(dev.inFailureMode).toBe(false);
    expect(dev.lastError).toMatch(/^a state file could not be written: .*tpm2-00\.volatilestate/);
    expect(rcOf(await dev.handleCommandDurable(GET_RANDOM_8))).toBe(RC.SUCCESS);
  });

  it('a drive that fails while the TPM starts leaves it in failure mode, not a crashed process', async () => {
    // A formatted drive that fails from the first state write on.
    const inner = new MemoryDrive(STATE_DRIVE_SIZE);
    await BlobStateStore.openDrive('tpm0-nvram', inner);
    const failing = new CrashingDrive(inner, 0);
    const store = await BlobStateStore.openDrive('tpm0-nvram', failing);
    const dev = new SwtpmDevice({ seed: 'nv-failure', store });
    await dev.ready();
    expect(dev.inFailureMode).toBe(true);
    expect(rcOf(await dev.handleCommandDurable(STARTUP_CLEAR))).toBe(RC.FAILURE);
  });

  it('a store whose save throws (a full disk): the same command answers TPM_RC_FAILURE at once', () => {
    const store = new FullDiskStore();
    const dev = new SwtpmDevice({ seed: 'nv-failure', store });
    expect(rcOf(dev.handleCommand(STARTUP_CLEAR))).toBe(RC.SUCCESS);
    store.full = true;
    expect(hex(dev.handleCommand(nvDefine()).response)).toBe('80010000000a00000101');
    expect(dev.failureReason).toContain('ENOSPC');
    expect(rcOf(dev.handleCommand(GET_RANDOM_8))).toBe(RC.FAILURE);

    // CMD_INIT (TPMLIB_MainInit) leaves failure mode; NV holds what was committed before the failure.
    store.full = false;
    expect(hex(dev.handleControl(ctrlRequest.init(0)))).toBe('00000000');
    expect(dev.inFailureMode).toBe(false);
    expect(rcOf(dev.handleCommand(STARTUP_CLEAR))).toBe(RC.SUCCESS);
    expect(rcOf(dev.handleCommand(nvDefine()))).toBe(RC.SUCCESS);
    expect(rcOf(dev.handleCommand(nvWrite()))).toBe(RC.SUCCESS);
  });

  it('a command with a TCG send-command prefix gets the failure wrapped like any answer', async () => {
    const drive = new CrashingDrive(new MemoryDrive(STATE_DRIVE_SIZE));
    const dev = await bootOn(drive);
    drive.crashAfter(0);
    const command = nvDefine();
    const prefixed = new Uint8Array([0, 0, 0, 8, 0, ...[0, 0, 0, command.length], ...command]);
    const r = await dev.handleCommandDurable(prefixed);
    expect(hex(r.response)).toBe('0000000a' + '80010000000a00000101' + '00000000');
  });
});
