// TPM 2.0 commands and responses as trees for the decoder panel: header, handles, authorization area,
// parameters, and the response code's fields (TPM 2.0 Part 2 §6.6, Part 1 §18). Every node knows the byte
// range it came from, so the panel can light its bytes. Bytes come from a guest, a migration or a fuzzer:
// the decoder never throws; it shows what is there and marks what is missing or left over.
import { ALG, CAP, CC, ECC_CURVE, HT, RH, SESSION_ATTR, ST, SU } from '../../core/tpm2/constants';
import { TpmReader } from '../../core/tpm2/marshal';
import { describeRc, RC_FMT1 } from '../../core/tpm2/rc';
import { ccName, commandLayout } from './tpm-layout';

export interface DecodedNode {
  /** The field's name as Part 2/3 spells it ("commandCode", "nonceCaller", "sessionAttributes"). */
  label: string;
  /** The value, decoded ("TPM_ST_SESSIONS (0x8002)"); absent for a group. */
  value?: string;
  /** Byte range [start, end) in the message. */
  start: number;
  end: number;
  /** What is wrong here (truncated, missing, size mismatch), in words. */
  problem?: string;
  children: DecodedNode[];
}

export interface DecodedMessage {
  kind: 'command' | 'response';
  /** One line: "TPM2_CreatePrimary command, 67 bytes". */
  summary: string;
  nodes: DecodedNode[];
  length: number;
  /** True when something is missing, truncated or left over. */
  hasProblems: boolean;
}

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

const ST_NAMES = new Map<number, string>(Object.entries(ST).map(([k, v]) => [v, `TPM_ST_${k}`]));
const ALG_NAMES = new Map<number, string>(Object.entries(ALG).map(([k, v]) => [v, `TPM_ALG_${k}`]));
const CAP_NAMES = new Map<number, string>(Object.entries(CAP).map(([k, v]) => [v, `TPM_CAP_${k}`]));
const ECC_CURVE_NAMES = new Map<number, string>(
  Object.entries(ECC_CURVE).map(([k, v]) => [v, `TPM_ECC_${k}`]),
);
const SU_NAMES = new Map<number, string>(Object.entries(SU).map(([k, v]) => [v, `TPM_SU_${k}`]));
const RH_NAMES = new Map<number, string>(
  Object.entries(RH).map(([k, v]) => [v, k === 'PW' ? 'TPM_RS_PW' : `TPM_RH_${k}`]),
);

const named = (names: Map<number, string>, v: number, digits: number): string => {
  const n = names.get(v);
  return n ? `${n} (${hex(v, digits)})` : `${hex(v, digits)} (unknown)`;
};

/** A handle with its type from the top octet (Part 2 §7.2). */
export function describeHandle(h: number): string {
  const permanent = RH_NAMES.get(h);
  if (permanent) return `${permanent} (${hex(h, 8)})`;
  const low = h & 0xffffff;
  switch (h >>> 24) {
    case HT.PCR:
      return `PCR ${low} (${hex(h, 8)})`;
    case HT.NV_INDEX:
      return `NV index ${hex(h, 8)}`;
    case HT.HMAC_SESSION:
      return `HMAC session ${hex(h, 8)}`;
    case HT.POLICY_SESSION:
      return `policy session ${hex(h, 8)}`;
    case HT.PERMANENT:
      return `permanent handle ${hex(h, 8)}`;
    case HT.TRANSIENT:
      return `transient object ${hex(h, 8)}`;
    case HT.PERSISTENT:
      return `persistent object ${hex(h, 8)}`;
    default:
      return `${hex(h, 8)} (unknown handle type)`;
  }
}

/**
 * TPMA_OBJECT bits (Part 2 §8.3). The engine's OBJECT_ATTR (core/tpm2/public-area.ts) has them, but that
 * module brings the hash code into the page's bundle (+7 KB gzipped); tpm-decode.test.ts checks this copy
 * against it.
 */
