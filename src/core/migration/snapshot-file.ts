// The snapshot file: QEMU's savevm stream layout (migration/savevm.c: qemu_savevm_state, the section
// header of save_section_header, the footer of save_section_footer, QEMU_VM_EOF) inside an envelope of
// our own: a magic, a format version, the body's length, and a SHA-256 over everything before it.
//
//   "TISLABVM" | u32 format version | u32 body length | body | SHA-256 (32 bytes)
//   body = { 0x04 QEMU_VM_SECTION_FULL | u32 section_id | u8 len | idstr | u32 instance_id |
//            u32 version_id | vmstate fields | 0x7e QEMU_VM_SECTION_FOOTER | u32 section_id }* | 0x00 EOF
//
// Loading checks everything first (envelope, every section, every value) and only then changes the
// destination, so a refused file leaves the running machine as it was. Errors carry QEMU's own words
// where QEMU has them, ending as QEMU does with "load of migration failed: Invalid argument".
import { sha256Bytes } from '../kernel/sha256';
import { RC, TpmError } from '../tpm2/rc';
import { TpmReader, TpmWriter } from '../tpm2/marshal';
import { VMStateError, loadState, saveState } from './vmstate';
import type { VMObject, VMStateDescription } from './vmstate';

export const SNAPSHOT_MAGIC = 'TISLABVM';
export const SNAPSHOT_FORMAT_VERSION = 1;
/** Files above this are refused before anything is parsed (an idle machine is a few KiB). */
export const DEFAULT_SNAPSHOT_LIMIT_BYTES = 16 * 1024 * 1024;

const QEMU_VM_EOF = 0x00;
const QEMU_VM_SECTION_FULL = 0x04;
const QEMU_VM_SECTION_FOOTER = 0x7e;
const HEADER_BYTES = 8 + 4 + 4;
const HASH_BYTES = 32;

/** One section of the stream: QEMU's SaveStateEntry with its VMStateDescription and hooks. */
export interface SaveStateEntry {
  readonly idstr: string;
  readonly instanceId: number;
  readonly desc: VMStateDescription;
  /** QEMU's pre_save: e.g. the TPM backend's finish_sync. Runs before any section is written. */
  preSave?(): void | Promise<void>;
  save(): VMObject;
  /**
   * Checks a loaded state (at the stream's version) and returns what applies it; throws a VMStateError
   * (or any Error, whose message is reported) if the state cannot be accepted. Applying, and QEMU's
   * post_load, happen only after every section of the file has been checked, section by section in file
   * order; a post_load that talks to another process (the TPM's control channel) returns a promise.
   */
  prepareLoad(state: VMObject, versionId: number): LoadStep;
}

/** Applies one checked section (and runs its post_load). */
export type LoadStep = () => void | Promise<void>;

/** A refused load: `lines` are the messages in order, QEMU's where QEMU has them. */
export class MigrationLoadError extends Error {
  override name = 'MigrationLoadError';
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}

const LOAD_FAILED = 'load of migration failed: Invalid argument';

export async function writeSnapshot(entries: readonly SaveStateEntry[]): Promise<Uint8Array> {
  for (const e of entries) await e.preSave?.();
  const body = new TpmWriter(4096);
  entries.forEach((e, sectionId) => {
    const name = new TextEncoder().encode(e.idstr);
    body.u8(QEMU_VM_SECTION_FULL).u32(sectionId).u8(name.length).bytes(name);
    body.u32(e.instanceId).u32(e.desc.versionId);
    saveState(body, e.desc, e.save());
    body.u8(QEMU_VM_SECTION_FOOTER).u32(sectionId);
  });
  body.u8(QEMU_VM_EOF);
  const bodyBytes = body.finish();
  const out = new TpmWriter(HEADER_BYTES + bodyBytes.length + HASH_BYTES);
  out.bytes(new TextEncoder().encode(SNAPSHOT_MAGIC)).u32(SNAPSHOT_FORMAT_VERSION).u32(bodyBytes.length);
  out.bytes(bodyBytes);
  const unhashed = out.finish();
  const file = new Uint8Array(unhashed.length + HASH_BYTES);
  file.set(unhashed);
  file.set(sha256Bytes(unhashed), unhashed.length);
  return file;
}

export interface LoadOptions {
  limitBytes?: number;
}

/** Checks the whole file against the destination's entries, then applies it; throws MigrationLoadError. */
export async function loadSnapshot(
  file: Uint8Array,
  entries: readonly SaveStateEntry[],
  opts: LoadOptions = {},
): Promise<void> {
  const apply = checkSnapshot(file, entries, opts);
  for (const step of apply) await step();
}

