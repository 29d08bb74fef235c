// The four workloads: what each sends, and what it prints about each response.
import type { JsonValue } from '../kernel';
import { isRecord } from '../kernel/checks';
import { digest, hashByName } from '../tpm2/hash';
import { RC } from '../tpm2/rc';
import { judge, type Outcome, type WorkloadSpec } from './workload-kit';
import {
  counterValue,
  createdHandle,
  createPrimaryEcc,
  firstTpm2b,
  flushContext,
  getRandom,
  nvDefineCounter,
  nvIncrement,
  nvRead,
  pcrExtendSha256,
  toHex,
  viewResponse,
} from './workload-commands';

const done = (lines: Outcome['lines'], iterationDone = true): Outcome => ({ lines, iterationDone });
const err = (text: string): { text: string; level: 'err' } => ({ text, level: 'err' });

function fail(workload: string, field: string, expected: string): never {
  throw new Error(`${workload} workload: checkpoint field 'data.${field}' must be ${expected}`);
}

// ---- keygen ------------------------------------------------------------------------------------

/** CreatePrimary, then FlushContext of the handle it returned: one iteration. */
type KeygenData = { step: 'create' | 'flush'; handle: number | null };

export const keygenWorkload: WorkloadSpec<KeygenData> = {
  name: 'keygen',
  initialData: () => ({ step: 'create', handle: null }),
  parseData(v: JsonValue): KeygenData {
    if (!isRecord(v) || (v.step !== 'create' && v.step !== 'flush'))
      fail('keygen', 'step', "'create' or 'flush'");
    if (v.step === 'flush' && typeof v.handle !== 'number') fail('keygen', 'handle', 'a handle number');
    return { step: v.step, handle: typeof v.handle === 'number' ? v.handle : null };
  },
  next(data) {
    if (data.step === 'flush' && data.handle !== null) {
      return { name: 'FlushContext', command: flushContext(data.handle) };
    }
    return { name: 'CreatePrimary', command: createPrimaryEcc() };
  },
  handle(data, iteration, tx, result) {
    const label = `keygen #${iteration}`;
    const verdict = judge(label, tx, result);
    if (data.step === 'flush') {
      data.step = 'create';
      data.handle = null;
      if ('error' in verdict) return done([err(verdict.error)]);
      return done([{ text: `${label}: ${tx.name} ${dump(verdict.ok.bytes)}` }]);
    }
    if ('error' in verdict) return done([err(verdict.error)]);
    const handle = createdHandle(verdict.ok);
    if (handle === null) return done([err(`${label}: ${tx.name}: no object handle in the response`)]);
    data.step = 'flush';
    data.handle = handle;
    const text = `${label}: ${tx.name} handle 0x${handle.toString(16)} ${dump(verdict.ok.bytes)}`;
    return done([{ text }], false);
  },
};

/** The whole response in hex, as the 2011 test dumped it: its length, then the bytes. */
function dump(bytes: Uint8Array): string {
  return `(${bytes.length} bytes): ${toHex(bytes, ' ')}`;
}

// ---- pcr-extend --------------------------------------------------------------------------------

const PCR_INDEX = 16;
type NoData = { [k: string]: never };

/** The digest extended in iteration i: sha256 of a text naming it, so every run extends the same values. */
export function extendDigest(iteration: number): Uint8Array {
  return digest(hashByName('sha256'), new TextEncoder().encode(`tislab pcr-extend ${iteration}`));
}

export const pcrExtendWorkload: WorkloadSpec<NoData> = {
  name: 'pcr-extend',
  initialData: () => ({}),
  parseData: () => ({}),
  next: (_data, iteration) => ({
    name: 'PCR_Extend',
    command: pcrExtendSha256(PCR_INDEX, extendDigest(iteration)),
  }),
  handle(_data, iteration, tx, result) {
    const label = `pcr-extend #${iteration}`;
    const verdict = judge(label, tx, result);
    if ('error' in verdict) return done([err(verdict.error)]);
    return done([
      { text: `${label}: PCR${PCR_INDEX} sha256 extended with ${toHex(extendDigest(iteration))}` },
    ]);
  },
};

// ---- getrandom ---------------------------------------------------------------------------------

const RANDOM_BYTES = 32;

export const getrandomWorkload: WorkloadSpec<NoData> = {
  name: 'getrandom',
  initialData: () => ({}),
  parseData: () => ({}),
  next: () => ({ name: 'GetRandom', command: getRandom(RANDOM_BYTES) }),
  handle(_data, iteration, tx, result) {
    const label = `getrandom #${iteration}`;
    const verdict = judge(label, tx, result);
    if ('error' in verdict) return done([err(verdict.error)]);
    const bytes = firstTpm2b(verdict.ok);
    if (bytes === null) return done([err(`${label}: ${tx.name}: randomBytes runs past the response`)]);
    return done([{ text: `${label}: ${bytes.length} bytes ${toHex(bytes)}` }]);
  },
};