export const OBJECT_ATTRIBUTE_BITS: Readonly<Record<string, number>> = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
};

/** A bit field with the names of the bits that are set: "0x01 (continueSession)". */
function describeBits(a: number, bits: Readonly<Record<string, number>>, digits: number): string {
  const set = Object.entries(bits)
    .filter(([, bit]) => (a & bit) !== 0)
    .map(([name]) => name);
  return `${hex(a, digits)}${set.length ? ` (${set.join(', ')})` : ''}`;
}

const describeSessionAttributes = (a: number): string => describeBits(a, SESSION_ATTR, 2);

// ---- response codes ------------------------------------------------------------------------------------

export interface RcField {
  /** The field's letter in Part 2 Tables 16/17 ("E", "F", "V", "T", "S", "P", "N"). */
  name: string;
  bits: string;
  value: number;
  meaning: string;
}

export interface DecodedRc {
  rc: number;
  /** "TPM_RC_SUCCESS", "TPM_RC_VALUE (parameter 1)", "TPM_RC_RETRY". */
  name: string;
  format: 'success' | 'format-0' | 'format-1' | 'tpm12';
  fields: RcField[];
}

/** A TPM_RC split into the fields Part 2 §6.6.2 names: format-zero E/F/V/T/S, format-one E/P/F/N. */
export function decodeResponseCode(rc: number): DecodedRc {
  rc >>>= 0;
  if (rc === 0) return { rc, name: 'TPM_RC_SUCCESS', format: 'success', fields: [] };
  if ((rc & RC_FMT1) !== 0) {
    const n = (rc >>> 8) & 0xf;
    const p = (rc >>> 6) & 1;
    const where = p
      ? `parameter ${n}`
      : n === 0
        ? 'not tied to a handle or session'
        : n & 8
          ? `session ${n & 7}`
          : `handle ${n}`;
    return {
      rc,
      name: describeRc(rc),
      format: 'format-1',
      fields: [
        {
          name: 'E',
          bits: '5:0',
          value: rc & 0x3f,
          meaning: `error number: ${describeRc(RC_FMT1 | (rc & 0x3f))}`,
        },
        {
          name: 'P',
          bits: '6',
          value: p,
          meaning: p ? 'the number is a parameter' : 'the number is a handle or session',
        },
        { name: 'F', bits: '7', value: 1, meaning: 'format-one' },
        { name: 'N', bits: '11:8', value: n, meaning: where },
      ],
    };
  }
  if ((rc & 0x100) === 0) {
    return {
      rc,
      name: `TPM 1.2 response code ${hex(rc, 3)}`,
      format: 'tpm12',
      fields: [{ name: 'V', bits: '8', value: 0, meaning: 'not a TPM 2.0 code (TPM 1.2)' }],
    };
  }
  const t = (rc >>> 10) & 1;
  const s = (rc >>> 11) & 1;
  return {
    rc,
    name: describeRc(rc),
    format: 'format-0',
    fields: [
      { name: 'E', bits: '6:0', value: rc & 0x7f, meaning: 'error number' },
      { name: 'F', bits: '7', value: 0, meaning: 'format-zero' },
      { name: 'V', bits: '8', value: 1, meaning: 'TPM 2.0 code' },
      { name: 'T', bits: '10', value: t, meaning: t ? 'vendor defined' : 'defined by the TCG' },
      { name: 'S', bits: '11', value: s, meaning: s ? 'warning (the command did not run)' : 'error' },
    ],
  };
}

// ---- the reader ---------------------------------------------------------------------------------------

/**
 * Reads fields with the engine's TpmReader, but checks what is left first: a field that does not fit
 * becomes a node over the bytes that are there, marked truncated; fields after it are marked missing.
 */
