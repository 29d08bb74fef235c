// TPM2_GetCapability (TPM 2.0 Part 3 §30.2): what this TPM implements and its current properties.
// Shapes, limits and moreData rules as libtpms 0.9 (CapabilityCommands.c), checked against swtpm 0.7.1:
// a property request never spills from one TPM_PT group into the next, a count of 0 returns nothing
// with moreData set, and each list is capped at what fits in one response.
import { defineCommand, param } from '../command';
import { ALG, CAP, CC, ECC_CURVE, HT, PT_FIXED, PT_VAR, RH } from '../constants';
import type { TpmContext } from '../context';
import type { TpmWriter } from '../marshal';
import { RC, rcParam, TpmError } from '../rc';
import { MAX_ACTIVE_SESSIONS, MAX_LOADED_OBJECTS, MAX_LOADED_SESSIONS, PCR_BANKS, PCR_COUNT } from '../state';
import { hashByName } from '../hash';
import type { CommandSpec } from '../command';

/** The command table, handed over by commands/index.ts (which imports this file: no import cycle). */
let COMMANDS: readonly CommandSpec[] = [];
export function registerCommandTable(commands: readonly CommandSpec[]): void {
  COMMANDS = commands;
}

/** TPMA_ALGORITHM bits. */
const ASYM = 0x1;
const SYM = 0x2;
const HASH = 0x4;
const OBJECT = 0x8;
const SIGNING = 0x100;
const ENCRYPTING = 0x200;
const METHOD = 0x400;

/** The algorithms this engine implements, with libtpms' attribute values. */
const ALGORITHMS: ReadonlyArray<readonly [number, number]> = [
  [ALG.RSA, ASYM | OBJECT],
  [ALG.SHA1, HASH],
  [ALG.HMAC, HASH | SIGNING],
  [ALG.AES, SYM],
  [ALG.MGF1, HASH | METHOD],
  [ALG.SHA256, HASH],
  [ALG.SHA384, HASH],
  [ALG.NULL, 0],
  [ALG.RSASSA, ASYM | SIGNING],
  [ALG.RSAES, ASYM | ENCRYPTING],
  [ALG.RSAPSS, ASYM | SIGNING],
  [ALG.OAEP, ASYM | ENCRYPTING],
  [ALG.ECDSA, ASYM | SIGNING],
  [ALG.ECDH, ASYM | METHOD],
  [ALG.KDF1_SP800_108, HASH | METHOD],
  [ALG.ECC, ASYM | OBJECT],
  [ALG.CFB, SYM | ENCRYPTING],
];

/** libtpms' MAX_CAP_* limits for a 1024-byte capability buffer. */
const MAX_CAP_ALGS = 128;
const MAX_CAP_HANDLES = 254;
const MAX_CAP_CC = 256;
const MAX_TPM_PROPERTIES = 127;
const MAX_ECC_CURVES = 508;

/** TPMA_CC bits besides the command index: nv (22), extensive (23), flushed (24), cHandles (25–27), rHandle (28). */
const TPMA_CC_NV = 1 << 22;
const TPMA_CC_FLUSHED = 1 << 24;
/** Commands that may write NV (libtpms' IS_WRITE attribute), as swtpm reports them. */
const WRITES_NV = new Set<number>([
  CC.NV_UndefineSpace,
  CC.NV_DefineSpace,
  CC.NV_Increment,
  CC.NV_Write,
  CC.PCR_Event,
  CC.PCR_Reset,
  CC.IncrementalSelfTest,
  CC.SelfTest,
  CC.Startup,
  CC.Shutdown,
  CC.StirRandom,
  CC.PCR_Extend,
  CC.EventSequenceComplete,
]);
const FLUSHES = new Set<number>([CC.SequenceComplete, CC.EventSequenceComplete]);

function tpmaCc(spec: CommandSpec): number {
  let v = spec.code & 0xffff;
  if (WRITES_NV.has(spec.code)) v |= TPMA_CC_NV;
  if (FLUSHES.has(spec.code)) v |= TPMA_CC_FLUSHED;
  v |= (spec.handles.length & 0x7) << 25;
  if (spec.responseHandle) v |= 1 << 28;
  return v >>> 0;
}

