// swtpm 0.7.1 around the TPM engine: the control channel (ioctl.ts), stream framing (framing.ts), the
// state files (nvstore.ts) and the device that puts them together (device.ts).
export { SwtpmDevice, blobErrorResult, MIN_BUFFER_SIZE, MAX_BUFFER_SIZE } from './device';
export type { SwtpmDeviceOptions, CommandResult } from './device';
export { MemoryStateStore, STATE_FILE, wrapMigrationBlob, wrapStateFile, unwrapStateFile } from './nvstore';
export type { StateStore } from './nvstore';
export * from './ioctl';
export * from './framing';