class FieldReader {
  readonly r: TpmReader;
  ended = false;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
  ) {
    this.r = new TpmReader(bytes, start);
  }

  get pos(): number {
    return this.r.position;
  }

  get remaining(): number {
    return this.r.remaining;
  }

  private short(label: string, need: number): DecodedNode {
    const start = this.pos;
    const have = this.remaining;
    if (this.ended || have === 0) {
      this.ended = true;
      return { label, start, end: start, problem: 'missing: the bytes end before this field', children: [] };
    }
    this.r.bytes(have);
    this.ended = true;
    return {
      label,
      start,
      end: start + have,
      problem: `truncated: needs ${need} bytes, ${have} left`,
      children: [],
    };
  }

  /** An unsigned field of 1, 2 or 4 bytes; `show` turns the value into words. */
  uint(label: string, size: 1 | 2 | 4, show: (v: number) => string = (v) => `${v} (${hex(v, size * 2)})`) {
    if (this.ended || this.remaining < size) return { node: this.short(label, size), value: null };
    const start = this.pos;
    const v = size === 1 ? this.r.u8() : size === 2 ? this.r.u16() : this.r.u32();
    return { node: { label, value: show(v), start, end: this.pos, children: [] } as DecodedNode, value: v };
  }

  u64(label: string): DecodedNode {
    if (this.ended || this.remaining < 8) return this.short(label, 8);
    const start = this.pos;
    const v = this.r.u64();
    return { label, value: v.toString(), start, end: this.pos, children: [] };
  }

  raw(label: string, n: number, describe?: (b: Uint8Array) => string): DecodedNode {
    if (n === 0) return { label, value: '(empty)', start: this.pos, end: this.pos, children: [] };
    if (this.ended || this.remaining < n) return this.short(label, n);
    const start = this.pos;
    const b = this.r.bytes(n);
    return { label, value: describe ? describe(b) : bytesPreview(b), start, end: this.pos, children: [] };
  }

  /** A TPM2B: size then bytes; `inner` decodes the bytes as a structure when given. */
  tpm2b(label: string, inner?: (f: FieldReader, end: number) => DecodedNode[]): DecodedNode {
    const start = this.pos;
    const size = this.uint('size', 2, (v) => `${v}`);
    if (size.value === null)
      return { label, start, end: this.pos, problem: size.node.problem, children: [size.node] };
    const body = this.within(size.value, (f, end) =>
      inner ? inner(f, end) : [f.raw('buffer', end - f.pos)],
    );
    return group(label, start, this.pos, [size.node, ...body], `${size.value} bytes`);
  }

  /** Runs `read` over the next n bytes (fewer if the message ends), then marks unread bytes as extra. */
  within(n: number, read: (f: FieldReader, end: number) => DecodedNode[]): DecodedNode[] {
    const avail = Math.min(n, this.remaining);
    const end = this.pos + avail;
    const sub = new FieldReader(this.bytes.subarray(0, end), this.pos);
    const nodes = this.ended ? [] : read(sub, end);
    if (!sub.ended && sub.pos < end) nodes.push(extra('unread bytes', sub.pos, end));
    this.r.bytes(avail);
    if (avail < n) {
      nodes.push({
        label: 'missing bytes',
        start: end,
        end,
        problem: `the size says ${n} bytes, only ${avail} are there`,
        children: [],
      });
      this.ended = true;
    }
    return nodes;
  }
}

function group(
  label: string,
  start: number,
  end: number,
  children: DecodedNode[],
  value?: string,
): DecodedNode {
  const node: DecodedNode = { label, start, end, children };
  if (value !== undefined) node.value = value;
  const problem = children.find((c) => c.problem)?.problem;
  if (problem) node.problem = problem;
  return node;
}

function extra(label: string, start: number, end: number): DecodedNode {
  return {
    label,
    value: `${end - start} bytes`,
    start,
    end,
    problem: `${end - start} bytes nobody expected`,
    children: [],
  };
}

