// The TIS FIFO interface: QEMU's hw/tpm/tpm_tis_common.c as an XState machine plus a device wrapper.
export * from './backend-port';
export * from './registers';
export { initialRegisters, step } from './tis-logic';
export type { LocalityRegs, TisEffect, TisEvent, TisRegisters, TisStepResult, TraceData } from './tis-logic';
export { stepOnce, tisMachine } from './tis.machine';
export type { TisContext, TisInput, TisMachine } from './tis.machine';
export { TisDevice } from './tis-device';
export type { TisDeviceOptions, TisRegisterView, TisSnapshot, TisTraceHook } from './tis-device';
