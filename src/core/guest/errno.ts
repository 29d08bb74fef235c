// The kernel error codes the TPM drivers return (include/uapi/asm-generic/errno-base.h and errno.h), as
// negative numbers the way the drivers hand them back.
export const EPERM = -1;
export const EIO = -5;
export const EAGAIN = -11;
export const EFAULT = -14;
export const EBUSY = -16;
export const EPIPE = -32;
export const EINVAL = -22;
export const E2BIG = -7;
export const ENODATA = -61;
export const ETIME = -62;
export const ECANCELED = -125;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [EIO]: 'EIO',
  [E2BIG]: 'E2BIG',
  [EAGAIN]: 'EAGAIN',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EPIPE]: 'EPIPE',
  [EINVAL]: 'EINVAL',
  [ENODATA]: 'ENODATA',
  [ETIME]: 'ETIME',
  [ECANCELED]: 'ECANCELED',
};

/** 'ETIME' for -62; the number itself for codes this table does not know. */
export function errnoName(rc: number): string {
  return NAMES[rc] ?? String(rc);
}