function ascii4(s: string): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v << 8) | (s.charCodeAt(i) || 0);
  return v >>> 0;
}

/**
 * TPM_PT_FIXED properties. Identity values say what this TPM is (TIS Lab's engine, spec revision 1.64 as
 * libtpms 0.9 reports); limits mirror libtpms so clients size their buffers the same way.
 */
function fixedProperties(): Array<[number, number]> {
  return [
    [PT_FIXED + 0, ascii4('2.0\0')], // FAMILY_INDICATOR
    [PT_FIXED + 1, 0], // LEVEL
    [PT_FIXED + 2, 164], // REVISION
    [PT_FIXED + 3, 75], // DAY_OF_YEAR
    [PT_FIXED + 4, 2021], // YEAR
    [PT_FIXED + 5, ascii4('TISL')], // MANUFACTURER
    [PT_FIXED + 6, ascii4('TIS ')], // VENDOR_STRING_1
    [PT_FIXED + 7, ascii4('Lab ')], // VENDOR_STRING_2
    [PT_FIXED + 8, 0], // VENDOR_STRING_3
    [PT_FIXED + 9, 0], // VENDOR_STRING_4
    [PT_FIXED + 10, 1], // VENDOR_TPM_TYPE
    [PT_FIXED + 11, 0x00010000], // FIRMWARE_VERSION_1: TIS Lab 0.1
    [PT_FIXED + 12, 0], // FIRMWARE_VERSION_2
    [PT_FIXED + 13, 0x400], // INPUT_BUFFER
    [PT_FIXED + 14, MAX_LOADED_OBJECTS], // HR_TRANSIENT_MIN
    [PT_FIXED + 15, 7], // HR_PERSISTENT_MIN
    [PT_FIXED + 16, MAX_LOADED_OBJECTS], // HR_LOADED_MIN
    [PT_FIXED + 17, 0x40], // ACTIVE_SESSIONS_MAX
    [PT_FIXED + 18, PCR_COUNT], // PCR_COUNT
    [PT_FIXED + 19, 3], // PCR_SELECT_MIN
    [PT_FIXED + 20, 0xffff], // CONTEXT_GAP_MAX
    [PT_FIXED + 22, 0], // NV_COUNTERS_MAX
    [PT_FIXED + 23, 0x800], // NV_INDEX_MAX
    [PT_FIXED + 24, 0x6], // MEMORY
    [PT_FIXED + 25, 0x1000], // CLOCK_UPDATE
    [PT_FIXED + 26, ALG.SHA384], // CONTEXT_HASH
    [PT_FIXED + 27, ALG.AES], // CONTEXT_SYM
    [PT_FIXED + 28, 0x100], // CONTEXT_SYM_SIZE
    [PT_FIXED + 29, 0xff], // ORDERLY_COUNT
    [PT_FIXED + 30, 0x1000], // MAX_COMMAND_SIZE
    [PT_FIXED + 31, 0x1000], // MAX_RESPONSE_SIZE
    [PT_FIXED + 32, 0x40], // MAX_DIGEST
    [PT_FIXED + 33, 0xa84], // MAX_OBJECT_CONTEXT
    [PT_FIXED + 34, 0x194], // MAX_SESSION_CONTEXT
    [PT_FIXED + 35, ascii4('2.0\0')], // PS_FAMILY_INDICATOR
    [PT_FIXED + 36, 0], // PS_LEVEL
    [PT_FIXED + 37, 164], // PS_REVISION
    [PT_FIXED + 38, 75], // PS_DAY_OF_YEAR
    [PT_FIXED + 39, 2021], // PS_YEAR
    [PT_FIXED + 40, 0x80], // SPLIT_MAX
    [PT_FIXED + 41, COMMANDS.length], // TOTAL_COMMANDS
    [PT_FIXED + 42, COMMANDS.length], // LIBRARY_COMMANDS
    [PT_FIXED + 43, 0], // VENDOR_COMMANDS
    [PT_FIXED + 44, 0x400], // NV_BUFFER_MAX
    [PT_FIXED + 45, 0], // MODES
    [PT_FIXED + 46, 0x400], // MAX_CAP_BUFFER
  ];
}

