import { describe, expect, it } from 'vitest';
import type { VcpuView } from '../core/vm/vcpu';
import { describeOp, vcpuStage } from './vcpu-stage';

const base: VcpuView = {
  runState: 'running',
  rip: 7,
  rax: 0,
  pendingExit: null,
  currentOp: { op: 'read', addr: 0xfed40024, size: 1 },
  next: { step: 'exit', atNs: 100 },
  completeMmioBeforeStop: false,
  kvmSteps: 12,
};

describe('vcpuStage', () => {
  it('follows a FIFO read through exit, device and the wait for re-entry', () => {
    expect(vcpuStage(base)).toMatchObject({
      instruction: 'mov al, byte [0xfed40024]',
      target: 'DATA_FIFO (locality 0)',
      stagesDone: 0,
      betweenExitAndReentry: false,
    });
    const exited = vcpuStage({
      ...base,
      pendingExit: { phase: 'exited', addr: 0xfed40024, size: 1, isWrite: false, data: null },
    });
    expect(exited).toMatchObject({ stagesDone: 2, betweenExitAndReentry: true, mmioData: null });
    const handled = vcpuStage({
      ...base,
      pendingExit: { phase: 'handled', addr: 0xfed40024, size: 1, isWrite: false, data: 0x3a },
    });
    expect(handled).toMatchObject({ stagesDone: 3, betweenExitAndReentry: true, mmioData: 0x3a });
  });

  it('has no stages for an instruction that does not touch MMIO', () => {
    expect(vcpuStage({ ...base, currentOp: { op: 'sleep', ns: 20_000 } }).stagesDone).toBeNull();
    expect(describeOp({ op: 'sleep', ns: 20_000 })).toBe('msleep / udelay: 20 µs');
    expect(describeOp({ op: 'write', addr: 0xfed40018, size: 1, value: 0x40 })).toBe(
      'mov byte [0xfed40018], 0x40',
    );
    expect(describeOp(null)).toMatch(/ended/);
  });
});
