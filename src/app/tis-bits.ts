// The TIS registers' bits with their names (TCG PC Client TIS; QEMU's tpm_tis.h), decoded for the TIS
// registers panel, with the bits that changed since the previous step marked.
import { tisRegisterAt } from '../core/tis/registers';

export interface BitField {
  /** The spec's name, e.g. 'dataAvail'. */
  name: string;
  /** Lowest bit and width. */
  shift: number;
  width: number;
}

export interface RegisterSpec {
  name: string;
  /** Key in the panel's locality record. */
  key: 'access' | 'sts' | 'inte' | 'ints';
  fields: readonly BitField[];
}

const bit = (name: string, shift: number): BitField => ({ name, shift, width: 1 });

export const TIS_REGISTER_SPECS: readonly RegisterSpec[] = [
  {
    name: 'ACCESS',
    key: 'access',
    fields: [
      bit('tpmRegValidSts', 7),
      bit('activeLocality', 5),
      bit('beenSeized', 4),
      bit('seize', 3),
      bit('pendingRequest', 2),
      bit('requestUse', 1),
      bit('tpmEstablishment', 0),
    ],
  },
  {
    name: 'STS',
    key: 'sts',
    fields: [
      { name: 'tpmFamily', shift: 26, width: 2 },
      bit('resetEstablishmentBit', 25),
      bit('commandCancel', 24),
      { name: 'burstCount', shift: 8, width: 16 },
      bit('stsValid', 7),
      bit('commandReady', 6),
      bit('tpmGo', 5),
      bit('dataAvail', 4),
      bit('Expect', 3),
      bit('selfTestDone', 2),
      bit('responseRetry', 1),
    ],
  },
  {
    name: 'INT_ENABLE',
    key: 'inte',
    fields: [
      bit('globalIntEnable', 31),
      bit('commandReadyEnable', 7),
      { name: 'typePolarity', shift: 3, width: 2 },
      bit('localityChangeIntEnable', 2),
      bit('stsValidIntEnable', 1),
      bit('dataAvailIntEnable', 0),
    ],
  },
  {
    name: 'INT_STATUS',
    key: 'ints',
    fields: [
      bit('commandReadyIntOccured', 7),
      bit('localityChangeIntOccured', 2),
      bit('stsValidIntOccured', 1),
      bit('dataAvailIntOccured', 0),
    ],
  },
];

export interface DecodedField {
  name: string;
  /** "7" or "8–23". */
  bits: string;
  value: number;
  /** Differs from the previous step's value. */
  changed: boolean;
}

function fieldValue(value: number, f: BitField): number {
  return Math.floor(value / 2 ** f.shift) % 2 ** f.width;
}

export function decodeRegister(spec: RegisterSpec, value: number, previous: number | null): DecodedField[] {
  return spec.fields.map((f) => {
    const v = fieldValue(value >>> 0, f);
    return {
      name: f.name,
      bits: f.width === 1 ? String(f.shift) : `${f.shift}–${f.shift + f.width - 1}`,
      value: v,
      changed: previous !== null && fieldValue(previous >>> 0, f) !== v,
    };
  });
}

export function hex(value: number, digits: number): string {
  return `0x${(value >>> 0).toString(16).padStart(digits, '0')}`;
}

/** "DATA_FIFO (locality 0)", "STS+1 (locality 0)", or the address in hex outside the TIS. */
export function registerAt(addr: number): string {
  const at = tisRegisterAt(addr);
  return at ? `${at.register} (locality ${at.locality})` : hex(addr, 8);
}
