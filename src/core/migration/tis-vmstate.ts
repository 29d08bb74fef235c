// The TIS as QEMU migrates it: the "tpm-tis" section (hw/tpm/tpm_tis_isa.c vmstate_tpm_tis_isa, version 0)
// with its "tpm-tis/locty" records (tpm_tis_common.c vmstate_locty), and pre_save = finish_sync.
import { TIS_BUFFER_MAX, TIS_STATE_NAMES, TisState } from '../tis/registers';
import type { TisDevice, TisRegisterView } from '../tis/tis-device';
import { loadMigratedRegisters } from '../tis/tis-restore';
import type { SaveStateEntry } from './snapshot-file';
import type { VMObject, VMStateDescription } from './vmstate';

export const VMSTATE_TPM_TIS_LOCTY: VMStateDescription = {
  name: 'tpm-tis/locty',
  versionId: 0,
  minimumVersionId: 0,
  fields: [
    { name: 'state', type: 'u32' },
    { name: 'inte', type: 'u32' },
    { name: 'ints', type: 'u32' },
    { name: 'access', type: 'u8' },
    { name: 'sts', type: 'u32' },
    { name: 'iface_id', type: 'u32' },
  ],
};

export const VMSTATE_TPM_TIS: VMStateDescription = {
  name: 'tpm-tis',
  versionId: 0,
  minimumVersionId: 0,
  fields: [
    { name: 'buffer', type: { buffer: TIS_BUFFER_MAX } },
    { name: 'rw_offset', type: 'u16' },
    { name: 'active_locty', type: 'u8' },
    { name: 'aborting_locty', type: 'u8' },
    { name: 'next_locty', type: 'u8' },
    { name: 'loc', type: { structArray: VMSTATE_TPM_TIS_LOCTY, count: 5 } },
  ],
};

export function tisToVmstate(view: TisRegisterView): VMObject {
  return {
    buffer: view.buffer,
    rw_offset: view.rwOffset,
    active_locty: view.activeLocality,
    aborting_locty: view.abortingLocality,
    next_locty: view.nextLocality,
    loc: view.localities.map((l) => ({
      state: TisState[l.state.toUpperCase() as keyof typeof TisState],
      inte: l.inte,
      ints: l.ints,
      access: l.access,
      sts: l.sts,
      iface_id: l.ifaceId,
    })),
  };
}

/** The loaded fields as a register view; the IRQ line keeps the destination's level (see below). */
export function tisFromVmstate(state: VMObject, irqLevel: 0 | 1): TisRegisterView {
  const loc = (state.loc ?? []) as VMObject[];
  return {
    buffer: state.buffer as Uint8Array,
    rwOffset: state.rw_offset as number,
    activeLocality: state.active_locty as number,
    abortingLocality: state.aborting_locty as number,
    nextLocality: state.next_locty as number,
    irqLevel,
    localities: loc.map((l) => ({
      // An enum value outside TPMTISState becomes a name the register check refuses.
      state: TIS_STATE_NAMES[l.state as number] ?? (`state ${String(l.state)}` as 'idle'),
      inte: l.inte as number,
      ints: l.ints as number,
      access: l.access as number,
      sts: l.sts as number,
      ifaceId: l.iface_id as number,
    })),
  };
}

/**
 * The "tpm-tis" section of a machine. pre_save drains the backend first (tpm_tis_pre_save calls
 * tpm_backend_finish_sync) when `finishSync` is given. The IRQ line's level belongs to the interrupt
 * controller in QEMU, not to this section; the guest drivers poll (QEMU's TIS declares no IRQ in ACPI),
 * so the destination's line is left as it is.
 */
export function tisSaveStateEntry(
  tis: TisDevice,
  finishSync?: () => void | Promise<void>,
  /** On a destination that sends the in-flight command again ('replay'): which command s->cmd holds. */
  pendingCommand?: () => { locality: number; inLength: number } | undefined,
): SaveStateEntry {
  return {
    idstr: 'tpm-tis',
    instanceId: 0,
    desc: VMSTATE_TPM_TIS,
    ...(finishSync === undefined ? {} : { preSave: finishSync }),
    save: () => tisToVmstate(tis.snapshot()),
    prepareLoad(state) {
      const view = tisFromVmstate(state, tis.irqLevel);
      // The same checks restore() makes, done now so that nothing is applied from a file that fails later.
      loadMigratedRegisters(tis.machineSnapshot.context.regs, view);
      return () => {
        const cmd = pendingCommand?.();
        if (cmd === undefined) tis.restore(view);
        else tis.restore(view, cmd);
      };
    },
  };
}
