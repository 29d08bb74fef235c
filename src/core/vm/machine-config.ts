// The machine's configuration: plain JSON, so scenarios, the UI and `tislab run` hold the same thing.
import { isRecord, isSafeNonNegInt, show } from '../kernel/checks';
import { parseGuestConfig, type GuestConfig } from '../guest';
import type { VcpuStepTimes } from './vcpu-state';

export interface MachineConfig {
  /** Everything random in the TPM derives from it (keys, GetRandom bytes). */
  seed: string | number;
  guest: GuestConfig;
  /** The TPM's speed relative to the cost model's reference (1); 0.1 is ten times slower. */
  tpmSpeed?: number;
  /** Virtual durations of the three steps of an MMIO access (vcpu-state.ts has the defaults). */
  steps?: VcpuStepTimes;
  /** QEMU's fix: complete a pending MMIO exit before the vCPU stops (default true). */
  completeMmioBeforeStop?: boolean;
}

/** A config that cannot be used; the message names the field. */
export class MachineConfigError extends Error {}

const FIELDS = ['seed', 'guest', 'tpmSpeed', 'steps', 'completeMmioBeforeStop'];
const STEP_FIELDS = ['exitNs', 'deviceNs', 'reenterNs'] as const;

/** Checks a config from outside and returns a detached copy; throws MachineConfigError naming the field. */
export function parseMachineConfig(raw: unknown): MachineConfig {
  const bad = (what: string): never => {
    throw new MachineConfigError(`machine config: ${what}`);
  };
  if (!isRecord(raw)) return bad(`expected an object {seed, guest, ...}, got ${show(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!FIELDS.includes(key)) bad(`unknown field '${key}'; the fields are ${FIELDS.join(', ')}`);
  }
  const { seed, guest, tpmSpeed, steps, completeMmioBeforeStop } = raw;
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isFinite(seed)))) {
    bad(`field 'seed' must be a string or a number, got ${show(seed)}`);
  }
  let guestConfig: GuestConfig;
  try {
    guestConfig = parseGuestConfig(guest);
  } catch (e) {
    return bad(`field 'guest': ${(e as Error).message}`);
  }
  const config: MachineConfig = { seed: seed as string | number, guest: guestConfig };
  if (tpmSpeed !== undefined) {
    if (!(typeof tpmSpeed === 'number' && Number.isFinite(tpmSpeed) && tpmSpeed > 0)) {
      bad(`field 'tpmSpeed' must be a positive number, got ${show(tpmSpeed)}`);
    }
    config.tpmSpeed = tpmSpeed as number;
  }
  if (steps !== undefined) {
    if (!isRecord(steps))
      return bad(`field 'steps' must be an object {exitNs, deviceNs, reenterNs}, got ${show(steps)}`);
    for (const key of Object.keys(steps)) {
      if (!(STEP_FIELDS as readonly string[]).includes(key)) {
        bad(`unknown field 'steps.${key}'; the fields are ${STEP_FIELDS.join(', ')}`);
      }
    }
    for (const key of STEP_FIELDS) {
      if (!isSafeNonNegInt(steps[key]))
        bad(`field 'steps.${key}' must be a non-negative integer of ns, got ${show(steps[key])}`);
    }
    config.steps = {
      exitNs: steps.exitNs as number,
      deviceNs: steps.deviceNs as number,
      reenterNs: steps.reenterNs as number,
    };
  }
  if (completeMmioBeforeStop !== undefined) {
    if (typeof completeMmioBeforeStop !== 'boolean') {
      bad(`field 'completeMmioBeforeStop' must be true or false, got ${show(completeMmioBeforeStop)}`);
    }
    config.completeMmioBeforeStop = completeMmioBeforeStop as boolean;
  }
  return config;
}
