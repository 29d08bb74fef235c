import { describe, expect, it } from 'vitest';
import { CC } from '../tpm2/constants';
import { createMachine, type Machine } from '../vm/machine';
import { migrate, prepareIncoming, restoreMachine, saveMachine } from './migrate';
import { machineSections } from './machine-sections';
import { MigrationLoadError, writeSnapshot, type SaveStateEntry } from './snapshot-file';

const FIFO = 0xfed40024;

const KEYGEN_2011 = {
  seed: '2011',
  guest: { driver: 'linux-2.6.37', workload: 'keygen', iterations: 2 },
  completeMmioBeforeStop: false,
};
const GET_RANDOM = { seed: 'demo', guest: { driver: 'linux', workload: 'getrandom', iterations: 2 } };
const NV_COUNTER = { seed: 'demo', guest: { driver: 'linux', workload: 'nv-counter', iterations: 3 } };

/** The vCPU stands between the exit and the re-entry of a FIFO read, `n` response bytes already read. */
function atFifoRead(m: Machine, n: number): () => boolean {
  return () => {
    const e = m.vcpu.view.pendingExit;
    return e !== null && e.phase === 'handled' && !e.isWrite && e.addr === FIFO && m.responseBytesRead >= n;
  };
}

/** A command with this code is in the backend, in this phase. */
function inFlight(m: Machine, cc: number, phase: string): () => boolean {
  return () => {
    const cmd = m.backend.inFlightCommand;
    return cmd !== null && m.backend.phase === phase && new DataView(cmd.input.buffer).getUint32(6) === cc;
  };
}

async function consoleOf(config: unknown): Promise<string[]> {
  const m = await createMachine(config);
  await m.run();
  return m.consoleLines.map((l) => l.text);
}

async function runToEnd(m: Machine): Promise<string[]> {
  await m.run({ limitNs: 60_000_000_000 });
  return m.consoleLines.map((l) => l.text);
}

