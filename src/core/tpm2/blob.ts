// State blobs: the engine's state as bytes, in the roles of libtpms' TPMLIB_GetState/TPMLIB_SetState
// blobs, which swtpm stores (tpm2-00.permall, tpm2-00.volatilestate) and moves during migration
// (CMD_GET_STATEBLOB / CMD_SET_STATEBLOB, see src/core/swtpm).
//
//   header (12 bytes): magic u32 (one per blob type) | format version u16 | flags u16 (0) | body length u32
//   body:              canonical JSON (stableStringify) of a plain form of the state; bytes as lowercase hex
//   trailer:           SHA-256 over header || body (32 bytes)
//
// - permanent: PermanentState plus the Shutdown(STATE) data. A TPM 2.0 keeps that data in NV, so it
//   travels with the permanent state: libtpms has no separate save-state blob for a TPM 2.0 (swtpm 0.7.1
//   answers GET_STATEBLOB SAVESTATE with TPM_RETRY and no data, and refuses a non-empty one).
// - volatile: VolatileState, the DRBG's working state, the Startup flag and the virtual time, plus the
//   platform state libtpms keeps beside the command engine (TPM established bit, a DRTM sequence in
//   progress, an H-CRTM event before Startup), so a restored TPM continues exactly where it was: the
//   same next random bytes, PCRs, loaded objects and sequences.
// - savestate: the Shutdown(STATE) data alone; zero bytes when there is none.
//
// parseBlob checks everything (size, magic, version, hash, then every field) and builds the new state
// without touching any context; applyBlob then installs it. A refused blob therefore changes nothing.
import { HmacDrbg, type DrbgState } from '../kernel/drbg';
import { stableStringify, type JsonValue } from '../kernel/json';
import { MAX_LOADED_OBJECTS, MAX_LOADED_SESSIONS, PCR_BANKS, PCR_COUNT, PRIMARY_SEED_SIZE } from './state';
import type {
  AuthSession,
  HashSequence,
  LoadedObject,
  NvIndex,
  PermanentState,
  SaveState,
  VolatileState,
} from './state';
import type { TpmContext } from './context';
import { hashByName, type HashAlgName } from './hash';
import { sha256Bytes as sha256 } from '../kernel/sha256';
import { hexToBytes } from '@noble/hashes/utils.js';

export type BlobType = 'permanent' | 'volatile' | 'savestate';

export const BLOB_FORMAT_VERSION = 1;
export const BLOB_HEADER_SIZE = 12;
export const BLOB_HASH_SIZE = 32;

/** Magic numbers, ASCII "TLPM", "TLVS", "TLSS" (TIS Lab permanent / volatile / save state). */
export const BLOB_MAGIC: Readonly<Record<BlobType, number>> = {
  permanent: 0x544c504d,
  volatile: 0x544c5653,
  savestate: 0x544c5353,
};

const TYPE_NAME: Readonly<Record<BlobType, string>> = {
  permanent: 'permanent-state',
  volatile: 'volatile-state',
  savestate: 'save-state',
};

export type BlobErrorKind = 'truncated' | 'oversized' | 'magic' | 'version' | 'flags' | 'hash' | 'shape';