/** TPM_NT_COUNTER in bits 4–7 of TPMA_NV. */
const NT_COUNTER = 0x1;

function variableProperties(ctx: TpmContext): Array<[number, number]> {
  const loaded = ctx.vol.objects.length + ctx.vol.sequences.length;
  const sessions = ctx.vol.sessions.length;
  const counters = ctx.perm.nvIndices.filter((n) => ((n.attributes >>> 4) & 0xf) === NT_COUNTER).length;
  return [
    [PT_VAR + 0, 0x400], // PERMANENT: tpmGeneratedEPS
    [PT_VAR + 1, 0x8000000f], // STARTUP_CLEAR: phEnable, shEnable, ehEnable, phEnableNV, orderly
    [PT_VAR + 2, ctx.perm.nvIndices.length], // HR_NV_INDEX
    // HR_LOADED counts sessions, not objects (observed from swtpm 0.7.1: 0 with a primary key loaded).
    [PT_VAR + 3, sessions], // HR_LOADED
    [PT_VAR + 4, MAX_LOADED_SESSIONS - sessions], // HR_LOADED_AVAIL
    [PT_VAR + 5, sessions], // HR_ACTIVE (no session is ever saved here)
    [PT_VAR + 6, MAX_ACTIVE_SESSIONS - sessions], // HR_ACTIVE_AVAIL
    [PT_VAR + 7, MAX_LOADED_OBJECTS - loaded], // HR_TRANSIENT_AVAIL
    [PT_VAR + 8, 0], // HR_PERSISTENT
    [PT_VAR + 9, 0x41], // HR_PERSISTENT_AVAIL
    [PT_VAR + 10, counters], // NV_COUNTERS
    [PT_VAR + 11, 0x19], // NV_COUNTERS_AVAIL
    [PT_VAR + 12, 0], // ALGORITHM_SET
    [PT_VAR + 13, 1], // LOADED_CURVES
    [PT_VAR + 14, 0], // LOCKOUT_COUNTER
    [PT_VAR + 15, 3], // MAX_AUTH_FAIL
    [PT_VAR + 16, 1000], // LOCKOUT_INTERVAL
    [PT_VAR + 17, 1000], // LOCKOUT_RECOVERY
    [PT_VAR + 18, 0], // NV_WRITE_RECOVERY
    [PT_VAR + 19, 0], // AUDIT_COUNTER_0
    [PT_VAR + 20, 0], // AUDIT_COUNTER_1
  ];
}

const PERMANENT_HANDLES = [RH.OWNER, RH.NULL, RH.PW, RH.LOCKOUT, RH.ENDORSEMENT, RH.PLATFORM, RH.PLATFORM_NV];

function handlesOfType(ctx: TpmContext, type: number): number[] | undefined {
  switch (type) {
    case HT.PCR:
      return Array.from({ length: PCR_COUNT }, (_, i) => i);
    case HT.NV_INDEX:
      return ctx.perm.nvIndices.map((n) => n.handle);
    case HT.TRANSIENT:
      return [...ctx.vol.objects, ...ctx.vol.sequences].map((o) => o.handle).sort((a, b) => a - b);
    case HT.PERMANENT:
      return PERMANENT_HANDLES;
    case HT.HMAC_SESSION:
      return ctx.vol.sessions.map((s) => s.handle).sort((a, b) => a - b);
    case HT.PERSISTENT:
    case HT.POLICY_SESSION:
      return [];
    default:
      return undefined;
  }
}

/** Writes up to `count` items at or above `from`; moreData when items remain (or count was 0). */
function page<T>(items: readonly T[], key: (t: T) => number, from: number, count: number, max: number) {
  const eligible = items.filter((t) => key(t) >>> 0 >= from >>> 0);
  const n = Math.min(count, max, eligible.length);
  return { selected: eligible.slice(0, n), moreData: eligible.length > n };
}

