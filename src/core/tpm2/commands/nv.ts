// The NV commands (TPM 2.0 Part 3 §31): NV_DefineSpace, NV_UndefineSpace, NV_ReadPublic, NV_Write, NV_Read
// and NV_Increment, with the checks and their order as libtpms 0.9 (NVCommands.c, NV_spt.c, NVDynamic.c)
// and the codes swtpm 0.7.1 answers. Every check runs before anything changes, so a refused command leaves
// the state as it was.
import { defineCommand, param, type CommandSpec } from '../command';
import { CC, RH } from '../constants';
import type { TpmContext } from '../context';
import { trimAuth } from '../auth';
import { hashByAlg } from '../hash';
import {
  hasAttr,
  MAX_NV_BUFFER_SIZE,
  marshalNvPublic2b,
  NT,
  nvName,
  nvPublicOf,
  nvType,
  TPMA_NV,
  unmarshalNvPublic2b,
  withAttr,
} from '../nv-public';
import { RC, rcHandle, rcParam, TpmError } from '../rc';
import type { NvIndex } from '../state';

/** sizeof(TPMU_HA) with SHA-512 compiled in: the capacity of TPM2B_AUTH. */
const MAX_AUTH_BUFFER = 64;

// ---- NV space ------------------------------------------------------------------------------------------
// libtpms keeps indices in one list in its NV memory; each entry costs a 4-byte link plus sizeof(NV_INDEX)
// (the public area and authValue, 148 bytes) plus the data unless the index is ORDERLY (its data lives in
// a 512-byte RAM area instead, 12 header bytes per index). A new non-counter index must also leave room
// for MIN_COUNTER_INDICES counters. The numbers below reproduce swtpm 0.7.1 on an empty NV exactly:
// 68 indices of 2048 bytes fit and then one of at most 1900; 997 of 0 bytes; 955 counters; one ORDERLY
// index of at most 500 bytes (observed by defining indices until TPM_RC_NV_SPACE).

/** Free bytes of libtpms' NV for indices, after its own reservations (list end, minimum evict objects). */
export const NV_INDEX_SPACE = 152_932;
/** The 4-byte link plus sizeof(NV_INDEX) that every index costs besides its data. */
export const NV_INDEX_OVERHEAD = 152;
const MIN_COUNTER_INDICES = 8;
const NV_INDEX_COUNTER_SIZE = NV_INDEX_OVERHEAD + 8;
/** RAM for the data of ORDERLY indices (libtpms RAM_INDEX_SPACE) and the header each one takes there. */
export const NV_RAM_INDEX_SPACE = 512;
const NV_RAM_HEADER_SIZE = 12;
/** The low bits of an ORDERLY counter that are set after a non-orderly shutdown (libtpms MAX_ORDERLY_COUNT). */
const MAX_ORDERLY_COUNT = 0xffn;
const U64_MASK = (1n << 64n) - 1n;

function isOrderly(index: NvIndex): boolean {
  return hasAttr(index.attributes, TPMA_NV.ORDERLY);
}

function nvBytesUsed(ctx: TpmContext): number {
  return ctx.perm.nvIndices.reduce(
    (sum, n) => sum + NV_INDEX_OVERHEAD + (isOrderly(n) ? 0 : n.data.length),
    0,
  );
}

function ramBytesUsed(ctx: TpmContext): number {
  return ctx.perm.nvIndices.reduce(
    (sum, n) => sum + (isOrderly(n) ? NV_RAM_HEADER_SIZE + n.data.length : 0),
    0,
  );
}

function counterCount(ctx: TpmContext): number {
  return ctx.perm.nvIndices.filter((n) => nvType(n.attributes) === NT.COUNTER).length;
}

/** NvDefineIndex's space test (NvTestSpace and NvRamTestSpaceIndex). */
function hasSpaceFor(ctx: TpmContext, attributes: number, dataSize: number): boolean {
  const orderly = hasAttr(attributes, TPMA_NV.ORDERLY);
  const isCounter = nvType(attributes) === NT.COUNTER;
  const entry = NV_INDEX_OVERHEAD + (orderly ? 0 : dataSize);
  const reserve = isCounter
    ? 0
    : Math.max(0, MIN_COUNTER_INDICES - counterCount(ctx)) * NV_INDEX_COUNTER_SIZE;
  if (nvBytesUsed(ctx) + entry + reserve > NV_INDEX_SPACE) return false;
  return !orderly || ramBytesUsed(ctx) + NV_RAM_HEADER_SIZE + dataSize <= NV_RAM_INDEX_SPACE;
}

