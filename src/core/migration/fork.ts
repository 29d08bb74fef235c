// An exact copy of a machine at any boundary between two scheduler events, with nothing of a migration's
// losses: the scheduler's whole queue (the backend's thread pool and bottom half included), the vCPU with
// its pending MMIO exit and its scheduled step, the backend's command, the TIS, the TPM, the PPI memory
// and what the guest printed. An in-process TPM is copied whole, which leaves no mark on the original,
// not even in its trace; any other TPM is copied through its state blobs (GET_STATEBLOB on the original).
// The cut explorer (sweep.ts) forks the machine at every boundary of one forward run and migrates the
// copy, so each cut costs one migration and the rest of one transaction instead of a replay from the
// start. A copy continues exactly as the original would; the test runs both to the end and compares.
import type { VMObject } from './vmstate';
import { InProcessTransport } from '../backend/transport';
import type { SwtpmDevice } from '../swtpm';
import { assembleMachine, type Machine, type MachineOptions } from '../vm/machine';
import { BLOBS, getStateBlob, setStateBlobs } from './tpm-emulator-vmstate';

export async function forkMachine(original: Machine, options: MachineOptions = {}): Promise<Machine> {
  const m = original;
  while (m.backend.pendingAnswer) await m.backend.pendingAnswer;
  const device = options.transport === undefined ? m.backend.inProcessDevice : null;
  const copy = device?.cloneable
    ? await withCopiedTpm(m, device, options)
    : await withTpmFromBlobs(m, options);
  copy.scheduler.restore(m.scheduler.save());
  const cmd = m.backend.inFlightCommand;
  const backendState = m.backend.save();
  if (cmd === null) copy.tis.restore(m.tis.snapshot());
  else copy.tis.restore(m.tis.snapshot(), { locality: cmd.locality, inLength: cmd.input.length });
  copy.backend.restore(backendState);
  copy.completeMmioBeforeStop = m.completeMmioBeforeStop;
  copy.vcpu.restoreFork(m.vcpu.forkState());
  copy.restoreGuestRecord(m.saveGuestRecord());
  copy.ppi.bytes.set(m.ppi.bytes);
  copy.copyRunState(m);
  return copy;
}

/**
 * An in-process TPM is copied whole, as the object it is. Through its blobs it would cost GET_STATEBLOB ×3
 * on the original, a newly manufactured TPM and SET_STATEBLOB ×3 + CMD_INIT on it: most of a sweep's cut.
 */
async function withCopiedTpm(m: Machine, device: SwtpmDevice, options: MachineOptions): Promise<Machine> {
  const tpm = device.clone();
  const copy = await assembleMachine(m.config, { ...options, transport: new InProcessTransport(tpm) });
  // Assembling probed the TPM (TPM2_ReadClock moved its clock): make it the original's again.
  tpm.copyFrom(device);
  return copy;
}

/** Any other TPM travels as its state blobs: GET_STATEBLOB ×3 from the original, then into a fresh TPM. */
async function withTpmFromBlobs(m: Machine, options: MachineOptions): Promise<Machine> {
  const blobs: VMObject = {};
  for (const { type, field } of BLOBS) {
    const blob = await getStateBlob(m.backend, type);
    blobs[`${field}_flags`] = blob.flags;
    blobs[`${field}.size`] = blob.bytes.length;
    blobs[`${field}.buffer`] = blob.bytes;
  }
  const copy = await assembleMachine(m.config, options);
  await setStateBlobs(copy.backend, blobs);
  return copy;
}
