// How long Linux waits for a TPM2 command before it cancels it: tpm2_calc_ordinal_duration with the
// durations tpm2_get_timeouts sets (drivers/char/tpm/tpm2-cmd.c; fidelity-facts §1.1).
import { CC } from '../tpm2/constants';
import { NS_PER_MS } from './ops';

export const TPM2_DURATION_SHORT_MS = 20;
export const TPM2_DURATION_MEDIUM_MS = 750;
export const TPM2_DURATION_LONG_MS = 2000;
export const TPM2_DURATION_LONG_LONG_MS = 300_000;
/** TPM2_DURATION_DEFAULT: every ordinal the table does not name. */
export const TPM2_DURATION_DEFAULT_MS = 120_000;

const DURATION_MS = new Map<number, number>([
  [CC.Startup, TPM2_DURATION_MEDIUM_MS],
  [CC.SelfTest, TPM2_DURATION_LONG_MS],
  [CC.GetRandom, TPM2_DURATION_LONG_MS],
  [CC.SequenceUpdate, TPM2_DURATION_MEDIUM_MS],
  [CC.SequenceComplete, TPM2_DURATION_MEDIUM_MS],
  [CC.EventSequenceComplete, TPM2_DURATION_MEDIUM_MS],
  [CC.HashSequenceStart, TPM2_DURATION_MEDIUM_MS],
  [CC.VerifySignature, TPM2_DURATION_LONG_LONG_MS],
  [CC.PCR_Extend, TPM2_DURATION_MEDIUM_MS],
  [CC.HierarchyControl, TPM2_DURATION_LONG_MS],
  [CC.HierarchyChangeAuth, TPM2_DURATION_LONG_MS],
  [CC.GetCapability, TPM2_DURATION_MEDIUM_MS],
  [CC.NV_Read, TPM2_DURATION_LONG_MS],
  [CC.CreatePrimary, TPM2_DURATION_LONG_LONG_MS],
  [CC.Create, TPM2_DURATION_LONG_LONG_MS],
  [CC.CreateLoaded, TPM2_DURATION_LONG_LONG_MS],
]);

/** tpm2_calc_ordinal_duration, in ns. */
export function tpm2OrdinalDurationNs(ordinal: number): number {
  return (DURATION_MS.get(ordinal) ?? TPM2_DURATION_DEFAULT_MS) * NS_PER_MS;
}
