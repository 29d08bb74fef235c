// The two famous cuts (DESIGN.md, "The story the simulator tells"), as scenarios the page offers.
import type { Scenario } from './scenario';

/**
 * The 2011 qemu-devel report: a key-generation loop on a 2.6.37 guest, migrated while the vCPU had exited
 * on a FIFO read of the response and not yet re-entered. The destination executes the load again, the
 * FIFO pointer moves twice, and the guest's response loses one byte and ends in 0xff.
 */
export const DUPLICATED_MMIO_READ_2011: Scenario = {
  id: 'duplicated-mmio-read-2011',
  title: 'Duplicated MMIO read on resume (2011)',
  summary:
    'A 2.6.37 guest generates keys in a loop. The VM is stopped between a FIFO read’s KVM exit and its ' +
    're-entry: QEMU has already advanced rw_offset, but the byte is still in run->mmio.data, which does not ' +
    'migrate. The destination executes the read again.',
  instructions: [
    'The vCPU now sits between exit and re-entry of a DATA_FIFO read (20 response bytes read).',
    'Press Migrate, then Resume: the Guest view shows a missing byte and a trailing 0xff.',
    'Load the scenario again, switch on “Complete pending MMIO before stop”, then Migrate and Resume: no hazard.',
  ],
  config: {
    seed: '2011',
    guest: { driver: 'linux-2.6.37', workload: 'keygen', iterations: 2 },
    completeMmioBeforeStop: false,
  },
  settings: { completeMmioBeforeStop: false, inflight: 'wait' },
  setup: [
    { do: 'run', until: { kind: 'responseBytesRead', count: 20 } },
    { do: 'run', until: { kind: 'pendingMmio', register: 'DATA_FIFO', isWrite: false, phase: 'handled' } },
  ],
  next: [{ do: 'migrate' }, { do: 'resume' }],
};

/**
 * The 2017 migration series: the source is saved while the TPM emulator still executes a command. Without
 * pre_save waiting for the response, it is lost (the driver times out) or, replayed on the destination,
 * the command runs twice.
 */
export const INFLIGHT_COMMAND_2017: Scenario = {
  id: 'inflight-command-2017',
  title: 'In-flight command at savevm (2017)',
  summary:
    'A guest creates a primary key. The VM is saved while TPM2_CreatePrimary executes in the TPM emulator. ' +
    'What happens to its response depends on the in-flight strategy: Wait (QEMU’s fix: pre_save waits for ' +
    'the response), Drop (it is lost and the driver times out) or Replay (the TPM executes it twice).',
  instructions: [
    'The backend is now executing TPM2_CreatePrimary.',
    'Pick an in-flight strategy, press Migrate, then Resume. Drop: a lost response and a timeout in the ' +
      'console; Replay: the command runs twice; Wait: nothing goes wrong.',
  ],
  config: {
    seed: '2017',
    // The 2.6.37 driver gives up on a lost CreatePrimary after 120 s of virtual time; today's waits 300 s,
    // which at full speed keeps a demo waiting for half a minute. The cut is in QEMU, not in the driver.
    guest: { driver: 'linux-2.6.37', workload: 'keygen', iterations: 1 },
    completeMmioBeforeStop: true,
  },
  settings: { completeMmioBeforeStop: true, inflight: 'drop' },
  setup: [{ do: 'run', until: { kind: 'backendPhase', phase: 'executing', command: 'CreatePrimary' } }],
  next: [{ do: 'migrate' }, { do: 'resume' }],
};

export const SCENARIOS: readonly Scenario[] = [DUPLICATED_MMIO_READ_2011, INFLIGHT_COMMAND_2017];

export function findScenario(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