function bytesPreview(b: Uint8Array): string {
  const shown = Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return `${b.length} bytes${b.length ? `: ${shown}${b.length > 8 ? ' …' : ''}` : ''}`;
}

// ---- parameters of the commands the workloads send ------------------------------------------------------

type Params = (f: FieldReader, end: number) => DecodedNode[];

const DIGEST_SIZES: Readonly<Record<number, number>> = {
  [ALG.SHA1]: 20,
  [ALG.SHA256]: 32,
  [ALG.SHA384]: 48,
  [ALG.SHA512]: 64,
};

const alg = (label: string) => (f: FieldReader) => f.uint(label, 2, (v) => named(ALG_NAMES, v, 4)).node;
const u16 = (label: string) => (f: FieldReader) => f.uint(label, 2).node;
const u32 = (label: string) => (f: FieldReader) => f.uint(label, 4).node;
const handleParam = (label: string) => (f: FieldReader) => f.uint(label, 4, describeHandle).node;
const b2 = (label: string, inner?: Params) => (f: FieldReader) => f.tpm2b(label, inner);
const yesNo = (label: string) => (f: FieldReader) => f.uint(label, 1, (v) => (v ? 'YES' : 'NO')).node;
const rest = (label: string) => (f: FieldReader, end: number) => f.raw(label, end - f.pos);

/** Fields in order; reading stops marking after the first that does not fit. */
const seq =
  (...fields: ((f: FieldReader, end: number) => DecodedNode)[]): Params =>
  (f, end) =>
    fields.map((read) => read(f, end));

/** A counted list (TPML_*): count u32, then `item` count times (at most what the bytes can hold). */
const list =
  (label: string, item: (f: FieldReader, end: number, i: number) => DecodedNode) =>
  (f: FieldReader, end: number): DecodedNode => {
    const start = f.pos;
    const count = f.uint('count', 4, (v) => `${v}`);
    const children = [count.node];
    for (let i = 0; count.value !== null && i < count.value && !f.ended; i++) {
      if (f.pos >= end) {
        children.push({
          label: `[${i}]`,
          start: f.pos,
          end: f.pos,
          problem: `missing: count says ${count.value}`,
          children: [],
        });
        f.ended = true;
        break;
      }
      children.push(item(f, end, i));
    }
    return group(label, start, f.pos, children, count.value === null ? undefined : `${count.value} entries`);
  };

const digestValues = list('digests', (f, _end, i) => {
  const start = f.pos;
  const a = f.uint('hashAlg', 2, (v) => named(ALG_NAMES, v, 4));
  const size = a.value === null ? undefined : DIGEST_SIZES[a.value];
  const digest =
    size === undefined ? f.raw('digest (unknown algorithm: rest)', f.remaining) : f.raw('digest', size);
  return group(`[${i}]`, start, f.pos, [a.node, digest]);
});

const pcrSelection = list('pcrSelections', (f, _end, i) => {
  const start = f.pos;
  const a = alg('hash')(f);
  const sizeofSelect = f.uint('sizeofSelect', 1, (v) => `${v}`);
  const sel =
    sizeofSelect.value === null
      ? f.raw('pcrSelect', 0)
      : f.raw('pcrSelect', sizeofSelect.value, (b) => {
          const pcrs: number[] = [];
          b.forEach((byte, k) => {
            for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pcrs.push(k * 8 + bit);
          });
          return pcrs.length ? `PCR ${pcrs.join(', ')}` : 'none';
        });
  return group(`[${i}]`, start, f.pos, [a, sizeofSelect.node, sel]);
});

const digestList = list('digests', (f, _end, i) => f.tpm2b(`[${i}]`));