/** Everything loadSnapshot checks, without changing anything; returns the steps that would apply it. */
export function checkSnapshot(
  file: Uint8Array,
  entries: readonly SaveStateEntry[],
  opts: LoadOptions = {},
): LoadStep[] {
  const body = checkEnvelope(file, opts.limitBytes ?? DEFAULT_SNAPSHOT_LIMIT_BYTES);
  const r = new TpmReader(body);
  const apply: LoadStep[] = [];
  try {
    for (;;) {
      const type = r.u8();
      if (type === QEMU_VM_EOF) break;
      if (type !== QEMU_VM_SECTION_FULL) {
        throw new MigrationLoadError([`Unknown savevm section type ${type}`, LOAD_FAILED]);
      }
      apply.push(loadSection(r, entries));
    }
  } catch (e) {
    if (e instanceof TpmError && e.rc === RC.INSUFFICIENT) {
      throw new MigrationLoadError(['the snapshot ends in the middle of a section', LOAD_FAILED]);
    }
    throw e;
  }
  if (r.remaining !== 0) {
    throw new MigrationLoadError([`${r.remaining} bytes follow the end of the stream`, LOAD_FAILED]);
  }
  return apply;
}

function loadSection(r: TpmReader, entries: readonly SaveStateEntry[]): LoadStep {
  const sectionId = r.u32();
  const idstr = new TextDecoder().decode(r.bytes(r.u8()));
  const instanceId = r.u32();
  const versionId = r.u32();
  // qemu_loadvm_section_start_full: find the entry, validate the version, load, check the footer.
  const entry = entries.find((e) => e.idstr === idstr && e.instanceId === instanceId);
  if (entry === undefined) {
    throw new MigrationLoadError([
      `Unknown savevm section or instance '${idstr}' ${instanceId}. Make sure that your current VM setup ` +
        'matches your saved VM setup, including any hotplugged devices',
      LOAD_FAILED,
    ]);
  }
  if (versionId > entry.desc.versionId) {
    throw new MigrationLoadError([
      `savevm: unsupported version ${versionId} for '${idstr}' v${entry.desc.versionId}`,
      LOAD_FAILED,
    ]);
  }
  const deviceFailed = (lines: string[]) =>
    new MigrationLoadError([
      ...lines,
      `error while loading state for instance 0x${instanceId.toString(16)} of device '${idstr}'`,
      LOAD_FAILED,
    ]);
  let apply: LoadStep;
  try {
    const state = loadState(r, entry.desc, versionId);
    apply = entry.prepareLoad(state, versionId);
  } catch (e) {
    if (e instanceof VMStateError) throw deviceFailed(e.lines);
    if (e instanceof TpmError) throw e;
    throw deviceFailed([(e as Error).message]);
  }
  if (r.u8() !== QEMU_VM_SECTION_FOOTER || r.u32() !== sectionId) {
    throw new MigrationLoadError([`Missing section footer for ${idstr}`, LOAD_FAILED]);
  }
  return apply;
}

function checkEnvelope(file: Uint8Array, limit: number): Uint8Array {
  const refuse = (why: string): never => {
    throw new MigrationLoadError([why]);
  };
  if (!(file instanceof Uint8Array)) refuse('not a snapshot: expected bytes');
  if (file.length > limit) {
    refuse(`the snapshot is ${file.length} bytes, over the limit of ${limit} bytes; nothing was loaded`);
  }
  const magic = new TextDecoder().decode(file.subarray(0, SNAPSHOT_MAGIC.length));
  if (file.length < SNAPSHOT_MAGIC.length || magic !== SNAPSHOT_MAGIC) {
    refuse(`not a TIS Lab snapshot: it does not start with "${SNAPSHOT_MAGIC}"`);
  }
  if (file.length < HEADER_BYTES + 1 + HASH_BYTES)
    refuse('the snapshot is truncated (no room for its header)');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const format = view.getUint32(8);
  if (format !== SNAPSHOT_FORMAT_VERSION) {
    refuse(
      `snapshot format version ${format} is not supported (this build reads version ${SNAPSHOT_FORMAT_VERSION})`,
    );
  }
  const bodyLength = view.getUint32(12);
  if (HEADER_BYTES + bodyLength + HASH_BYTES !== file.length) {
    refuse(
      `the snapshot is truncated or padded: its header announces ${HEADER_BYTES + bodyLength + HASH_BYTES} ` +
        `bytes, the file has ${file.length}`,
    );
  }
  const hashed = file.subarray(0, HEADER_BYTES + bodyLength);
  const expected = file.subarray(HEADER_BYTES + bodyLength);
  const actual = sha256Bytes(hashed);
  if (!actual.every((b, i) => b === expected[i])) {
    refuse('the snapshot is corrupt: its SHA-256 does not match its contents');
  }
  return file.slice(HEADER_BYTES, HEADER_BYTES + bodyLength);
}
