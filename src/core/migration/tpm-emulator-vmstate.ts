// The TPM emulator backend as QEMU migrates it (backends/tpm/tpm_emulator.c, vmstate "tpm-emulator",
// version 0): the TPM's three state blobs, fetched from swtpm in pre_save and pushed back in post_load.
//
//   pre_save  (tpm_emulator_pre_save):   finish_sync, then CMD_GET_STATEBLOB for PERMANENT, VOLATILE and
//             SAVESTATE in that order, DECRYPTED, offset 0 (tpm_emulator_get_state_blobs).
//   post_load (tpm_emulator_post_load):  CMD_STOP, CMD_SET_STATEBLOB for each blob that has bytes
//             (tpm_emulator_set_state_blobs), then CMD_INIT with PTM_INIT_FLAG_DELETE_VOLATILE
//             (tpm_emulator_startup_tpm_resume with is_resume).
//
// The in-flight strategies (fidelity-facts §3.1, §7(b)) decide what happens to a command the backend has
// not finished: 'wait' is QEMU since 2.12 (finish_sync in pre_save); 'drop' saves without waiting and the
// command is not part of the state; 'replay' saves without waiting but carries the command's bytes in a
// subsection of our own, "tislab/inflight", so the destination sends it to its TPM again (usbredir-style,
// as proposed in the 2017 thread). QEMU has no such subsection: a stream with it is TIS Lab's.
import type { EmulatorBackend } from '../backend/emulator-backend';
import {
  BLOB_TYPE,
  CMD,
  ctrlRequest,
  ctrlResponse,
  PTM_INIT_FLAG_DELETE_VOLATILE,
  PTM_STATE_FLAG_DECRYPTED,
} from '../swtpm/ioctl';
import type { SaveStateEntry } from './snapshot-file';
import { VMStateError, type VMObject, type VMStateDescription } from './vmstate';

export type InflightStrategy = 'wait' | 'drop' | 'replay';
export const INFLIGHT_STRATEGIES: readonly InflightStrategy[] = ['wait', 'drop', 'replay'];

/** TPM_RETRY: swtpm's answer for a blob that does not exist (no savestate); tpm_emulator accepts it. */
const TPM_RETRY = 0x800;
export const BLOBS = [
  { type: BLOB_TYPE.PERMANENT, field: 'permanent' },
  { type: BLOB_TYPE.VOLATILE, field: 'volatil' },
  { type: BLOB_TYPE.SAVESTATE, field: 'savestate' },
] as const;

export const VMSTATE_TPM_INFLIGHT: VMStateDescription = {
  name: 'tislab/inflight',
  versionId: 0,
  minimumVersionId: 0,
  fields: [
    { name: 'inflight_locty', type: 'u8' },
    { name: 'inflight_len', type: 'u32' },
    { name: 'inflight_cmd', type: { vbuffer: 'inflight_len' } },
  ],
};

export const VMSTATE_TPM_EMULATOR: VMStateDescription = {
  name: 'tpm-emulator',
  versionId: 0,
  minimumVersionId: 0,
  fields: BLOBS.flatMap(({ field }) => [
    { name: `${field}_flags`, type: 'u32' as const },
    { name: `${field}.size`, type: 'u32' as const },
    { name: `${field}.buffer`, type: { vbuffer: `${field}.size` } },
  ]),
  subsections: [{ desc: VMSTATE_TPM_INFLIGHT, needed: (s) => s.inflight_cmd instanceof Uint8Array }],
};

/** The command the destination sends again under 'replay'. */
export interface ReplayedCommand {
  locality: number;
  input: Uint8Array;
}

export interface TpmEmulatorEntryOptions {
  strategy: InflightStrategy;
  /** Called on the destination once the TPM runs again, with the command to send again under 'replay'. */
  onReplay?: (cmd: ReplayedCommand) => void;
}

type Maybe<T> = T | Promise<T>;
function then<T, U>(x: Maybe<T>, f: (v: T) => Maybe<U>): Maybe<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}