const sensitiveCreate: Params = seq(b2('userAuth'), b2('data'));
/** An algorithm selector whose details follow unless it is TPM_ALG_NULL (TPMT_SYM_DEF_OBJECT, schemes, KDF). */
const algWithDetails =
  (label: string, details: (f: FieldReader) => DecodedNode[]) =>
  (f: FieldReader): DecodedNode => {
    const start = f.pos;
    const a = f.uint('algorithm', 2, (v) => named(ALG_NAMES, v, 4));
    const more = a.value === null || a.value === ALG.NULL ? [] : details(f);
    return group(label, start, f.pos, [a.node, ...more], a.node.value);
  };

const symmetric = algWithDetails('symmetric', (f) => [u16('keyBits')(f), alg('mode')(f)]);
const hashDetail = (f: FieldReader) => [alg('hashAlg')(f)];

/** TPMT_PUBLIC (Part 2 §12.2.4): parameters and unique by the object's type (RSA and ECC in detail). */
const publicArea: Params = (f, end) => {
  const type = f.uint('type', 2, (v) => named(ALG_NAMES, v, 4));
  const nodes = [
    type.node,
    alg('nameAlg')(f),
    f.uint('objectAttributes', 4, (v) => describeBits(v, OBJECT_ATTRIBUTE_BITS, 8)).node,
    f.tpm2b('authPolicy'),
  ];
  if (type.value === ALG.ECC) {
    nodes.push(
      symmetric(f),
      algWithDetails('scheme', hashDetail)(f),
      f.uint('curveID', 2, (v) => named(ECC_CURVE_NAMES, v, 4)).node,
      algWithDetails('kdf', hashDetail)(f),
      f.tpm2b('unique.x'),
      f.tpm2b('unique.y'),
    );
  } else if (type.value === ALG.RSA) {
    nodes.push(
      symmetric(f),
      algWithDetails('scheme', hashDetail)(f),
      u16('keyBits')(f),
      f.uint('exponent', 4, (v) => (v === 0 ? '0 (the default, 65537)' : String(v))).node,
      f.tpm2b('unique'),
    );
  } else {
    nodes.push(rest('parameters and unique')(f, end));
  }
  return nodes;
};

const ticket = (label: string) => (f: FieldReader) => {
  const start = f.pos;
  const children = [
    f.uint('tag', 2, (v) => named(ST_NAMES, v, 4)).node,
    handleParam('hierarchy')(f),
    f.tpm2b('digest'),
  ];
  return group(label, start, f.pos, children);
};

const COMMAND_PARAMS: Partial<Record<number, Params>> = {
  [CC.Startup]: seq((f) => f.uint('startupType', 2, (v) => named(SU_NAMES, v, 4)).node),
  [CC.Shutdown]: seq((f) => f.uint('shutdownType', 2, (v) => named(SU_NAMES, v, 4)).node),
  [CC.SelfTest]: seq(yesNo('fullTest')),
  [CC.GetRandom]: seq(u16('bytesRequested')),
  [CC.StirRandom]: seq(b2('inData')),
  [CC.GetCapability]: seq(
    (f) => f.uint('capability', 4, (v) => named(CAP_NAMES, v, 8)).node,
    (f) => f.uint('property', 4).node,
    u32('propertyCount'),
  ),
  [CC.PCR_Read]: seq(pcrSelection),
  [CC.PCR_Extend]: seq(digestValues),
  [CC.PCR_Event]: seq(b2('eventData')),
  [CC.NV_Read]: seq(u16('size'), u16('offset')),
  [CC.NV_Write]: seq(b2('data'), u16('offset')),
  [CC.NV_DefineSpace]: seq(b2('auth'), b2('publicInfo')),
  [CC.CreatePrimary]: seq(
    b2('inSensitive', sensitiveCreate),
    b2('inPublic', publicArea),
    b2('outsideInfo'),
    pcrSelection,
  ),
  [CC.FlushContext]: seq(handleParam('flushHandle')),
  [CC.Hash]: seq(b2('data'), alg('hashAlg'), handleParam('hierarchy')),
  [CC.HashSequenceStart]: seq(b2('auth'), alg('hashAlg')),
  [CC.SequenceUpdate]: seq(b2('buffer')),
  [CC.SequenceComplete]: seq(b2('buffer'), handleParam('hierarchy')),
  [CC.EventSequenceComplete]: seq(b2('buffer')),
  [CC.StartAuthSession]: seq(
    b2('nonceCaller'),
    b2('encryptedSalt'),
    (f) => f.uint('sessionType', 1).node,
    rest('symmetric, authHash'),
  ),
  [CC.ContextLoad]: seq(
    (f) => f.u64('sequence'),
    handleParam('savedHandle'),
    handleParam('hierarchy'),
    b2('contextBlob'),
  ),
};