// ---- nv-counter --------------------------------------------------------------------------------

export const NV_COUNTER_INDEX = 0x01000100;

type NvCounterData = {
  defined: boolean;
  step: 'increment' | 'read';
  /** Whether this iteration's NV_Increment came back rc 0 (null before it ran). */
  incremented: boolean | null;
  /** The value the last successful NV_Read returned. */
  lastCounter: number | null;
};

export const nvCounterWorkload: WorkloadSpec<NvCounterData> = {
  name: 'nv-counter',
  initialData: () => ({ defined: false, step: 'increment', incremented: null, lastCounter: null }),
  parseData(v: JsonValue): NvCounterData {
    if (!isRecord(v)) fail('nv-counter', '', 'an object');
    if (typeof v.defined !== 'boolean') fail('nv-counter', 'defined', 'a boolean');
    if (v.step !== 'increment' && v.step !== 'read') fail('nv-counter', 'step', "'increment' or 'read'");
    const incremented = v.incremented ?? null;
    if (incremented !== null && typeof incremented !== 'boolean')
      fail('nv-counter', 'incremented', 'a boolean');
    const lastCounter = v.lastCounter ?? null;
    if (lastCounter !== null && typeof lastCounter !== 'number')
      fail('nv-counter', 'lastCounter', 'a number');
    return { defined: v.defined, step: v.step, incremented, lastCounter };
  },
  next(data) {
    if (!data.defined) return { name: 'NV_DefineSpace', command: nvDefineCounter(NV_COUNTER_INDEX) };
    if (data.step === 'increment') return { name: 'NV_Increment', command: nvIncrement(NV_COUNTER_INDEX) };
    return { name: 'NV_Read', command: nvRead(NV_COUNTER_INDEX, 8) };
  },
  handle(data, iteration, tx, result) {
    const label = `nv-counter #${iteration}`;
    const verdict = judge(label, tx, result);
    if (!data.defined) return defined(data, label, tx.name, result.response, verdict);
    if (data.step === 'increment') {
      data.step = 'read';
      data.incremented = !('error' in verdict);
      return done('error' in verdict ? [err(verdict.error)] : [], false);
    }
    data.step = 'increment';
    const incremented = data.incremented;
    data.incremented = null;
    if ('error' in verdict) return done([err(verdict.error)]);
    const value = counterValue(verdict.ok);
    if (value === null) return done([err(`${label}: ${tx.name}: no 8-byte counter in the response`)]);
    const last = data.lastCounter;
    data.lastCounter = value;
    return done([
      { text: `${label}: counter = ${value}` },
      ...counterRemarks(label, last, value, incremented),
    ]);
  },
};

function defined(
  data: NvCounterData,
  label: string,
  name: string,
  response: Uint8Array | undefined,
  verdict: ReturnType<typeof judge>,
): Outcome {
  const index = `0x${NV_COUNTER_INDEX.toString(16).padStart(8, '0')}`;
  if (!('error' in verdict)) {
    data.defined = true;
    return done([{ text: `nv-counter: ${name} ${index}: 8-byte counter, owner read/write` }], false);
  }
  // Already there (a previous run, or a define whose response was lost): use it.
  const view = response ? viewResponse(response) : null;
  if (view !== null && view.rc === RC.NV_DEFINED) {
    data.defined = true;
    return done([{ text: `nv-counter: ${name} ${index}: already defined, using it` }], false);
  }
  // Counts as an iteration, so that a TPM refusing the index cannot keep a bounded run going forever.
  return done([err(verdict.error), err(`${label}: the counter index is not defined; trying again`)]);
}

/** The lines that make a doubled or lost command visible in the counter's steps. */
function counterRemarks(
  label: string,
  last: number | null,
  value: number,
  incremented: boolean | null,
): { text: string; level: 'warn' }[] {
  if (last === null) return [];
  const delta = value - last;
  const expected = incremented ? 1 : 0;
  if (delta === expected) return [];
  const warn = (text: string) => [{ text: `${label}: ${text}`, level: 'warn' as const }];
  if (delta < 0) return warn(`counter went backwards, from ${last} to ${value}`);
  if (!incremented && delta === 1) {
    return warn(`counter moved from ${last} to ${value} although NV_Increment failed: the TPM ran it`);
  }
  if (delta > 1) {
    return warn(
      `counter moved by ${delta} (from ${last} to ${value}) where ${expected} was expected: ` +
        `${delta - expected} count(s) skipped, an NV_Increment was executed twice`,
    );
  }
  return warn(`counter did not move (still ${value}) although NV_Increment succeeded`);
}