/** A blob that cannot be applied. The message says what was wrong and what was expected. */
export class BlobError extends Error {
  constructor(
    readonly blobType: BlobType,
    readonly kind: BlobErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}

/**
 * State that libtpms keeps outside the command engine proper and saves in its volatile state: the TPM
 * established bit, the data of a DRTM sequence between _TPM_Hash_Start and _TPM_Hash_End, and whether an
 * H-CRTM sequence ran before TPM2_Startup (g_DrtmPreStartup). The swtpm device owns these.
 */
export interface PlatformState {
  tpmEstablished: boolean;
  /** All data hashed so far by the DRTM sequence in progress, or null when none is in progress. */
  drtmData: Uint8Array | null;
  hcrtmPending: boolean;
}

export interface ParsedPermanent {
  type: 'permanent';
  perm: PermanentState;
  saved: SaveState | null;
}

export interface ParsedVolatile {
  type: 'volatile';
  vol: VolatileState;
  drbg: DrbgState;
  started: boolean;
  nowNs: number;
  startedAtNs: number;
  platform: PlatformState;
}

export interface ParsedSaveState {
  type: 'savestate';
  saved: SaveState | null;
}

export type ParsedBlob = ParsedPermanent | ParsedVolatile | ParsedSaveState;
export type ParsedBlobOf<T extends BlobType> = Extract<ParsedBlob, { type: T }>;

// ---- field codecs: every decoder checks type and range and names the path of what is wrong ----------

class ShapeProblem extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

interface Codec<T> {
  enc(value: T): JsonValue;
  dec(json: unknown, path: string): T;
}

function describe(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return `an array of ${json.length}`;
  if (typeof json === 'string')
    return json.length > 24 ? `a string of ${json.length} characters` : JSON.stringify(json);
  if (typeof json === 'object') return 'an object';
  return `${typeof json} ${String(json)}`;
}

const HEX = /^(?:[0-9a-f]{2})*$/;

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX_BYTE[b]!;
  return s;
}

function fromHexChecked(s: string): Uint8Array {
  // Checked by HEX already: noble's table-driven decoder, several times faster than parseInt per pair.
  return hexToBytes(s);
}

/** Bytes as lowercase hex; `size` is an exact byte count or a maximum. */
function bytes(size: { exact: number } | { max: number }): Codec<Uint8Array> {
  const want =
    'exact' in size
      ? `${size.exact * 2} lowercase hex digits (${size.exact} bytes)`
      : `lowercase hex of at most ${size.max} bytes`;
  return {
    enc: (v) => toHex(v),
    dec(json, path) {
      if (typeof json !== 'string' || !HEX.test(json))
        throw new ShapeProblem(path, `expected ${want}, got ${describe(json)}`);
      const n = json.length / 2;
      if ('exact' in size ? n !== size.exact : n > size.max) {
        throw new ShapeProblem(path, `expected ${want}, got ${n} bytes`);
      }
      return fromHexChecked(json);
    },
  };
}

function integer(min: number, max: number): Codec<number> {
  return {
    enc: (v) => v,
    dec(json, path) {
      if (typeof json !== 'number' || !Number.isSafeInteger(json) || json < min || json > max) {
        throw new ShapeProblem(path, `expected an integer in [${min}, ${max}], got ${describe(json)}`);
      }
      return json;
    },
  };
}

const u16 = integer(0, 0xffff);
const u32 = integer(0, 0xffff_ffff);
const safeUint = integer(0, Number.MAX_SAFE_INTEGER);

const bool: Codec<boolean> = {
  enc: (v) => v,
  dec(json, path) {
    if (typeof json !== 'boolean')
      throw new ShapeProblem(path, `expected true or false, got ${describe(json)}`);
    return json;
  },
};

function list<T>(item: Codec<T>, count: { exact: number } | { max: number }): Codec<T[]> {
  const want = 'exact' in count ? `exactly ${count.exact}` : `at most ${count.max}`;
  return {
    enc: (v) => v.map((x) => item.enc(x)),
    dec(json, path) {
      if (!Array.isArray(json))
        throw new ShapeProblem(path, `expected an array of ${want} entries, got ${describe(json)}`);
      if ('exact' in count ? json.length !== count.exact : json.length > count.max) {
        throw new ShapeProblem(path, `expected an array of ${want} entries, got ${json.length}`);
      }
      return json.map((x: unknown, i) => item.dec(x, `${path}[${i}]`));
    },
  };
}

/** An optional field: written as null when absent, and absent again after decoding. */
function optional<T>(inner: Codec<T>): Codec<T | undefined> {
  return {
    enc: (v) => (v === undefined ? null : inner.enc(v)),
    dec: (json, path) => (json === null ? undefined : inner.dec(json, path)),
  };
}

