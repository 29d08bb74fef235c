// QEMU's version rules for fields and subsections, on a small description.
import { describe, expect, it } from 'vitest';
import { TpmReader, TpmWriter } from '../tpm2/marshal';
import { VMStateError, loadState, saveState } from './vmstate';
import type { VMObject, VMStateDescription } from './vmstate';

const extra: VMStateDescription = {
  name: 'dev/extra',
  versionId: 1,
  minimumVersionId: 1,
  fields: [{ name: 'note', type: 'json' }],
};

const v2: VMStateDescription = {
  name: 'dev',
  versionId: 2,
  minimumVersionId: 1,
  fields: [
    { name: 'a', type: 'u16' },
    { name: 'len', type: 'u32' },
    { name: 'blob', type: { vbuffer: 'len' } },
    { name: 'b', type: 'u64', version: 2 },
  ],
  subsections: [{ desc: extra, needed: (s) => s.note !== undefined }],
};
const v1: VMStateDescription = { ...v2, versionId: 1, fields: v2.fields.slice(0, 3), subsections: [] };

function bytes(desc: VMStateDescription, state: VMObject): Uint8Array {
  const w = new TpmWriter();
  saveState(w, desc, state);
  return w.finish();
}

describe('vmstate', () => {
  const state = { a: 7, len: 3, blob: Uint8Array.of(1, 2, 3), b: 2 ** 40 };

  it('round-trips, with a field that appeared in version 2', () => {
    expect(loadState(new TpmReader(bytes(v2, state)), v2, 2)).toEqual(state);
  });

  it('loads a version-1 stream without the version-2 field', () => {
    const old = bytes(v1, state);
    expect(loadState(new TpmReader(old), v2, 1)).toEqual({ a: 7, len: 3, blob: Uint8Array.of(1, 2, 3) });
  });

  it('refuses versions outside [minimum_version_id, version_id] in QEMU words', () => {
    expect(() => loadState(new TpmReader(bytes(v2, state)), v2, 3)).toThrow(
      'dev: incoming version_id 3 is too new for local version_id 2',
    );
    expect(() => loadState(new TpmReader(bytes(v2, state)), v2, 0)).toThrow(
      'dev: incoming version_id 0 is too old for local minimum version_id 1',
    );
  });

  it('writes a subsection only when needed, and refuses one the destination does not know', () => {
    const withNote = { ...state, note: { why: 'x' } };
    expect(bytes(v2, withNote).length).toBeGreaterThan(bytes(v2, state).length);
    expect(loadState(new TpmReader(bytes(v2, withNote)), v2, 2)).toEqual(withNote);
    const noSubsections = { ...v2, subsections: [] };
    expect(() => loadState(new TpmReader(bytes(v2, withNote)), noSubsections, 2)).toThrow(VMStateError);
    expect(() => loadState(new TpmReader(bytes(v2, withNote)), noSubsections, 2)).toThrow(
      "dev: unknown subsection 'dev/extra'",
    );
  });

  it('refuses to save a value that does not fit its field', () => {
    expect(() => bytes(v2, { ...state, a: 70_000 })).toThrow('dev.a: expected u16');
    expect(() => bytes(v2, { ...state, blob: Uint8Array.of(1) })).toThrow('as many bytes as len');
  });
});