const RESPONSE_PARAMS: Partial<Record<number, Params>> = {
  [CC.GetRandom]: seq(b2('randomBytes')),
  [CC.GetCapability]: seq(
    yesNo('moreData'),
    (f) => f.uint('capability', 4, (v) => named(CAP_NAMES, v, 8)).node,
    rest('data'),
  ),
  [CC.PCR_Read]: seq(u32('pcrUpdateCounter'), pcrSelection, digestList),
  [CC.PCR_Event]: seq(digestValues),
  [CC.NV_Read]: seq(b2('data')),
  [CC.NV_ReadPublic]: seq(b2('nvPublic'), b2('nvName')),
  [CC.CreatePrimary]: seq(
    b2('outPublic', publicArea),
    b2('creationData'),
    b2('creationHash'),
    ticket('creationTicket'),
    b2('name'),
  ),
  [CC.ReadPublic]: seq(b2('outPublic', publicArea), b2('name'), b2('qualifiedName')),
  [CC.Hash]: seq(b2('outHash'), ticket('validation')),
  [CC.SequenceComplete]: seq(b2('result'), ticket('validation')),
  [CC.EventSequenceComplete]: seq(digestValues),
  [CC.StartAuthSession]: seq(b2('nonceTPM')),
  [CC.ReadClock]: seq(
    (f) => f.u64('time'),
    (f) => f.u64('clock'),
    u32('resetCount'),
    u32('restartCount'),
    yesNo('safe'),
  ),
  [CC.ContextSave]: seq(
    (f) => f.u64('sequence'),
    handleParam('savedHandle'),
    handleParam('hierarchy'),
    b2('contextBlob'),
  ),
};

// ---- commands -----------------------------------------------------------------------------------------

function header(f: FieldReader, kind: 'command' | 'response', length: number) {
  const tag = f.uint('tag', 2, (v) => named(ST_NAMES, v, 4));
  const size = f.uint(`${kind}Size`, 4, (v) => `${v}`);
  if (size.value !== null && size.value !== length) {
    size.node.problem = `says ${size.value} bytes; ${length} are here`;
  }
  return { tag, size };
}

function authArea(f: FieldReader, kind: 'command' | 'response', end: number): DecodedNode[] {
  const out: DecodedNode[] = [];
  for (let i = 1; f.pos < end && !f.ended && i <= 8; i++) {
    const start = f.pos;
    const children =
      kind === 'command'
        ? [
            f.uint('sessionHandle', 4, describeHandle).node,
            f.tpm2b('nonceCaller'),
            f.uint('sessionAttributes', 1, describeSessionAttributes).node,
            f.tpm2b('hmac'),
          ]
        : [
            f.tpm2b('nonceTPM'),
            f.uint('sessionAttributes', 1, describeSessionAttributes).node,
            f.tpm2b('hmac'),
          ];
    out.push(group(`session ${i}`, start, f.pos, children));
  }
  return out;
}

/** For a command code the layout table does not know: the handle count (0..3) that makes the sizes add up. */
function inferHandles(bytes: Uint8Array, end: number): number | undefined {
  for (let k = 0; k <= 3; k++) {
    const at = 10 + 4 * k;
    if (at + 4 > end) return undefined;
    const authSize =
      ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
    if (authSize >= 9 && at + 4 + authSize <= end) return k;
  }
  return undefined;
}