/** The "tpm-emulator" section of a machine, for one backend. */
export function tpmEmulatorSaveStateEntry(
  backend: EmulatorBackend,
  opts: TpmEmulatorEntryOptions,
): SaveStateEntry {
  let saved: VMObject | null = null;
  return {
    idstr: 'tpm-emulator',
    instanceId: 0,
    desc: VMSTATE_TPM_EMULATOR,
    async preSave() {
      backend.note('tpm_emulator_pre_save', { inflight: opts.strategy });
      if (opts.strategy === 'wait') await backend.finishSync();
      while (backend.pendingAnswer) await backend.pendingAnswer;
      const state: VMObject = {};
      for (const { type, field } of BLOBS) {
        const blob = await getStateBlob(backend, type);
        state[`${field}_flags`] = blob.flags;
        state[`${field}.size`] = blob.bytes.length;
        state[`${field}.buffer`] = blob.bytes;
      }
      const cmd = backend.inFlightCommand;
      if (opts.strategy === 'replay' && cmd) {
        state.inflight_locty = cmd.locality;
        state.inflight_len = cmd.input.length;
        state.inflight_cmd = cmd.input;
      }
      saved = state;
    },
    save() {
      if (!saved) throw new Error('tpm-emulator: pre_save did not run');
      const s = saved;
      saved = null;
      return s;
    },
    prepareLoad(state) {
      for (const { field } of BLOBS) {
        const size = state[`${field}.size`] as number;
        if (size > 0 && (state[`${field}_flags`] as number) & ~0x3) {
          throw new VMStateError([
            `tpm-emulator: unknown state flags 0x${(state[`${field}_flags`] as number).toString(16)} for the ${field} blob`,
          ]);
        }
      }
      if (((state['permanent.size'] as number) ?? 0) === 0) {
        throw new VMStateError(['tpm-emulator: the stream carries no permanent state blob']);
      }
      const replay =
        state.inflight_cmd instanceof Uint8Array
          ? { locality: state.inflight_locty as number, input: state.inflight_cmd }
          : null;
      if (replay && replay.locality > 4) {
        throw new VMStateError([`tpm-emulator: in-flight command locality ${replay.locality} is not 0-4`]);
      }
      return () =>
        then(setStateBlobs(backend, state), () => {
          if (replay) opts.onReplay?.(replay);
        });
    },
  };
}

/** tpm_emulator_get_state_blob: one CMD_GET_STATEBLOB, whole (offset 0, totlength must equal length). */
export function getStateBlob(
  backend: EmulatorBackend,
  type: number,
): Maybe<{ flags: number; bytes: Uint8Array }> {
  return then(backend.controlRequest(ctrlRequest.getStateBlob(type, PTM_STATE_FLAG_DECRYPTED)), (raw) => {
    const r = ctrlResponse.stateBlob(raw);
    if (r.result !== 0 && (r.result & TPM_RETRY) === 0) {
      throw new Error(
        `tpm-emulator: Getting the stateblob (type ${type}) failed with a TPM error 0x${r.result.toString(16)}`,
      );
    }
    if (r.totLength !== r.length) {
      throw new Error(
        `tpm-emulator: Getting the stateblob (type ${type}) failed: got ${r.length} of ${r.totLength} bytes`,
      );
    }
    backend.note('tpm_emulator_get_state_blob', { type, size: r.length, flags: r.stateFlags });
    return { flags: r.stateFlags, bytes: r.data };
  });
}

/** tpm_emulator_set_state_blobs + tpm_emulator_startup_tpm_resume(is_resume): post_load's sequence. */
export function setStateBlobs(backend: EmulatorBackend, state: VMObject): Maybe<void> {
  const fail = (line: string): never => {
    backend.note('tpm_emulator_set_state_blobs_error', { message: line });
    throw new VMStateError([line]);
  };
  backend.note('tpm_emulator_set_state_blobs', {});
  const stopped = then(backend.controlRequest(ctrlRequest.bare(CMD.STOP)), (raw) => {
    const res = ctrlResponse.result(raw);
    if (res !== 0) fail(`tpm-emulator: Could not stop TPM: TPM result 0x${res.toString(16)}`);
  });
  let chain: Maybe<void> = stopped;
  for (const { type, field } of BLOBS) {
    const bytes = state[`${field}.buffer`] as Uint8Array;
    if (bytes.length === 0) continue;
    const flags = state[`${field}_flags`] as number;
    chain = then(chain, () =>
      then(backend.controlRequest(ctrlRequest.setStateBlob(type, flags, bytes)), (raw) => {
        const res = ctrlResponse.result(raw);
        if (res !== 0) {
          fail(
            `tpm-emulator: Setting the stateblob (type ${type}) failed with a TPM error 0x${res.toString(16)}`,
          );
        }
        backend.note('tpm_emulator_set_state_blob', { type, size: bytes.length, flags });
      }),
    );
  }
  return then(chain, () =>
    then(backend.controlRequest(ctrlRequest.init(PTM_INIT_FLAG_DELETE_VOLATILE)), (raw) => {
      const res = ctrlResponse.result(raw);
      if (res !== 0) fail(`tpm-emulator: TPM result for CMD_INIT: 0x${res.toString(16)}`);
      backend.note('tpm_emulator_set_state_blobs_done', {});
    }),
  );
}