// ---- shared checks (NV_spt.c) --------------------------------------------------------------------------

function nvIndexOf(ctx: TpmContext, handle: number): NvIndex {
  const index = ctx.findNv(handle);
  // The dispatcher already refused an undefined index (TPM_RC_HANDLE).
  if (!index) throw new TpmError(RC.FAILURE, `NV index 0x${handle.toString(16)} vanished`);
  return index;
}

/** NvWriteAccessChecks: TPM_RC_NV_LOCKED, or TPM_RC_NV_AUTHORIZATION when authHandle may not write. */
function writeAccessChecks(authHandle: number, index: NvIndex): void {
  const a = index.attributes;
  if (hasAttr(a, TPMA_NV.WRITELOCKED)) throw new TpmError(RC.NV_LOCKED, 'index is write locked');
  if (authHandle === RH.OWNER) {
    if (!hasAttr(a, TPMA_NV.OWNERWRITE))
      throw new TpmError(RC.NV_AUTHORIZATION, 'TPMA_NV_OWNERWRITE is clear');
  } else if (authHandle === RH.PLATFORM) {
    if (!hasAttr(a, TPMA_NV.PPWRITE)) throw new TpmError(RC.NV_AUTHORIZATION, 'TPMA_NV_PPWRITE is clear');
  } else if (authHandle !== index.handle) {
    throw new TpmError(RC.NV_AUTHORIZATION, 'another index cannot authorize this write');
  }
}

/** NvReadAccessChecks: as the write checks, then TPM_RC_NV_UNINITIALIZED for an index never written. */
function readAccessChecks(authHandle: number, index: NvIndex): void {
  const a = index.attributes;
  if (hasAttr(a, TPMA_NV.READLOCKED)) throw new TpmError(RC.NV_LOCKED, 'index is read locked');
  if (authHandle === RH.OWNER) {
    if (!hasAttr(a, TPMA_NV.OWNERREAD)) throw new TpmError(RC.NV_AUTHORIZATION, 'TPMA_NV_OWNERREAD is clear');
  } else if (authHandle === RH.PLATFORM) {
    if (!hasAttr(a, TPMA_NV.PPREAD)) throw new TpmError(RC.NV_AUTHORIZATION, 'TPMA_NV_PPREAD is clear');
  } else if (authHandle !== index.handle) {
    throw new TpmError(RC.NV_AUTHORIZATION, 'another index cannot authorize this read');
  }
  if (!hasAttr(a, TPMA_NV.WRITTEN)) throw new TpmError(RC.NV_UNINITIALIZED, 'index has not been written');
}

/**
 * NvWriteIndexData: the first write sets TPMA_NV_WRITTEN and, for an ordinary index, first erases the whole
 * data area — to 0xff in NV (libtpms' erased flash, observed from swtpm 0.7.1 after a partial first write)
 * and to zeros for an ORDERLY index, whose data lives in RAM.
 */
function writeIndexData(index: NvIndex, offset: number, bytes: Uint8Array): void {
  if (!hasAttr(index.attributes, TPMA_NV.WRITTEN)) {
    index.attributes = withAttr(index.attributes, TPMA_NV.WRITTEN, true);
    if (nvType(index.attributes) === NT.ORDINARY) {
      if (isOrderly(index)) index.data.fill(0x00);
      else if (index.data.length > bytes.length) index.data.fill(0xff);
    }
  }
  index.data.set(bytes, offset);
}

function readU64(data: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(data[i] ?? 0);
  return v;
}