/** A UINT64 as a decimal string (JSON numbers are exact only to 2^53). */
const u64Decimal: Codec<string> = {
  enc: (v) => v,
  dec(json, path) {
    if (
      typeof json !== 'string' ||
      !/^(?:0|[1-9][0-9]{0,19})$/.test(json) ||
      BigInt(json) > 0xffff_ffff_ffff_ffffn
    ) {
      throw new ShapeProblem(path, `expected a decimal UINT64 string, got ${describe(json)}`);
    }
    return json;
  },
};

function nullable<T>(inner: Codec<T>): Codec<T | null> {
  return {
    enc: (v) => (v === null ? null : inner.enc(v)),
    dec: (json, path) => (json === null ? null : inner.dec(json, path)),
  };
}

type Fields<T> = { [K in keyof T]-?: Codec<T[K]> };

/**
 * A record with exactly these fields. `Fields<T>` needs a codec for every key of T, so a field added to
 * a state type fails to compile here until the blobs carry it.
 */
function record<T>(fields: Fields<T>): Codec<T> {
  const keys = Object.keys(fields) as (keyof T & string)[];
  return {
    enc(v) {
      const out: { [k: string]: JsonValue } = {};
      for (const k of keys) out[k] = fields[k].enc(v[k]);
      return out;
    },
    dec(json, path) {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new ShapeProblem(path, `expected an object, got ${describe(json)}`);
      }
      const obj = json as Record<string, unknown>;
      for (const k of Object.keys(obj)) {
        if (!Object.prototype.hasOwnProperty.call(fields, k)) {
          throw new ShapeProblem(path, `unexpected field "${k}" (expected only ${keys.join(', ')})`);
        }
      }
      const out = {} as T;
      for (const k of keys) {
        if (!Object.prototype.hasOwnProperty.call(obj, k))
          throw new ShapeProblem(path, `missing field "${k}"`);
        const value = fields[k].dec(obj[k], `${path}.${k}`);
        // An optional field that is absent stays absent rather than becoming an explicit undefined.
        if (value !== undefined) out[k] = value;
      }
      return out;
    },
  };
}

/** A check over a decoded value that the field codecs cannot express. */
function refine<T>(inner: Codec<T>, check: (v: T) => string | undefined): Codec<T> {
  return {
    enc: inner.enc,
    dec(json, path) {
      const v = inner.dec(json, path);
      const problem = check(v);
      if (problem !== undefined) throw new ShapeProblem(path, problem);
      return v;
    },
  };
}

// ---- the state types -----------------------------------------------------------------------------

/** TPM2B_AUTH / TPM2B_DIGEST capacity: sizeof(TPMU_HA), 64 with SHA-512 compiled into libtpms. */
const MAX_DIGEST_BYTES = 64;
const MAX_TPM2B_BYTES = 0xffff;
/** An upper bound for accumulated hash sequence data (the engine rehashes it on completion). */
const MAX_SEQUENCE_BYTES = 64 * 1024 * 1024;
const MAX_NV_INDICES = 4096;

const seed = bytes({ exact: PRIMARY_SEED_SIZE });
const auth = bytes({ max: MAX_DIGEST_BYTES });
const tpm2b = bytes({ max: MAX_TPM2B_BYTES });

const pcrBanks: Codec<Record<HashAlgName, Uint8Array[]>> = record(
  Object.fromEntries(
    PCR_BANKS.map((bank) => [
      bank,
      list(bytes({ exact: hashByName(bank).digestSize }), { exact: PCR_COUNT }),
    ]),
  ) as Fields<Record<HashAlgName, Uint8Array[]>>,
);

const nvIndex = record<NvIndex>({
  handle: u32,
  nameAlg: u16,
  attributes: u32,
  authPolicy: auth,
  authValue: auth,
  data: tpm2b,
});