function decodeCommandBody(bytes: Uint8Array): { nodes: DecodedNode[]; code: number | null } {
  const f = new FieldReader(bytes);
  const { tag, size } = header(f, 'command', bytes.length);
  const cc = f.uint('commandCode', 4, (v) =>
    ccName(v) ? `TPM2_${ccName(v)} (${hex(v, 8)})` : `${hex(v, 8)} (unknown command)`,
  );
  const nodes = [group('header', 0, f.pos, [tag.node, size.node, cc.node])];
  if (cc.value === null) return { nodes, code: null };
  // The message ends at commandSize (or where the bytes end); anything after it is not the command's.
  const end = Math.min(bytes.length, Math.max(f.pos, size.value ?? bytes.length));
  const body = new FieldReader(bytes.subarray(0, end), f.pos);
  const sessions = tag.value === ST.SESSIONS;
  const layout = commandLayout(cc.value);
  let handles = layout?.handles;
  let inferred = false;
  if (handles === undefined && sessions) {
    handles = inferHandles(bytes, end);
    inferred = handles !== undefined;
  }
  if (handles === undefined) {
    const n = end - body.pos;
    if (n > 0)
      nodes.push({
        ...body.raw('handles and parameters', n),
        value: `${n} bytes (layout of this command unknown)`,
      });
  } else {
    if (handles > 0) {
      const start = body.pos;
      const hs = Array.from(
        { length: handles },
        (_, i) => body.uint(`handle ${i + 1}`, 4, describeHandle).node,
      );
      nodes.push(
        group(
          'handles',
          start,
          body.pos,
          hs,
          inferred ? `${handles} (inferred from the sizes)` : `${handles}`,
        ),
      );
    }
    if (sessions) {
      const start = body.pos;
      const authSize = body.uint('authorizationSize', 4, (v) => `${v}`);
      const children = [authSize.node];
      if (authSize.value !== null)
        children.push(...body.within(authSize.value, (s, e) => authArea(s, 'command', e)));
      nodes.push(group('authorization area', start, body.pos, children));
    }
    if (!body.ended && body.pos < end) {
      const start = body.pos;
      const params = COMMAND_PARAMS[cc.value];
      const children = body.within(end - body.pos, params ?? ((p, e) => [p.raw('bytes', e - p.pos)]));
      nodes.push(group('parameters', start, body.pos, children, `${body.pos - start} bytes`));
    }
  }
  if (end < bytes.length) nodes.push(extra('after commandSize', end, bytes.length));
  return { nodes, code: cc.value };
}

