// The virtual cost model: how long the TPM spends on a command. Base costs resemble swtpm/libtpms on a
// current x86 host (measured orders of magnitude, not a promise), and data-dependent work (bytes hashed,
// RSA prime candidates tried) is added by the handler through CommandCall.extraCostNs. Everything is
// divided by the TPM speed, so speed 0.1 makes every in-flight window ten times wider.
import { CC } from './constants';

const US = 1_000;
const MS = 1_000_000;

/** Cost of a command the TPM rejects while parsing the header or handles. */
export const ERROR_COST_NS = 10 * US;
const DEFAULT_COST_NS = 50 * US;

const BASE_COST_NS = new Map<number, number>([
  [CC.Startup, 2 * MS],
  [CC.Shutdown, 1 * MS],
  [CC.SelfTest, 8 * MS],
  [CC.IncrementalSelfTest, 1 * MS],
  [CC.GetTestResult, 20 * US],
  [CC.GetRandom, 30 * US],
  [CC.StirRandom, 30 * US],
  [CC.ReadClock, 15 * US],
  [CC.GetCapability, 40 * US],
  [CC.PCR_Read, 25 * US],
  [CC.PCR_Extend, 60 * US],
  [CC.PCR_Event, 90 * US],
  [CC.PCR_Reset, 40 * US],
  [CC.Hash, 40 * US],
  [CC.HashSequenceStart, 40 * US],
  [CC.SequenceUpdate, 30 * US],
  [CC.SequenceComplete, 50 * US],
  [CC.NV_DefineSpace, 3 * MS],
  [CC.NV_UndefineSpace, 3 * MS],
  [CC.NV_ReadPublic, 30 * US],
  [CC.NV_Write, 2 * MS],
  [CC.NV_Read, 60 * US],
  [CC.NV_Increment, 2 * MS],
  [CC.CreatePrimary, 12 * MS],
  [CC.ReadPublic, 30 * US],
  [CC.FlushContext, 20 * US],
]);

/** Per-byte costs that handlers add for data they process. */
export const HASH_COST_NS_PER_KIB = 4 * US;
export const RANDOM_COST_NS_PER_BYTE = 200;
/** One Miller–Rabin screened RSA prime candidate (the dominant cost of RSA key generation). */
export const RSA_CANDIDATE_COST_NS = 1500 * US;

export function commandDurationNs(code: number, rc: number, extraNs: number, speed: number): number {
  const parsedHeader = code >= 0;
  const base = parsedHeader ? (BASE_COST_NS.get(code) ?? DEFAULT_COST_NS) : ERROR_COST_NS;
  // A command refused before it ran costs the header parse only; one that failed while running (e.g.
  // a wrong NV size) still did most of its work.
  const work = rc === 0 || extraNs > 0 ? base + extraNs : Math.min(base, ERROR_COST_NS * 2);
  return Math.max(1, Math.round(work / speed));
}
