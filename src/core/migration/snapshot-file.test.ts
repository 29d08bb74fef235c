// The snapshot file: an exact round trip of the TIS section in QEMU's layout, and every way a file can be
// refused, each leaving the destination as it was.
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REG_DATA_FIFO } from '../tis/registers';
import { GET_RANDOM_RESPONSE, newTis, reg, tisReadingResponse } from '../tis/tis-test-kit';
import { MigrationLoadError, checkSnapshot, loadSnapshot, writeSnapshot } from './snapshot-file';
import type { SaveStateEntry } from './snapshot-file';
import { VMSTATE_TPM_TIS, tisSaveStateEntry } from './tis-vmstate';
import type { VMStateDescription } from './vmstate';

const RESPONSE = GET_RANDOM_RESPONSE;
const tisReading = tisReadingResponse;

/** Rewrites the trailing SHA-256 so a deliberately altered body passes the integrity check. */
function rehash(file: Uint8Array): Uint8Array {
  const out = file.slice();
  out.set(sha256(out.subarray(0, out.length - 32)), out.length - 32);
  return out;
}

function loadError(f: () => void): MigrationLoadError {
  try {
    f();
  } catch (e) {
    if (e instanceof MigrationLoadError) return e;
    throw e;
  }
  throw new Error('expected the load to be refused');
}

describe('snapshot file', () => {
  it('round-trips the TIS exactly and the destination continues where the source was', async () => {
    const src = tisReading(5);
    const file = await writeSnapshot([tisSaveStateEntry(src.tis)]);
    const dst = newTis();
    await loadSnapshot(file, [tisSaveStateEntry(dst.tis)]);
    expect(dst.tis.snapshot()).toEqual(src.tis.snapshot());
    expect(dst.tis.read(reg(0, REG_DATA_FIFO), 1)).toBe(RESPONSE[5]);
  });

  it('lays the tpm-tis section out as QEMU does: header, 4206 bytes of fields, footer', async () => {
    const file = await writeSnapshot([tisSaveStateEntry(tisReading(0).tis)]);
    expect(new TextDecoder().decode(file.subarray(0, 8))).toBe('TISLABVM');
    const body = file.subarray(16, file.length - 32);
    // QEMU_VM_SECTION_FULL, section_id 0, "tpm-tis", instance 0, version 0
    expect([...body.subarray(0, 21)]).toEqual([
      4,
      0,
      0,
      0,
      0,
      7,
      ...new TextEncoder().encode('tpm-tis'),
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    const fields = 4096 + 2 + 1 + 1 + 1 + 5 * (4 + 4 + 4 + 1 + 4 + 4);
    expect(fields).toBe(4206);
    expect([...body.subarray(21 + fields)]).toEqual([0x7e, 0, 0, 0, 0, 0x00]);
  });

  describe('refuses, changing nothing on the destination', () => {
    async function refused(
      corrupt: (file: Uint8Array) => Uint8Array,
      entries?: (dst: ReturnType<typeof newTis>) => SaveStateEntry[],
      limitBytes?: number,
    ) {
      const file = corrupt(await writeSnapshot([tisSaveStateEntry(tisReading(5).tis)]));
      const dst = tisReading(2);
      const before = dst.tis.snapshot();
      // Every refusal happens in the check, before anything is applied.
      const err = loadError(() =>
        checkSnapshot(
          file,
          entries ? entries(dst) : [tisSaveStateEntry(dst.tis)],
          limitBytes === undefined ? {} : { limitBytes },
        ),
      );
      expect(dst.tis.snapshot()).toEqual(before);
      return err.lines;
    }

    it('a file that is not a snapshot', async () => {
      expect(await refused(() => new TextEncoder().encode('{"not": "a snapshot"}'))).toEqual([
        'not a TIS Lab snapshot: it does not start with "TISLABVM"',
      ]);
    });
    it('a truncated file', async () => {
      expect((await refused((f) => f.subarray(0, f.length - 100)))[0]).toMatch(/truncated or padded/);
    });
    it('a corrupt file (one bit flipped)', async () => {
      const lines = await refused((f) => {
        const g = f.slice();
        g[2000] = (g[2000] ?? 0) ^ 1;
        return g;
      });
      expect(lines).toEqual(['the snapshot is corrupt: its SHA-256 does not match its contents']);
    });
    it('an oversized file, before parsing it', async () => {
      expect((await refused((f) => f, undefined, 1024))[0]).toMatch(/over the limit of 1024 bytes/);
    });
    it('a section the destination does not have, in QEMU words', async () => {
      expect(
        await refused(
          (f) => f,
          () => [],
        ),
      ).toEqual([
        "Unknown savevm section or instance 'tpm-tis' 0. Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices",
        'load of migration failed: Invalid argument',
      ]);
    });
    it("a section version above the destination's, in QEMU words", async () => {
      const lines = await refused((f) => {
        const g = f.slice();
        g[16 + 20] = 1; // version_id 0 -> 1 (last byte of the u32)
        return rehash(g);
      });
      expect(lines).toEqual([
        "savevm: unsupported version 1 for 'tpm-tis' v0",
        'load of migration failed: Invalid argument',
      ]);
    });
    it('a field value the device cannot take (rw_offset past the buffer)', async () => {
      const lines = await refused((f) => {
        const g = f.slice();
        const rwOffset = 16 + 21 + 4096;
        g[rwOffset] = 0x13; // 0x1388 = 5000
        g[rwOffset + 1] = 0x88;
        return rehash(g);
      });
      expect(lines).toEqual([
        'tpm-tis: rw_offset must be 0..4096, got 5000',
        "error while loading state for instance 0x0 of device 'tpm-tis'",
        'load of migration failed: Invalid argument',
      ]);
    });
    it('a section whose fields do not match the description (missing footer)', async () => {
      const shorter: VMStateDescription = { ...VMSTATE_TPM_TIS, fields: VMSTATE_TPM_TIS.fields.slice(0, 5) };
      const lines = await refused(
        (f) => f,
        (dst) => [{ ...tisSaveStateEntry(dst.tis), desc: shorter, prepareLoad: () => () => undefined }],
      );
      expect(lines).toEqual([
        'Missing section footer for tpm-tis',
        'load of migration failed: Invalid argument',
      ]);
    });
  });

  it('any damage to the body (hash fixed up) is refused or loaded whole, never thrown otherwise', async () => {
    const file = await writeSnapshot([tisSaveStateEntry(tisReading(5).tis)]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 16, max: file.length - 33 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const g = file.slice();
          for (const [at, byte] of edits) g[at] = byte;
          const dst = tisReading(1);
          const before = dst.tis.snapshot();
          try {
            checkSnapshot(rehash(g), [tisSaveStateEntry(dst.tis)]);
          } catch (e) {
            expect(e).toBeInstanceOf(MigrationLoadError);
          }
          expect(dst.tis.snapshot()).toEqual(before);
        },
      ),
      { numRuns: 100 },
    );
  });
});