function decodeResponseBody(bytes: Uint8Array, commandCode: number | null): DecodedNode[] {
  const f = new FieldReader(bytes);
  const { tag, size } = header(f, 'response', bytes.length);
  const start = f.pos;
  const rc = f.uint('responseCode', 4, (v) => `${decodeResponseCode(v).name} (${hex(v, 8)})`);
  if (rc.value !== null) {
    // The fields sit in the low 12 bits: the last two bytes of the code.
    rc.node.children = decodeResponseCode(rc.value).fields.map((x) => ({
      label: `${x.name} (bit${x.bits.includes(':') ? 's' : ''} ${x.bits})`,
      value: `${x.value}: ${x.meaning}`,
      start: start + 2,
      end: start + 4,
      children: [],
    }));
  }
  const nodes = [group('header', 0, f.pos, [tag.node, size.node, rc.node])];
  if (rc.value === null) return nodes;
  const end = Math.min(bytes.length, Math.max(f.pos, size.value ?? bytes.length));
  const body = new FieldReader(bytes.subarray(0, end), f.pos);
  if (rc.value !== 0) {
    if (end > body.pos) nodes.push(extra('after an error header', body.pos, end));
  } else {
    const layout = commandCode === null ? undefined : commandLayout(commandCode);
    if (layout?.responseHandle) nodes.push(body.uint('handle', 4, describeHandle).node);
    const params = commandCode === null ? undefined : RESPONSE_PARAMS[commandCode];
    const readParams: Params = params ?? ((p, e) => (e > p.pos ? [p.raw('bytes', e - p.pos)] : []));
    if (tag.value === ST.SESSIONS) {
      const pStart = body.pos;
      const parameterSize = body.uint('parameterSize', 4, (v) => `${v}`);
      const children = [parameterSize.node];
      if (parameterSize.value !== null) children.push(...body.within(parameterSize.value, readParams));
      nodes.push(group('parameters', pStart, body.pos, children, `${body.pos - pStart} bytes`));
      if (!body.ended && body.pos < end) {
        const aStart = body.pos;
        const sessions = body.within(end - body.pos, (s, e) => authArea(s, 'response', e));
        nodes.push(group('authorization area', aStart, body.pos, sessions));
      }
    } else if (body.pos < end) {
      const pStart = body.pos;
      const children = body.within(end - body.pos, readParams);
      nodes.push(group('parameters', pStart, body.pos, children, `${body.pos - pStart} bytes`));
    }
  }
  if (end < bytes.length) nodes.push(extra('after responseSize', end, bytes.length));
  return nodes;
}

const hasProblem = (nodes: readonly DecodedNode[]): boolean =>
  nodes.some((n) => n.problem !== undefined || hasProblem(n.children));

function safely(bytes: Uint8Array, decode: () => DecodedNode[]): DecodedNode[] {
  try {
    return decode();
  } catch (e) {
    // A bug in a decoder must not take the panel down: show the bytes and say so.
    return [
      {
        label: 'bytes',
        value: `${bytes.length} bytes`,
        start: 0,
        end: bytes.length,
        problem: `could not decode: ${String(e)}`,
        children: [],
      },
    ];
  }
}

/** The command code of a command's bytes, or null when there is no full header. */
export function commandCodeOf(command: Uint8Array | null): number | null {
  if (!command || command.length < 10) return null;
  return new TpmReader(command, 6).u32();
}

export function decodeCommand(bytes: Uint8Array): DecodedMessage {
  let code: number | null = null;
  const nodes = safely(bytes, () => {
    const r = decodeCommandBody(bytes);
    code = r.code;
    return r.nodes;
  });
  const name =
    code === null ? 'Command' : ccName(code) ? `TPM2_${ccName(code)} command` : `Command ${hex(code, 8)}`;
  return {
    kind: 'command',
    summary: `${name}, ${bytes.length} bytes`,
    nodes,
    length: bytes.length,
    hasProblems: hasProblem(nodes),
  };
}

/** A response; `commandCode` (from its command) tells how to read the handle and parameters. */
export function decodeResponse(bytes: Uint8Array, commandCode: number | null = null): DecodedMessage {
  const nodes = safely(bytes, () => decodeResponseBody(bytes, commandCode));
  const rc = bytes.length >= 10 ? decodeResponseCode(new TpmReader(bytes, 6).u32()).name : 'no response code';
  const of = commandCode !== null && ccName(commandCode) ? ` to TPM2_${ccName(commandCode)}` : '';
  return {
    kind: 'response',
    summary: `Response${of}: ${rc}, ${bytes.length} bytes`,
    nodes,
    length: bytes.length,
    hasProblems: hasProblem(nodes),
  };
}

/** Every node depth-first with its path ("1.0.2"), for the panel's lookups and the tests. */
export function walkNodes(nodes: readonly DecodedNode[], prefix = ''): { path: string; node: DecodedNode }[] {
  return nodes.flatMap((node, i) => {
    const path = prefix === '' ? String(i) : `${prefix}.${i}`;
    return [{ path, node }, ...walkNodes(node.children, path)];
  });
}
