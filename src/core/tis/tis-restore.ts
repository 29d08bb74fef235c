// Loading the TIS registers from a migration stream: QEMU's "tpm-tis" vmstate fields (hw/tpm/
// tpm_tis_isa.c vmstate_tpm_tis_isa, tpm_tis_common.c vmstate_locty) onto a destination device.
// QEMU loads those fields as they come and has no post_load; we check every value first, because a
// stream is input and a bad rw_offset or locality would index outside the model: a refused stream
// changes nothing. What QEMU does not migrate is kept from the destination: the backend's buffer size
// and TPM version, the IRQ number, the established flag (re-read from the backend) and s->cmd.
import { isRecord, isU32 } from '../kernel/checks';
import { NO_LOCALITY, TIS_BUFFER_MAX, TIS_NUM_LOCALITIES, TIS_STATE_NAMES, TisState } from './registers';
import type { TisStateName } from './registers';
import type { LocalityRegs, TisRegisters } from './tis-logic';

/** The migrated part of the TIS: the "tpm-tis" vmstate fields, plus the IRQ line's level. */
export interface TisMigratedState {
  buffer: Uint8Array;
  rwOffset: number;
  activeLocality: number;
  abortingLocality: number;
  nextLocality: number;
  /** The level of the IRQ line: the interrupt controller's state in QEMU, carried beside the TIS here. */
  irqLevel: 0 | 1;
  localities: readonly {
    state: TisStateName;
    inte: number;
    ints: number;
    access: number;
    sts: number;
    ifaceId: number;
  }[];
}

export class TisStateError extends Error {
  override name = 'TisStateError';
}

const isLocty = (x: unknown): x is number =>
  typeof x === 'number' && Number.isInteger(x) && ((x >= 0 && x < TIS_NUM_LOCALITIES) || x === NO_LOCALITY);

/**
 * The destination's registers with the migrated fields of `state` loaded, or a TisStateError naming the
 * first bad field. `current` supplies what QEMU does not migrate.
 */
export function loadMigratedRegisters(current: TisRegisters, state: unknown): TisRegisters {
  const fail = (field: string, why: string): never => {
    throw new TisStateError(`tpm-tis: ${field} ${why}`);
  };
  if (!isRecord(state)) return fail('state', 'is not an object');
  const { buffer, rwOffset, activeLocality, abortingLocality, nextLocality, irqLevel, localities } = state;
  if (!(buffer instanceof Uint8Array) || buffer.length !== TIS_BUFFER_MAX) {
    fail('buffer', `must be ${TIS_BUFFER_MAX} bytes`);
  }
  if (
    typeof rwOffset !== 'number' ||
    !Number.isInteger(rwOffset) ||
    rwOffset < 0 ||
    rwOffset > TIS_BUFFER_MAX
  ) {
    fail('rw_offset', `must be 0..${TIS_BUFFER_MAX}, got ${String(rwOffset)}`);
  }
  for (const [name, value] of [
    ['active_locty', activeLocality],
    ['aborting_locty', abortingLocality],
    ['next_locty', nextLocality],
  ] as const) {
    if (!isLocty(value)) fail(name, `must be a locality 0..4 or 0xff (none), got ${String(value)}`);
  }
  if (irqLevel !== 0 && irqLevel !== 1) fail('irq level', 'must be 0 or 1');
  if (!Array.isArray(localities) || localities.length !== TIS_NUM_LOCALITIES) {
    fail('loc', `must hold ${TIS_NUM_LOCALITIES} localities`);
  }
  const loc: LocalityRegs[] = (localities as unknown[]).map((l, i) => {
    if (!isRecord(l)) return fail(`loc[${i}]`, 'is not an object');
    const stateIndex = TIS_STATE_NAMES.indexOf(l.state as TisStateName);
    if (stateIndex < 0) fail(`loc[${i}].state`, `must be one of ${TIS_STATE_NAMES.join(', ')}`);
    for (const f of ['inte', 'ints', 'sts', 'ifaceId'] as const) {
      if (!isU32(l[f])) fail(`loc[${i}].${f}`, 'must be a 32-bit unsigned integer');
    }
    if (typeof l.access !== 'number' || !Number.isInteger(l.access) || l.access < 0 || l.access > 0xff) {
      fail(`loc[${i}].access`, 'must be a byte');
    }
    return {
      state: stateIndex as TisState,
      inte: l.inte as number,
      ints: l.ints as number,
      access: l.access as number,
      sts: l.sts as number,
      ifaceId: l.ifaceId as number,
    };
  });
  return {
    ...current,
    loc,
    buffer: (buffer as Uint8Array).slice(),
    rwOffset: rwOffset as number,
    activeLocty: activeLocality as number,
    abortingLocty: abortingLocality as number,
    nextLocty: nextLocality as number,
    irqLevel: irqLevel as 0 | 1,
  };
}
