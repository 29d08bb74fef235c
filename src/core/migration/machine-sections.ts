// The sections of a whole machine's snapshot, in the order QEMU's stream has them: the RAM section first
// (its block list is checked before any device, which is why "Unknown ramblock" fires first), the
// guest clock ("timer", cpus.c vmstate_timers), the vCPU ("cpu"), the TPM backend ("tpm-emulator", created
// by -tpmdev before -device), the TIS ("tpm-tis"). Then two sections of TIS Lab's own: the guest
// program ("tislab/guest": in a real VM it is guest RAM), and "tislab/cut", what the observer noted at the
// cut (where the source stopped, the value a pending load held in run->mmio.data) so the destination can
// name a hazard; the machine behaves the same without it.
import { cloneJson, type JsonValue } from '../kernel';
import { isRecord } from '../kernel/checks';
import type { CutPoint } from '../vm/hazards';
import type { GuestRecord, Machine } from '../vm/machine';
import type { VcpuState } from '../vm/vcpu-state';
import type { SaveStateEntry } from './snapshot-file';
import { tisSaveStateEntry } from './tis-vmstate';
import {
  tpmEmulatorSaveStateEntry,
  type InflightStrategy,
  type ReplayedCommand,
} from './tpm-emulator-vmstate';
import { VMStateError, type VMObject, type VMStateDescription } from './vmstate';

/** What one save or one load shares between its sections. */
export interface SectionContext {
  strategy: InflightStrategy;
  /** Save: set before pre_save. Load: read from "tislab/cut". */
  cut: CutPoint | null;
  /** The load the source had dispatched but not retired at the cut, with the value it read. */
  lostRead: { rip: number; addr: number; size: 1 | 2 | 4; value: number } | null;
  /** Load: the in-flight command the stream carries for 'replay'. */
  replay: ReplayedCommand | null;
}

export const VMSTATE_RAM: VMStateDescription = {
  name: 'ram',
  versionId: 4,
  minimumVersionId: 4,
  fields: [
    // ram_save_setup: the list of (idstr, used_length) of every RAMBlock, then the pages.
    { name: 'blocks', type: 'json' },
    { name: 'total_length', type: 'u32' },
    { name: 'pages', type: { vbuffer: 'total_length' } },
  ],
};

/** cpus.c vmstate_timers; QEMU's offsets are our one virtual clock. */
export const VMSTATE_TIMERS: VMStateDescription = {
  name: 'timer',
  versionId: 2,
  minimumVersionId: 1,
  fields: [
    { name: 'cpu_ticks_offset', type: 'u64' },
    { name: 'dummy', type: 'u64' },
    { name: 'cpu_clock_offset', type: 'u64', version: 2 },
  ],
};

/** The vCPU's architectural state: RIP, the load destination register, halted, and its next step. */
export const VMSTATE_CPU: VMStateDescription = {
  name: 'cpu',
  versionId: 1,
  minimumVersionId: 1,
  fields: [
    { name: 'rip', type: 'u64' },
    { name: 'rax', type: 'u32' },
    { name: 'halted', type: 'bool' },
    { name: 'next', type: 'json' },
  ],
};

export const VMSTATE_GUEST: VMStateDescription = {
  name: 'tislab/guest',
  versionId: 1,
  minimumVersionId: 1,
  fields: [
    { name: 'checkpoint', type: 'json' },
    { name: 'inputs', type: 'json' },
    { name: 'record', type: 'json' },
  ],
};

export const VMSTATE_CUT: VMStateDescription = {
  name: 'tislab/cut',
  versionId: 1,
  minimumVersionId: 1,
  fields: [
    { name: 'cut', type: 'json' },
    { name: 'lost_read', type: 'json' },
  ],
};

function entry(
  idstr: string,
  desc: VMStateDescription,
  save: () => VMObject,
  prepareLoad: SaveStateEntry['prepareLoad'],
): SaveStateEntry {
  return { idstr, instanceId: 0, desc, save, prepareLoad };
}

function fail(line: string): never {
  throw new VMStateError([line]);
}