describe('migrate', () => {
  it('an idle machine migrates and the guest goes on as if nothing happened', async () => {
    const reference = await consoleOf(NV_COUNTER);
    const src = await createMachine(NV_COUNTER);
    await src.run({ until: { kind: 'transactionsDone', count: 3 } });
    const { destination, snapshot, cut } = await migrate(src, NV_COUNTER);
    expect(snapshot.length).toBeGreaterThan(0);
    expect(cut.pendingMmio).toBeNull();
    expect(destination.isPaused).toBe(true);
    expect(destination.scheduler.nowNs).toBe(src.scheduler.nowNs);
    expect(await runToEnd(destination)).toEqual(reference);
    expect(destination.hazards).toEqual([]);
  });

  it('the snapshot of a restored machine is the snapshot it was restored from', async () => {
    const src = await createMachine(NV_COUNTER);
    await src.run({ until: { kind: 'transactionsDone', count: 2 } });
    const first = await saveMachine(src);
    const dst = await restoreMachine(first, NV_COUNTER);
    expect(await saveMachine(dst)).toEqual(first);
  });

  it('a destination started ahead (qemu -incoming) survives a refused file and takes the next good one', async () => {
    const src = await createMachine(NV_COUNTER);
    await src.run({ until: { kind: 'transactionsDone', count: 2 } });
    const good = await saveMachine(src);
    const bad = good.slice();
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    const incoming = await prepareIncoming(NV_COUNTER);
    const before = incoming.machine.view;
    await expect(incoming.load(bad)).rejects.toThrow(/SHA-256 does not match/);
    expect(incoming.machine.view).toEqual(before);
    const dst = await incoming.load(good);
    expect(dst.scheduler.nowNs).toBe(src.scheduler.nowNs);
    await expect(incoming.load(good)).rejects.toThrow(/already been loaded/);
  });

  describe('a pause between a FIFO read exit and its re-entry (the 2011 report)', () => {
    it('without the fix, the destination reads the byte again: one byte lost, the response ends in 0xff', async () => {
      const reference = await consoleOf(KEYGEN_2011);
      const src = await createMachine(KEYGEN_2011);
      await src.run({ until: atFifoRead(src, 20) });
      const { destination, cut } = await migrate(src, KEYGEN_2011);
      expect(cut.description).toMatch(/between the exit and the re-entry of a 1-byte read of DATA_FIFO/);
      const out = await runToEnd(destination);
      expect(destination.hazards.map((h) => h.title)).toEqual(['Duplicated MMIO read']);
      expect(destination.hazards[0]!.detail).toMatch(/rw_offset moved 21 → 22/);
      const dump = (lines: string[]) => {
        const line = lines.find((l) => l.startsWith('keygen #0'))!;
        return line.slice(line.indexOf('bytes): ') + 'bytes): '.length).split(' ');
      };
      const want = dump(reference);
      expect(dump(out)).toEqual([...want.slice(0, 20), ...want.slice(21), 'ff']);
      expect(destination.trace.window().some((e) => e.source === 'hazard')).toBe(true);
    });

    it('with the fix, pause completes the read first and the destination matches the run without migration', async () => {
      const config = { ...KEYGEN_2011, completeMmioBeforeStop: true };
      const reference = await consoleOf(config);
      const src = await createMachine(config);
      await src.run({ until: atFifoRead(src, 20) });
      const { destination, cut } = await migrate(src, config);
      expect(cut.description).toMatch(/vm_stop completed the access first/);
      expect(await runToEnd(destination)).toEqual(reference);
      expect(destination.hazards).toEqual([]);
    });
  });

  describe('a migration while the TPM executes a command (the 2017 series)', () => {
    it("'wait' finishes the command in pre_save: nothing is lost", async () => {
      const reference = await consoleOf(NV_COUNTER);
      const src = await createMachine(NV_COUNTER);
      await src.run({ until: inFlight(src, CC.NV_Increment, 'executing') });
      const { destination, cut } = await migrate(src, NV_COUNTER, { inflight: 'wait' });
      expect(cut.description).toMatch(/TPM2_NV_Increment executing in the TPM/);
      expect(await runToEnd(destination)).toEqual(reference);
      expect(destination.hazards).toEqual([]);
    });

    it("'drop' loses the response and the driver times out with the kernel's message", async () => {
      const src = await createMachine(GET_RANDOM);
      await src.run({ until: inFlight(src, CC.GetRandom, 'executing') });
      const { destination } = await migrate(src, GET_RANDOM, { inflight: 'drop' });
      expect(destination.hazards.map((h) => h.title)).toEqual(['Lost response']);
      const out = await runToEnd(destination);
      expect(out).toContain('tpm tpm0: Operation Timed out');
      expect(out).toContain('getrandom #0: GetRandom failed: error -62 (ETIME)');
    });

    it("'replay' runs NV_Increment twice: the counter skips a value", async () => {
      const reference = await consoleOf(NV_COUNTER);
      expect(reference.filter((l) => l.includes('counter ='))).toEqual([
        'nv-counter #0: counter = 1',
        'nv-counter #1: counter = 2',
        'nv-counter #2: counter = 3',
      ]);
      const src = await createMachine(NV_COUNTER);
      await src.run({ until: { kind: 'transactionsDone', count: 3 } });
      await src.run({ until: inFlight(src, CC.NV_Increment, 'executing') });
      const { destination } = await migrate(src, NV_COUNTER, { inflight: 'replay' });
      expect(destination.hazards.map((h) => h.title)).toEqual(['Double execution']);
      const out = await runToEnd(destination);
      expect(out.filter((l) => l.includes('counter ='))).toEqual([
        'nv-counter #0: counter = 1',
        'nv-counter #1: counter = 3',
        'nv-counter #2: counter = 4',
      ]);
    });
  });

  describe('refusals leave everything as it was', () => {
    async function refusal(bytes: Uint8Array, config: unknown = NV_COUNTER): Promise<string[]> {
      try {
        await restoreMachine(bytes, config);
      } catch (e) {
        if (e instanceof MigrationLoadError) return e.lines;
        throw e;
      }
      throw new Error('expected the load to be refused');
    }

    it('a corrupt file', async () => {
      const src = await createMachine(NV_COUNTER);
      await src.run({ until: { kind: 'transactionsDone', count: 1 } });
      const bytes = await saveMachine(src);
      const before = src.view;
      bytes[100] = bytes[100]! ^ 1;
      expect(await refusal(bytes)).toEqual([
        'the snapshot is corrupt: its SHA-256 does not match its contents',
      ]);
      expect(src.view).toEqual(before);
    });

    /** A stream from a paused source whose sections were changed before writing (hash still valid). */
    async function streamWith(patch: (entries: SaveStateEntry[]) => SaveStateEntry[]): Promise<Uint8Array> {
      const src = await createMachine(NV_COUNTER);
      await src.run({ until: { kind: 'transactionsDone', count: 1 } });
      await src.pause();
      const ctx = { strategy: 'wait' as const, cut: null, lostRead: null, replay: null };
      return writeSnapshot(patch(machineSections(src, ctx)));
    }

    it("a RAM block the destination does not have: QEMU's words, before any device is looked at", async () => {
      const bytes = await streamWith((entries) =>
        entries.map((e) =>
          e.idstr === 'ram'
            ? {
                ...e,
                save: () => ({
                  blocks: [{ idstr: 'tpm-crb-cmd', length: 0xf80 }],
                  total_length: 0xf80,
                  pages: new Uint8Array(0xf80),
                }),
              }
            : e,
        ),
      );
      expect(await refusal(bytes)).toEqual([
        'Unknown ramblock "tpm-crb-cmd", cannot accept migration',
        "error while loading state for instance 0x0 of device 'ram'",
        'load of migration failed: Invalid argument',
      ]);
    });

    it("a section version above the destination's", async () => {
      const bytes = await streamWith((entries) =>
        entries.map((e) => (e.idstr === 'tpm-tis' ? { ...e, desc: { ...e.desc, versionId: 3 } } : e)),
      );
      expect(await refusal(bytes)).toEqual([
        "savevm: unsupported version 3 for 'tpm-tis' v0",
        'load of migration failed: Invalid argument',
      ]);
    });

    it('a device the destination does not have', async () => {
      const bytes = await streamWith((entries) => [
        ...entries,
        { ...entries.find((e) => e.idstr === 'timer')!, idstr: 'tpm-crb' },
      ]);
      expect((await refusal(bytes))[0]).toMatch(/^Unknown savevm section or instance 'tpm-crb' 0\./);
    });

    it('a TPM state blob the TPM refuses fails in post_load, naming the device', async () => {
      const bytes = await streamWith((entries) =>
        entries.map((e) => {
          if (e.idstr !== 'tpm-emulator') return e;
          return {
            ...e,
            save: () => {
              const state = e.save();
              const blob = (state['permanent.buffer'] as Uint8Array).slice();
              blob[blob.length - 1]! ^= 0xff;
              return { ...state, 'permanent.buffer': blob };
            },
          };
        }),
      );
      const lines = await refusal(bytes);
      expect(lines[0]).toMatch(/^tpm-emulator: Setting the stateblob \(type 1\) failed with a TPM error 0x/);
      expect(lines.slice(1)).toEqual([
        "error while loading state for instance 0x0 of device 'tpm-emulator'",
        'load of migration failed: Input/output error',
      ]);
    });

    it('a truncated, a foreign and an oversized file', async () => {
      const src = await createMachine(NV_COUNTER);
      const bytes = await saveMachine(src);
      expect((await refusal(bytes.subarray(0, bytes.length - 7)))[0]).toMatch(/truncated/);
      expect((await refusal(new TextEncoder().encode('QEVM\x00\x00\x00\x03')))[0]).toMatch(
        /not a TIS Lab snapshot/,
      );
      await expect(restoreMachine(bytes, NV_COUNTER, { limitBytes: 1024 })).rejects.toThrow(/over the limit/);
    });

    it('a destination config that is not valid is refused before anything is read', async () => {
      const src = await createMachine(NV_COUNTER);
      const bytes = await saveMachine(src);
      await expect(restoreMachine(bytes, { ...NV_COUNTER, tpmSpeed: -1 })).rejects.toThrow(
        /field 'tpmSpeed'/,
      );
    });
  });
});