function u64Bytes(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The highest value any deleted counter had (libtpms s_maxCounter, kept in NV's end-of-list marker). */
function maxCounter(ctx: TpmContext): bigint {
  return BigInt(ctx.perm.nvMaxCounter);
}

// ---- commands ------------------------------------------------------------------------------------------

export const NV_DefineSpace = defineCommand({
  code: CC.NV_DefineSpace,
  name: 'NV_DefineSpace',
  handles: [{ kind: 'provision', auth: true }],
  duration: 'long',
  parse: (r) => ({
    auth: param(1, () => r.tpm2b(MAX_AUTH_BUFFER)),
    pub: param(2, () => unmarshalNvPublic2b(r)),
  }),
  run(ctx, call, { auth, pub }) {
    const authHandle = call.handles[0]!;
    const a = pub.attributes;
    const nameSize = hashByAlg(pub.nameAlg)!.digestSize;
    const badAttributes = (why: string): never => {
      throw new TpmError(rcParam(RC.ATTRIBUTES, 2), why);
    };
    const badSize = (why: string): never => {
      throw new TpmError(rcParam(RC.SIZE, 2), why);
    };
    // libtpms implements NV_UndefineSpaceSpecial, so TPMA_NV_POLICY_DELETE is not refused here.
    if (pub.authPolicy.length !== 0 && pub.authPolicy.length !== nameSize) {
      badSize(`authPolicy of ${pub.authPolicy.length} bytes for a ${nameSize}-byte nameAlg`);
    }
    const authValue = trimAuth(auth);
    if (authValue.length > nameSize) {
      throw new TpmError(
        rcParam(RC.SIZE, 1),
        `authValue of ${authValue.length} bytes exceeds the nameAlg size`,
      );
    }
    const type = nvType(a);
    const known: number[] = [NT.ORDINARY, NT.COUNTER, NT.BITS, NT.EXTEND, NT.PIN_FAIL, NT.PIN_PASS];
    if (!known.includes(type)) badAttributes(`TPM_NT ${type} is not supported`);
    // The ordinary maximum (MAX_NV_INDEX_SIZE) was checked while unmarshalling.
    if (type === NT.EXTEND && pub.dataSize !== nameSize) badSize('an extend index is one digest of nameAlg');
    if (type !== NT.ORDINARY && type !== NT.EXTEND && pub.dataSize !== 8)
      badSize('this index type holds 8 bytes');
    if (type === NT.COUNTER && hasAttr(a, TPMA_NV.CLEAR_STCLEAR))
      badAttributes('a counter cannot be CLEAR_STCLEAR');
    if (type === NT.PIN_FAIL && !hasAttr(a, TPMA_NV.NO_DA)) badAttributes('a PIN fail index needs NO_DA');
    if (
      (type === NT.PIN_FAIL || type === NT.PIN_PASS) &&
      (hasAttr(a, TPMA_NV.AUTHWRITE) || hasAttr(a, TPMA_NV.GLOBALLOCK) || hasAttr(a, TPMA_NV.WRITEDEFINE))
    ) {
      badAttributes('a PIN index cannot have AUTHWRITE, GLOBALLOCK or WRITEDEFINE');
    }
    if (hasAttr(a, TPMA_NV.WRITTEN) || hasAttr(a, TPMA_NV.WRITELOCKED) || hasAttr(a, TPMA_NV.READLOCKED)) {
      badAttributes('WRITTEN, WRITELOCKED and READLOCKED cannot be set by the caller');
    }
    const readBits = TPMA_NV.OWNERREAD | TPMA_NV.PPREAD | TPMA_NV.AUTHREAD | TPMA_NV.POLICYREAD;
    const writeBits = TPMA_NV.OWNERWRITE | TPMA_NV.PPWRITE | TPMA_NV.AUTHWRITE | TPMA_NV.POLICYWRITE;
    if (!hasAttr(a, readBits)) badAttributes('no way to read the index');
    if (!hasAttr(a, writeBits)) badAttributes('no way to write the index');
    if (hasAttr(a, TPMA_NV.CLEAR_STCLEAR) && hasAttr(a, TPMA_NV.WRITEDEFINE)) {
      badAttributes('CLEAR_STCLEAR with WRITEDEFINE');
    }
    if (hasAttr(a, TPMA_NV.PLATFORMCREATE) !== (authHandle === RH.PLATFORM)) {
      throw new TpmError(rcHandle(RC.ATTRIBUTES, 1), 'TPMA_NV_PLATFORMCREATE does not match the hierarchy');
    }
    if (hasAttr(a, TPMA_NV.POLICY_DELETE) && authHandle !== RH.PLATFORM) {
      badAttributes('only the platform can define a POLICY_DELETE index');
    }
    if (pub.dataSize > MAX_NV_BUFFER_SIZE && hasAttr(a, TPMA_NV.WRITEALL)) {
      badSize('WRITEALL on an index larger than one NV buffer');
    }
    if (ctx.findNv(pub.nvIndex)) throw new TpmError(RC.NV_DEFINED, 'index is already defined');
    if (!hasSpaceFor(ctx, a, pub.dataSize)) throw new TpmError(RC.NV_SPACE, 'not enough NV space');
    const index: NvIndex = {
      handle: pub.nvIndex,
      nameAlg: pub.nameAlg,
      attributes: a >>> 0,
      authPolicy: pub.authPolicy.slice(),
      authValue: authValue.slice(),
      // Never readable before the first write, which erases it (writeIndexData).
      data: new Uint8Array(pub.dataSize).fill(hasAttr(a, TPMA_NV.ORDERLY) ? 0x00 : 0xff),
    };
    const list = ctx.perm.nvIndices;
    const at = list.findIndex((n) => n.handle > index.handle);
    list.splice(at < 0 ? list.length : at, 0, index);
  },
});

export const NV_UndefineSpace = defineCommand({
  code: CC.NV_UndefineSpace,
  name: 'NV_UndefineSpace',
  handles: [
    { kind: 'provision', auth: true },
    { kind: 'nvIndex', auth: false },
  ],
  duration: 'long',
  parse: () => undefined,
  run(ctx, call) {
    const [authHandle, nvHandle] = call.handles as [number, number];
    const index = nvIndexOf(ctx, nvHandle);
    if (hasAttr(index.attributes, TPMA_NV.POLICY_DELETE)) {
      throw new TpmError(rcHandle(RC.ATTRIBUTES, 2), 'a POLICY_DELETE index needs NV_UndefineSpaceSpecial');
    }
    if (authHandle === RH.OWNER && hasAttr(index.attributes, TPMA_NV.PLATFORMCREATE)) {
      throw new TpmError(RC.NV_AUTHORIZATION, 'the owner cannot delete a platform index');
    }
    // A deleted counter raises the floor for counters defined later (NvDeleteIndex / NvUpdateMaxCount).
    if (nvType(index.attributes) === NT.COUNTER && hasAttr(index.attributes, TPMA_NV.WRITTEN)) {
      const value = readU64(index.data);
      if (value > maxCounter(ctx)) ctx.perm.nvMaxCounter = value.toString();
    }
    ctx.perm.nvIndices = ctx.perm.nvIndices.filter((n) => n !== index);
  },
});

export const NV_ReadPublic = defineCommand({
  code: CC.NV_ReadPublic,
  name: 'NV_ReadPublic',
  handles: [{ kind: 'nvIndex', auth: false }],
  duration: 'short',
  parse: () => undefined,
  run(ctx, call) {
    const pub = nvPublicOf(nvIndexOf(ctx, call.handles[0]!));
    marshalNvPublic2b(call.out, pub);
    call.out.tpm2b(nvName(pub));
  },
});

export const NV_Write = defineCommand({
  code: CC.NV_Write,
  name: 'NV_Write',
  handles: [
    { kind: 'nvAuth', auth: true },
    { kind: 'nvIndex', auth: false },
  ],
  nvWrite: true,
  duration: 'long',
  parse: (r) => ({
    data: param(1, () => r.tpm2b(MAX_NV_BUFFER_SIZE)),
    offset: param(2, () => r.u16()),
  }),
  run(ctx, call, { data, offset }) {
    const [authHandle, nvHandle] = call.handles as [number, number];
    const index = nvIndexOf(ctx, nvHandle);
    writeAccessChecks(authHandle, index);
    const type = nvType(index.attributes);
    if (type === NT.COUNTER || type === NT.BITS || type === NT.EXTEND) {
      // Bare TPM_RC_ATTRIBUTES, without a handle number (observed from swtpm 0.7.1: 0x082).
      throw new TpmError(RC.ATTRIBUTES, 'counter, bits and extend indices are not written with NV_Write');
    }
    const size = index.data.length;
    if (offset > size)
      throw new TpmError(rcParam(RC.VALUE, 2), `offset ${offset} beyond the ${size}-byte index`);
    if (data.length > size - offset) throw new TpmError(RC.NV_RANGE, 'write runs past the end of the index');
    if (hasAttr(index.attributes, TPMA_NV.WRITEALL) && data.length < size) {
      throw new TpmError(RC.NV_RANGE, 'TPMA_NV_WRITEALL needs the whole index in one write');
    }
    writeIndexData(index, offset, data);
  },
});

export const NV_Read = defineCommand({
  code: CC.NV_Read,
  name: 'NV_Read',
  handles: [
    { kind: 'nvAuth', auth: true },
    { kind: 'nvIndex', auth: false },
  ],
  duration: 'long',
  parse: (r) => ({
    size: param(1, () => r.u16()),
    offset: param(2, () => r.u16()),
  }),
  run(ctx, call, { size, offset }) {
    const [authHandle, nvHandle] = call.handles as [number, number];
    const index = nvIndexOf(ctx, nvHandle);
    readAccessChecks(authHandle, index);
    if (size > MAX_NV_BUFFER_SIZE)
      throw new TpmError(rcParam(RC.VALUE, 1), `size ${size} > ${MAX_NV_BUFFER_SIZE}`);
    const dataSize = index.data.length;
    if (offset > dataSize) throw new TpmError(rcParam(RC.VALUE, 2), `offset ${offset} beyond the index`);
    if (size > dataSize - offset) throw new TpmError(RC.NV_RANGE, 'read runs past the end of the index');
    // Counters, bit fields and PIN indices are kept big-endian, so they read as their 8-byte value.
    call.out.tpm2b(index.data.subarray(offset, offset + size));
  },
});

export const NV_Increment = defineCommand({
  code: CC.NV_Increment,
  name: 'NV_Increment',
  handles: [
    { kind: 'nvAuth', auth: true },
    { kind: 'nvIndex', auth: false },
  ],
  nvWrite: true,
  duration: 'long',
  parse: () => undefined,
  run(ctx, call) {
    const [authHandle, nvHandle] = call.handles as [number, number];
    const index = nvIndexOf(ctx, nvHandle);
    writeAccessChecks(authHandle, index);
    if (nvType(index.attributes) !== NT.COUNTER) {
      throw new TpmError(rcHandle(RC.ATTRIBUTES, 2), 'NV_Increment needs a counter index');
    }
    // A counter never written starts from the highest value any deleted counter reached, so a counter
    // can never be rolled back by deleting and redefining it.
    const current = hasAttr(index.attributes, TPMA_NV.WRITTEN) ? readU64(index.data) : maxCounter(ctx);
    writeIndexData(index, 0, u64Bytes((current + 1n) & U64_MASK));
  },
});

export const NV_COMMANDS: readonly CommandSpec[] = [
  NV_DefineSpace,
  NV_UndefineSpace,
  NV_ReadPublic,
  NV_Write,
  NV_Read,
  NV_Increment,
];

/**
 * NvEntityStartup: what TPM2_Startup does to NV indices. A TPM Resume changes nothing. A TPM Reset or
 * Restart clears READLOCKED; makes a non-counter index unwritten if it is CLEAR_STCLEAR, or ORDERLY on a
 * TPM Reset; clears WRITELOCKED unless the index is written and WRITEDEFINE; and after a shutdown that was
 * not orderly sets the low bits of every ORDERLY counter (its latest value may not have reached NV).
 * The caller is TPM2_Startup.
 */
export function nvStartup(
  ctx: TpmContext,
  kind: 'reset' | 'restart' | 'resume',
  orderlyBefore: boolean,
): void {
  if (kind === 'resume') return;
  for (const index of ctx.perm.nvIndices) {
    let a = withAttr(index.attributes, TPMA_NV.READLOCKED, false);
    const counter = nvType(a) === NT.COUNTER;
    if (
      !counter &&
      (hasAttr(a, TPMA_NV.CLEAR_STCLEAR) || (hasAttr(a, TPMA_NV.ORDERLY) && kind === 'reset'))
    ) {
      a = withAttr(a, TPMA_NV.WRITTEN, false);
    }
    if (!hasAttr(a, TPMA_NV.WRITTEN) || !hasAttr(a, TPMA_NV.WRITEDEFINE))
      a = withAttr(a, TPMA_NV.WRITELOCKED, false);
    index.attributes = a;
    if (counter && hasAttr(a, TPMA_NV.ORDERLY) && !orderlyBefore) {
      index.data.set(u64Bytes(readU64(index.data) | MAX_ORDERLY_COUNT));
    }
  }
}
