// The NVRAM blobstore (issue 6): named blobs with registered maximum sizes on one drive, asynchronous
// writes with completion, and writes that a crash leaves old or new, never torn.
export { describeTornWrite, Nvram } from './nvram';
export type { BlobStat, TornWrite, WriteOptions } from './nvram';
export { NvramError } from './errors';
export type { NvramErrorReason } from './errors';
export { MemoryDrive, checkDriveRange } from './drive';
export type { Drive } from './drive';
export { CrashingDrive, DriveCrashedError } from './crash-drive';
export { requiredDriveSize, SECTOR_SIZE } from './layout';
export type { BlobSpec } from './layout';
