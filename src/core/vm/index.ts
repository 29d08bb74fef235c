// The machine: memory map, vCPU with KVM's split MMIO execution, run control and assembly of all parts.
export { MmioBus } from './bus';
export type { MmioDevice, MmioRegion } from './bus';
export { Vcpu } from './vcpu';
export type { VcpuOptions, VcpuRunState, VcpuView } from './vcpu';
export { DEFAULT_STEP_TIMES, parseVcpuState } from './vcpu-state';
export type { MmioExit, VcpuState, VcpuStep, VcpuStepTimes } from './vcpu-state';
export { Machine, createMachine } from './machine';
export type { MachineOptions, MachineView } from './machine';
export { MachineConfigError, parseMachineConfig } from './machine-config';
export type { MachineConfig } from './machine-config';
export { conditionPredicate, parseRunCondition } from './run-control';
export type { RunCondition, RunOptions, RunOutcome, RunProbe, RunStop } from './run-control';
export { createTisRig } from './tis-rig';
export type { TisRig, TisRigOptions } from './tis-rig';