const permanentState = record<PermanentState>({
  endorsementSeed: seed,
  storageSeed: seed,
  platformSeed: seed,
  ownerProof: seed,
  endorsementProof: seed,
  platformProof: seed,
  ownerAuth: auth,
  endorsementAuth: auth,
  lockoutAuth: auth,
  platformAuth: auth,
  nvIndices: refine(list(nvIndex, { max: MAX_NV_INDICES }), (v) =>
    new Set(v.map((n) => n.handle)).size === v.length ? undefined : 'two NV indices have the same handle',
  ),
  nvMaxCounter: u64Decimal,
  resetCount: u32,
  clockMs: safeUint,
  orderlyShutdown: integer(-1, 0xffff),
  tpmEstablished: bool,
});

const saveState = record<SaveState>({
  pcrs: pcrBanks,
  restartCount: u32,
  pcrUpdateCounter: u32,
  clockMs: safeUint,
});

const loadedObject = record<LoadedObject>({
  handle: u32,
  hierarchy: u32,
  publicArea: tpm2b,
  name: tpm2b,
  qualifiedName: tpm2b,
  authValue: auth,
  sensitive: tpm2b,
});

const hashSequence = record<HashSequence>({
  handle: u32,
  hashAlg: u16,
  authValue: auth,
  data: bytes({ max: MAX_SEQUENCE_BYTES }),
  ticketSafe: optional(bool),
});

const authSession = record<AuthSession>({
  handle: u32,
  authHash: u16,
  symAlgorithm: u16,
  symKeyBits: u16,
  symMode: u16,
  sessionKey: auth,
  nonceTPM: auth,
  bound: bool,
  boundName: auth,
  boundAuth: auth,
  daBound: bool,
});

const volatileState = refine(
  record<VolatileState>({
    pcrs: pcrBanks,
    restartCount: u32,
    objects: list(loadedObject, { max: MAX_LOADED_OBJECTS }),
    sequences: list(hashSequence, { max: MAX_LOADED_OBJECTS }),
    nullSeed: seed,
    nullProof: seed,
    selfTestDone: bool,
    pcrUpdateCounter: u32,
    sessions: refine(list(authSession, { max: MAX_LOADED_SESSIONS }), (v) =>
      new Set(v.map((x) => x.handle)).size === v.length ? undefined : 'two sessions have the same handle',
    ),
    objectContextId: safeUint,
  }),
  (v) => {
    const handles = [...v.objects, ...v.sequences].map((o) => o.handle);
    if (handles.length > MAX_LOADED_OBJECTS) {
      return `${handles.length} transient objects and sequences, but the TPM has only ${MAX_LOADED_OBJECTS} slots`;
    }
    if (new Set(handles).size !== handles.length)
      return 'two transient objects or sequences have the same handle';
    return undefined;
  },
);

const drbgState: Codec<DrbgState> = {
  enc: (v) => ({ k: v.k, v: v.v, reseedCounter: v.reseedCounter }),
  dec(json, path) {
    try {
      return HmacDrbg.restore(json).save();
    } catch (e) {
      throw new ShapeProblem(path, e instanceof Error ? e.message : String(e));
    }
  },
};

const platformState = record<PlatformState>({
  tpmEstablished: bool,
  drtmData: nullable(bytes({ max: MAX_SEQUENCE_BYTES })),
  hcrtmPending: bool,
});

interface PermanentBody {
  perm: PermanentState;
  saved: SaveState | null;
}

interface VolatileBody {
  vol: VolatileState;
  drbg: DrbgState;
  started: boolean;
  nowNs: number;
  startedAtNs: number;
  platform: PlatformState;
}

const permanentBody = record<PermanentBody>({ perm: permanentState, saved: nullable(saveState) });

const volatileBody = refine(
  record<VolatileBody>({
    vol: volatileState,
    drbg: drbgState,
    started: bool,
    nowNs: safeUint,
    startedAtNs: safeUint,
    platform: platformState,
  }),
  (v) =>
    v.startedAtNs <= v.nowNs ? undefined : `startedAtNs ${v.startedAtNs} is later than nowNs ${v.nowNs}`,
);