/** The machine's sections, for a save from it or a load into it. */
export function machineSections(machine: Machine, ctx: SectionContext): SaveStateEntry[] {
  let cpu: VMObject | null = null;
  const waitForBackend = ctx.strategy === 'wait' ? () => machine.backend.finishSync() : undefined;
  return [
    ramEntry(machine),
    entry(
      'timer',
      VMSTATE_TIMERS,
      () => {
        // What is pending at a save: the stopped vCPU's next step travels in "cpu"; the backend's thread
        // pool and bottom half do not travel (QEMU migrates neither: 'wait' drains them in pre_save).
        // Nothing else schedules events in this machine; a future device timer must get its own field
        // rather than be dropped here unnoticed.
        const stray = machine.scheduler.save().events.find((e) => !e.kind.startsWith('tpm0:'));
        if (stray) throw new Error(`timer: a pending '${stray.kind}' event has no place in the stream`);
        const now = machine.scheduler.nowNs;
        return { cpu_ticks_offset: now, dummy: 0, cpu_clock_offset: now };
      },
      (state) => {
        const now = (state.cpu_clock_offset ?? state.cpu_ticks_offset) as number;
        return () =>
          machine.scheduler.restore({ nowNs: now, nextSeq: machine.scheduler.save().nextSeq, events: [] });
      },
    ),
    entry(
      'cpu',
      VMSTATE_CPU,
      () => {
        const s = machine.vcpu.saveForMigration();
        return { rip: s.rip, rax: s.rax, halted: s.halted, next: s.next as JsonValue };
      },
      (state) => {
        cpu = state;
        return () => {};
      },
    ),
    tpmEmulatorSaveStateEntry(machine.backend, {
      strategy: ctx.strategy,
      onReplay: (cmd) => {
        ctx.replay = cmd;
      },
    }),
    tisSaveStateEntry(machine.tis, waitForBackend, () =>
      ctx.replay ? { locality: ctx.replay.locality, inLength: ctx.replay.input.length } : undefined,
    ),
    entry(
      'tislab/guest',
      VMSTATE_GUEST,
      () => {
        const s = machine.vcpu.saveForMigration();
        return {
          checkpoint: s.program.checkpoint,
          inputs: s.program.inputs,
          record: machine.saveGuestRecord() as unknown as JsonValue,
        };
      },
      (state) => {
        if (cpu === null) fail("tislab/guest: the stream has no 'cpu' section before it");
        const c = cpu;
        const vcpu: VcpuState = {
          rip: c.rip as number,
          rax: c.rax as number,
          pendingExit: null,
          next: c.next as VcpuState['next'],
          halted: c.halted as boolean,
          program: { checkpoint: state.checkpoint as JsonValue, inputs: state.inputs as (number | null)[] },
        };
        const record = parseGuestRecord(state.record);
        return () => {
          machine.vcpu.restore(vcpu);
          machine.restoreGuestRecord(record);
        };
      },
    ),
    entry(
      'tislab/cut',
      VMSTATE_CUT,
      () => ({ cut: ctx.cut as unknown as JsonValue, lost_read: ctx.lostRead as unknown as JsonValue }),
      (state) => {
        const cut = state.cut as unknown as CutPoint | null;
        if (cut !== null && !(isRecord(cut) && typeof cut.description === 'string')) {
          fail('tislab/cut: malformed cut point');
        }
        return () => {
          ctx.cut = cut;
          ctx.lostRead = state.lost_read as unknown as SectionContext['lostRead'];
        };
      },
    ),
  ];
}

/** ram_save_setup / ram_load_precopy's block list: every block must exist here with the same length. */
function ramEntry(machine: Machine): SaveStateEntry {
  const blocks = [machine.ppi];
  return entry(
    'ram',
    VMSTATE_RAM,
    () => {
      const total = blocks.reduce((n, b) => n + b.bytes.length, 0);
      const pages = new Uint8Array(total);
      let off = 0;
      for (const b of blocks) {
        pages.set(b.bytes, off);
        off += b.bytes.length;
      }
      return {
        blocks: blocks.map((b) => ({ idstr: b.idstr, length: b.bytes.length })),
        total_length: total,
        pages,
      };
    },
    (state) => {
      const list = state.blocks;
      if (!Array.isArray(list)) fail('ram: malformed block list');
      const plan: { bytes: Uint8Array; from: number; length: number }[] = [];
      let off = 0;
      for (const raw of list as unknown[]) {
        if (!isRecord(raw) || typeof raw.idstr !== 'string' || typeof raw.length !== 'number') {
          fail('ram: malformed block list');
        }
        const item = { idstr: raw.idstr, length: raw.length };
        const local = blocks.find((b) => b.idstr === item.idstr);
        // parse_ramblocks: qemu_ram_block_by_name, then the length check of a non-resizable block.
        if (local === undefined) fail(`Unknown ramblock "${item.idstr}", cannot accept migration`);
        if (local.bytes.length !== item.length) {
          fail(
            `Length mismatch: ${item.idstr}: 0x${item.length.toString(16)} in != 0x${local.bytes.length.toString(16)}: Invalid argument`,
          );
        }
        plan.push({ bytes: local.bytes, from: off, length: item.length });
        off += item.length;
      }
      if (off !== state.total_length)
        fail(`ram: the blocks add up to ${off} bytes, the stream carries ${String(state.total_length)}`);
      const pages = state.pages as Uint8Array;
      return () => {
        for (const p of plan) p.bytes.set(pages.subarray(p.from, p.from + p.length));
      };
    },
  );
}

function parseGuestRecord(raw: unknown): GuestRecord {
  if (
    !isRecord(raw) ||
    !Array.isArray(raw.console) ||
    !Array.isArray(raw.transactions) ||
    !Array.isArray(raw.marks) ||
    typeof raw.responseBytes !== 'number'
  ) {
    fail('tislab/guest: malformed guest record');
  }
  for (const l of raw.console) {
    if (!isRecord(l) || typeof l.ns !== 'number' || typeof l.text !== 'string')
      fail('tislab/guest: malformed console line');
  }
  for (const m of raw.marks) {
    if (!Array.isArray(m) || typeof m[0] !== 'string' || typeof m[1] !== 'number')
      fail('tislab/guest: malformed mark count');
  }
  return cloneJson(raw as unknown as JsonValue) as unknown as GuestRecord;
}
