// Where the vCPU stands in KVM's three-step MMIO (guest → exit → device → re-entry), for the vCPU panel.
import type { GuestOp } from '../core/guest/program';
import type { VcpuView } from '../core/vm/vcpu';
import { hex, registerAt } from './tis-bits';

export const MMIO_STAGES = [
  { name: 'Guest', detail: 'the load or store traps' },
  { name: 'Exit', detail: 'KVM_EXIT_MMIO to QEMU' },
  { name: 'Device', detail: 'QEMU’s TIS does the access' },
  { name: 'Re-entry', detail: 'KVM_RUN: the instruction retires' },
] as const;

export interface VcpuStage {
  /** The current instruction, as assembly-ish text. */
  instruction: string;
  /** What it touches ("DATA_FIFO (locality 0)"), for MMIO. */
  target: string | null;
  /** For an MMIO instruction: how many of the four stages are done (0: about to trap; 3: waits for re-entry). */
  stagesDone: number | null;
  /** The exit is pending: the device may have acted, the guest register has not been written. */
  betweenExitAndReentry: boolean;
  /** run->mmio.data once QEMU handled a read: the value the guest has not received yet. */
  mmioData: number | null;
}

const REG = { 1: 'al', 2: 'ax', 4: 'eax' } as const;
const WIDTH = { 1: 'byte', 2: 'word', 4: 'dword' } as const;

export function describeOp(op: GuestOp | null): string {
  if (op === null) return 'hlt (the guest program has ended)';
  switch (op.op) {
    case 'read':
      return `mov ${REG[op.size]}, ${WIDTH[op.size]} [${hex(op.addr, 8)}]`;
    case 'write':
      return `mov ${WIDTH[op.size]} [${hex(op.addr, 8)}], ${hex(op.value, op.size * 2)}`;
    case 'sleep':
      return `msleep / udelay: ${formatDuration(op.ns)}`;
    case 'now':
      return 'read the clock (jiffies)';
    case 'print':
      return `printk("${op.text.length > 60 ? `${op.text.slice(0, 60)}…` : op.text}")`;
    case 'mark':
      return `; ${op.name}${markName(op.data)}`;
    case 'checkpoint':
      return '; driver checkpoint';
  }
}

function markName(data: unknown): string {
  if (typeof data === 'object' && data !== null && 'name' in data) {
    const name = (data as { name: unknown }).name;
    if (typeof name === 'string') return `: ${name}`;
  }
  return '';
}

function formatDuration(ns: number): string {
  if (ns >= 1_000_000) return `${ns / 1_000_000} ms`;
  if (ns >= 1_000) return `${ns / 1_000} µs`;
  return `${ns} ns`;
}

export function vcpuStage(v: VcpuView): VcpuStage {
  const op = v.currentOp;
  const isMmio = op !== null && (op.op === 'read' || op.op === 'write');
  const exit = v.pendingExit;
  let stagesDone: number | null = null;
  if (isMmio) stagesDone = exit === null ? 0 : exit.phase === 'exited' ? 2 : 3;
  return {
    instruction: describeOp(op),
    target: isMmio ? registerAt(op.addr) : null,
    stagesDone,
    betweenExitAndReentry: exit !== null,
    mmioData: exit !== null && !exit.isWrite && exit.phase === 'handled' ? exit.data : null,
  };
}