interface CapRequest {
  capability: number;
  property: number;
  count: number;
}

function writeCapability(ctx: TpmContext, w: TpmWriter, req: CapRequest): void {
  const { capability, property, count } = req;
  switch (capability) {
    case CAP.ALGS: {
      const { selected, moreData } = page(ALGORITHMS, (a) => a[0], property & 0xffff, count, MAX_CAP_ALGS);
      w.u8(moreData ? 1 : 0)
        .u32(capability)
        .u32(selected.length);
      for (const [alg, attrs] of selected) w.u16(alg).u32(attrs);
      return;
    }
    case CAP.HANDLES: {
      const handles = handlesOfType(ctx, property >>> 24);
      if (!handles)
        throw new TpmError(rcParam(RC.HANDLE, 2), `no handle type 0x${(property >>> 24).toString(16)}`);
      const { selected, moreData } = page(handles, (h) => h, property, count, MAX_CAP_HANDLES);
      w.u8(moreData ? 1 : 0)
        .u32(capability)
        .u32(selected.length);
      for (const h of selected) w.u32(h);
      return;
    }
    case CAP.COMMANDS: {
      const { selected, moreData } = page(COMMANDS, (c) => c.code, property, count, MAX_CAP_CC);
      w.u8(moreData ? 1 : 0)
        .u32(capability)
        .u32(selected.length);
      for (const c of selected) w.u32(tpmaCc(c));
      return;
    }
    case CAP.PCRS: {
      // All banks are allocated with all 24 PCRs; moreData is always NO.
      w.u8(0).u32(capability).u32(PCR_BANKS.length);
      for (const bank of PCR_BANKS) w.u16(hashByName(bank).alg).u8(3).u8(0xff).u8(0xff).u8(0xff);
      return;
    }
    case CAP.TPM_PROPERTIES: {
      // The request never crosses from the fixed group into the variable group.
      const group =
        property < PT_VAR ? fixedProperties() : property < PT_VAR + 0x100 ? variableProperties(ctx) : [];
      const from = Math.max(property, property < PT_FIXED ? PT_FIXED : property);
      const { selected, moreData } = page(group, (p) => p[0], from, count, MAX_TPM_PROPERTIES);
      w.u8(moreData ? 1 : 0)
        .u32(capability)
        .u32(selected.length);
      for (const [p, v] of selected) w.u32(p).u32(v);
      return;
    }
    case CAP.ECC_CURVES: {
      const { selected, moreData } = page(
        [ECC_CURVE.NIST_P256],
        (c) => c,
        property & 0xffff,
        count,
        MAX_ECC_CURVES,
      );
      w.u8(moreData ? 1 : 0)
        .u32(capability)
        .u32(selected.length);
      for (const c of selected) w.u16(c);
      return;
    }
    case CAP.PP_COMMANDS:
    case CAP.AUDIT_COMMANDS: {
      // No physical-presence or audited commands: an empty TPML_CC.
      w.u8(0).u32(capability).u32(0);
      return;
    }
    case CAP.PCR_PROPERTIES:
    case CAP.AUTH_POLICIES:
    case CAP.ACT: {
      // Empty TPML_TAGGED_PCR_PROPERTY / TPML_TAGGED_POLICY / TPML_ACT_DATA.
      w.u8(0).u32(capability).u32(0);
      return;
    }
    default:
      throw new TpmError(rcParam(RC.VALUE, 1), `capability 0x${capability.toString(16)}`);
  }
}

export const GetCapability = defineCommand({
  code: CC.GetCapability,
  name: 'GetCapability',
  handles: [],
  duration: 'medium',
  parse: (r): CapRequest => ({
    capability: param(1, () => r.u32()),
    property: param(2, () => r.u32()),
    count: param(3, () => r.u32()),
  }),
  run: (ctx, call, req) => writeCapability(ctx, call.out, req),
});
