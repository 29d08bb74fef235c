// Declarative device state descriptions, as QEMU's VMStateDescription (include/migration/vmstate.h) and
// the field walk of migration/vmstate.c (vmstate_save_state / vmstate_load_state): fields in order, each
// present from the version it appeared in, then the subsections whose `needed` says so, each introduced by
// QEMU_VM_SUBSECTION, its name and its own version. Values are big-endian as QEMU writes them. A device's
// state is a plain object keyed by field name (QEMU reads the fields from the C struct at offsets).
import { stableStringify } from '../kernel/json';
import type { JsonValue } from '../kernel/json';
import { TpmReader, TpmWriter } from '../tpm2/marshal';

export type VMStateFieldType =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'bool'
  /** VMSTATE_BUFFER: a fixed number of bytes. */
  | { readonly buffer: number }
  /** VMSTATE_VBUFFER_ALLOC_UINT32: as many bytes as the u32 field named here (an earlier field) says. */
  | { readonly vbuffer: string }
  /** VMSTATE_STRUCT_ARRAY: `count` records, each described by `desc` (no version or subsections of its own
   * on the wire, as QEMU's struct fields). */
  | { readonly structArray: VMStateDescription; readonly count: number }
  /** TIS Lab's own sections only: a u32 length and the value as canonical JSON text. */
  | 'json';

export interface VMStateField {
  readonly name: string;
  readonly type: VMStateFieldType;
  /** The version_id this field appeared in (0: always there). Older streams do not carry it. */
  readonly version?: number;
}

export interface VMStateSubsection {
  readonly desc: VMStateDescription;
  readonly needed: (state: VMObject) => boolean;
}

export interface VMStateDescription {
  readonly name: string;
  readonly versionId: number;
  readonly minimumVersionId: number;
  readonly fields: readonly VMStateField[];
  readonly subsections?: readonly VMStateSubsection[];
}

export type VMValue = number | boolean | Uint8Array | JsonValue | readonly VMObject[];
export interface VMObject {
  [field: string]: VMValue | undefined;
}

/** QEMU_VM_SUBSECTION, as migration/savevm.h. */
export const QEMU_VM_SUBSECTION = 0x05;

/** A load that cannot go on; `lines` are what QEMU would print, in order. */
export class VMStateError extends Error {
  override name = 'VMStateError';
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

export function saveState(w: TpmWriter, desc: VMStateDescription, state: VMObject): void {
  for (const field of desc.fields) writeField(w, desc, field, state);
  for (const sub of desc.subsections ?? []) {
    if (!sub.needed(state)) continue;
    // vmstate_subsection_save: the marker, the name with its length, the version, the fields.
    w.u8(QEMU_VM_SUBSECTION);
    const name = new TextEncoder().encode(sub.desc.name);
    w.u8(name.length).bytes(name);
    w.u32(sub.desc.versionId);
    saveState(w, sub.desc, state);
  }
}

/**
 * Reads a description's fields as a stream at `versionId` carries them (vmstate_load_state). Version
 * checks, unknown subsections and malformed values throw a VMStateError in QEMU's words.
 */
export function loadState(r: TpmReader, desc: VMStateDescription, versionId: number): VMObject {
  if (versionId > desc.versionId) {
    throw new VMStateError([
      `${desc.name}: incoming version_id ${versionId} is too new for local version_id ${desc.versionId}`,
    ]);
  }
  if (versionId < desc.minimumVersionId) {
    throw new VMStateError([
      `${desc.name}: incoming version_id ${versionId} is too old for local minimum version_id ${desc.minimumVersionId}`,
    ]);
  }
  const state: VMObject = {};
  for (const field of desc.fields) {
    if ((field.version ?? 0) > versionId) continue;
    state[field.name] = readField(r, desc, field, state);
  }
  // vmstate_subsection_load: subsections follow while the next byte is the marker.
  while (r.remaining > 0 && r.peekU8() === QEMU_VM_SUBSECTION) {
    r.u8();
    const name = new TextDecoder().decode(r.bytes(r.u8()));
    const sub = desc.subsections?.find((s) => s.desc.name === name);
    if (sub === undefined) {
      throw new VMStateError([`${desc.name}: unknown subsection '${name}'`]);
    }
    Object.assign(state, loadState(r, sub.desc, r.u32()));
  }
  return state;
}

// A plain function rather than a closure made per field: every field of every save passes here (a sweep
// saves at every cut).
function badValue(desc: VMStateDescription, field: VMStateField, value: unknown, expected: string): never {
  throw new TypeError(`${desc.name}.${field.name}: expected ${expected} to save, got ${typeof value}`);
}

function writeField(w: TpmWriter, desc: VMStateDescription, field: VMStateField, state: VMObject): void {
  const value = state[field.name];
  const t = field.type;
  if (t === 'u8' || t === 'u16' || t === 'u32' || t === 'u64') {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX[t]) {
      return badValue(desc, field, value, t);
    }
    if (t === 'u8') w.u8(value);
    else if (t === 'u16') w.u16(value);
    else if (t === 'u32') w.u32(value);
    else w.u64(BigInt(value));
  } else if (t === 'bool') {
    if (typeof value !== 'boolean') return badValue(desc, field, value, 'a boolean');
    w.u8(value ? 1 : 0);
  } else if (t === 'json') {
    const text = new TextEncoder().encode(stableStringify((value ?? null) as JsonValue));
    w.u32(text.length).bytes(text);
  } else if ('buffer' in t) {
    if (!(value instanceof Uint8Array) || value.length !== t.buffer)
      return badValue(desc, field, value, `${t.buffer} bytes`);
    w.bytes(value);
  } else if ('vbuffer' in t) {
    if (!(value instanceof Uint8Array) || value.length !== state[t.vbuffer]) {
      return badValue(desc, field, value, `as many bytes as ${t.vbuffer}`);
    }
    w.bytes(value);
  } else {
    if (!Array.isArray(value) || value.length !== t.count)
      return badValue(desc, field, value, `${t.count} records`);
    for (const item of value as VMObject[]) {
      for (const f of t.structArray.fields) writeField(w, t.structArray, f, item);
    }
  }
}

function readField(r: TpmReader, desc: VMStateDescription, field: VMStateField, state: VMObject): VMValue {
  const t = field.type;
  if (t === 'u8') return r.u8();
  if (t === 'u16') return r.u16();
  if (t === 'u32') return r.u32();
  if (t === 'u64') {
    const v = r.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new VMStateError([`${desc.name}: ${field.name} is out of range (${v})`]);
    }
    return Number(v);
  }
  if (t === 'bool') {
    const v = r.u8();
    if (v > 1) throw new VMStateError([`${desc.name}: ${field.name} is not a boolean (${v})`]);
    return v === 1;
  }
  if (t === 'json') {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(r.bytes(r.u32()));
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      throw new VMStateError([`${desc.name}: ${field.name} is not valid JSON`]);
    }
  }
  if ('buffer' in t) return r.bytes(t.buffer);
  if ('vbuffer' in t) {
    const size = state[t.vbuffer];
    if (typeof size !== 'number')
      throw new VMStateError([`${desc.name}: ${t.vbuffer} must precede ${field.name}`]);
    return r.bytes(size);
  }
  const items: VMObject[] = [];
  for (let i = 0; i < t.count; i++) {
    const item: VMObject = {};
    for (const f of t.structArray.fields) item[f.name] = readField(r, t.structArray, f, item);
    items.push(item);
  }
  return items;
}

const MAX = { u8: 0xff, u16: 0xffff, u32: 0xffff_ffff, u64: Number.MAX_SAFE_INTEGER } as const;