// ---- framing --------------------------------------------------------------------------------------

function frame(type: BlobType, body: JsonValue): Uint8Array {
  const text = new TextEncoder().encode(stableStringify(body));
  const out = new Uint8Array(BLOB_HEADER_SIZE + text.length + BLOB_HASH_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, BLOB_MAGIC[type]);
  view.setUint16(4, BLOB_FORMAT_VERSION);
  view.setUint16(6, 0);
  view.setUint32(8, text.length);
  out.set(text, BLOB_HEADER_SIZE);
  out.set(sha256(out.subarray(0, BLOB_HEADER_SIZE + text.length)), BLOB_HEADER_SIZE + text.length);
  return out;
}

function magicText(magic: number): string {
  const chars = [24, 16, 8, 0].map((s) => (magic >>> s) & 0xff);
  const printable = chars.every((c) => c >= 0x20 && c < 0x7f);
  const hex = `0x${magic.toString(16).padStart(8, '0')}`;
  return printable ? `${hex} "${String.fromCharCode(...chars)}"` : hex;
}

/** Checks size, magic, version, flags and hash; returns the JSON body. */
function unframe(type: BlobType, blob: Uint8Array): unknown {
  const name = TYPE_NAME[type];
  const minimum = BLOB_HEADER_SIZE + BLOB_HASH_SIZE;
  if (blob.length < 4) {
    throw new BlobError(
      type,
      'truncated',
      `truncated ${name} blob: ${blob.length} bytes, but a blob has at least ${minimum}`,
    );
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const magic = view.getUint32(0);
  if (magic !== BLOB_MAGIC[type]) {
    const other = (Object.keys(BLOB_MAGIC) as BlobType[]).find((t) => BLOB_MAGIC[t] === magic);
    const what = other ? `it is a ${TYPE_NAME[other]} blob` : `its magic is ${magicText(magic)}`;
    throw new BlobError(
      type,
      'magic',
      `not a ${name} blob: ${what}; expected magic ${magicText(BLOB_MAGIC[type])}`,
    );
  }
  if (blob.length < minimum) {
    throw new BlobError(
      type,
      'truncated',
      `truncated ${name} blob: ${blob.length} bytes, but a blob has at least ${minimum}`,
    );
  }
  const version = view.getUint16(4);
  if (version !== BLOB_FORMAT_VERSION) {
    throw new BlobError(
      type,
      'version',
      `${name} blob has format version ${version}, but this build reads format version ${BLOB_FORMAT_VERSION}`,
    );
  }
  const flags = view.getUint16(6);
  if (flags !== 0) {
    throw new BlobError(
      type,
      'flags',
      `${name} blob has flags 0x${flags.toString(16)}, but no flags are defined (expected 0)`,
    );
  }
  const bodyLength = view.getUint32(8);
  const expected = BLOB_HEADER_SIZE + bodyLength + BLOB_HASH_SIZE;
  if (blob.length < expected) {
    throw new BlobError(
      type,
      'truncated',
      `truncated ${name} blob: its header announces a ${bodyLength}-byte body, so it needs ${expected} bytes, but it has ${blob.length}`,
    );
  }
  if (blob.length > expected) {
    throw new BlobError(
      type,
      'oversized',
      `oversized ${name} blob: ${blob.length} bytes, ${blob.length - expected} more than the ${expected} its header announces`,
    );
  }
  const hash = sha256(blob.subarray(0, BLOB_HEADER_SIZE + bodyLength));
  const stored = blob.subarray(BLOB_HEADER_SIZE + bodyLength);
  if (!hash.every((b, i) => b === stored[i])) {
    throw new BlobError(
      type,
      'hash',
      `corrupt ${name} blob: the SHA-256 of header and body does not match the stored hash`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(
        blob.subarray(BLOB_HEADER_SIZE, BLOB_HEADER_SIZE + bodyLength),
      ),
    );
  } catch (e) {
    throw new BlobError(
      type,
      'shape',
      `${name} blob body is not UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return body;
}

function decodeBody<T>(type: BlobType, codec: Codec<T>, body: unknown): T {
  try {
    return codec.dec(body, '$');
  } catch (e) {
    if (e instanceof ShapeProblem) {
      throw new BlobError(type, 'shape', `malformed ${TYPE_NAME[type]} blob at ${e.path}: ${e.problem}`);
    }
    throw e;
  }
}

// ---- public API -----------------------------------------------------------------------------------

/** The platform state of a TPM that has none in progress. */
export function defaultPlatformState(ctx: TpmContext): PlatformState {
  return { tpmEstablished: ctx.perm.tpmEstablished, drtmData: null, hcrtmPending: false };
}

/**
 * The blob of one state part. `savestate` is empty (0 bytes) when there is no Shutdown(STATE) data.
 * `platform` (volatile only) is the device's platform state; it defaults to none in progress.
 */
export function getBlob(ctx: TpmContext, type: BlobType, platform?: PlatformState): Uint8Array {
  switch (type) {
    case 'permanent':
      return frame(type, permanentBody.enc({ perm: ctx.perm, saved: ctx.saved }));
    case 'volatile':
      return frame(
        type,
        volatileBody.enc({
          vol: ctx.vol,
          drbg: ctx.drbg.save(),
          started: ctx.started,
          nowNs: ctx.nowNs,
          startedAtNs: ctx.startedAtNs,
          platform: platform ?? defaultPlatformState(ctx),
        }),
      );
    case 'savestate':
      return ctx.saved === null ? new Uint8Array(0) : frame(type, saveState.enc(ctx.saved));
  }
}

/**
 * The canonical text of the permanent state (the permanent blob's body): cheaper than getBlob, for
 * noticing that NV changed (swtpm writes tpm2-00.permall only then).
 */
export function permanentStateText(ctx: TpmContext): string {
  return stableStringify(permanentBody.enc({ perm: ctx.perm, saved: ctx.saved }));
}

/** Validates a blob completely; throws BlobError. Nothing is applied. */
export function parseBlob<T extends BlobType>(type: T, blob: Uint8Array): ParsedBlobOf<T>;
export function parseBlob(type: BlobType, blob: Uint8Array): ParsedBlob {
  if (type === 'savestate' && blob.length === 0) return { type, saved: null };
  const body = unframe(type, blob);
  switch (type) {
    case 'permanent':
      return { type, ...decodeBody(type, permanentBody, body) };
    case 'volatile':
      return { type, ...decodeBody(type, volatileBody, body) };
    case 'savestate':
      return { type, saved: decodeBody(type, saveState, body) };
  }
}

/** Installs a parsed blob. The context gets its own copy, so one parsed blob can be applied twice. */
export function applyBlob(ctx: TpmContext, parsed: ParsedBlob): void {
  switch (parsed.type) {
    case 'permanent':
      ctx.perm = copyState(parsed.perm);
      ctx.saved = copyState(parsed.saved);
      return;
    case 'volatile':
      ctx.vol = copyState(parsed.vol);
      ctx.drbg = HmacDrbg.restore(parsed.drbg);
      ctx.started = parsed.started;
      ctx.nowNs = parsed.nowNs;
      ctx.startedAtNs = parsed.startedAtNs;
      ctx.perm.tpmEstablished = parsed.platform.tpmEstablished;
      return;
    case 'savestate':
      ctx.saved = copyState(parsed.saved);
      return;
  }
}

/** A deep copy of plain state: objects, arrays, Uint8Arrays and primitives. */
export function copyState<T>(value: T): T {
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map((v: unknown) => copyState(v)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyState(v);
    return out as T;
  }
  return value;
}

/** The blob type name used in messages ("permanent-state", ...). */
export function blobTypeName(type: BlobType): string {
  return TYPE_NAME[type];
}
