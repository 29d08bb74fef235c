// The TIS register map and bits as the Linux driver names them (tpm_tis_core.h; the same in the 2.6.37
// tpm_tis.c), at the physical base the platform gives the device. fidelity-facts §1.1.

/** TIS_MEM_BASE: where the firmware (and QEMU) put the TIS. */
export const TIS_MEM_BASE = 0xfed40000;

const at = (l: number, offset: number): number => TIS_MEM_BASE + ((l << 12) | offset);
export const TPM_ACCESS = (l: number): number => at(l, 0x000);
export const TPM_INT_ENABLE = (l: number): number => at(l, 0x008);
export const TPM_STS = (l: number): number => at(l, 0x018);
export const TPM_DATA_FIFO = (l: number): number => at(l, 0x024);
export const TPM_DID_VID = (l: number): number => at(l, 0xf00);
export const TPM_RID = (l: number): number => at(l, 0xf04);

// enum tis_access
export const TPM_ACCESS_VALID = 0x80;
export const TPM_ACCESS_ACTIVE_LOCALITY = 0x20;
export const TPM_ACCESS_REQUEST_PENDING = 0x04;
export const TPM_ACCESS_REQUEST_USE = 0x02;

// enum tis_status
export const TPM_STS_VALID = 0x80;
export const TPM_STS_COMMAND_READY = 0x40;
export const TPM_STS_GO = 0x20;
export const TPM_STS_DATA_AVAIL = 0x10;
export const TPM_STS_DATA_EXPECT = 0x08;
export const TPM_STS_RESPONSE_RETRY = 0x02;
/** Bits that must read as zero; a status with any of them set is not a status (LX-new). */
export const TPM_STS_READ_ZERO = 0x23;

/** TPM_HEADER_SIZE: tag, size and code or rc. */
export const TPM_HEADER_SIZE = 10;
/** TPM_BUFSIZE: the size of /dev/tpm0's buffer, and so the `count` recv is given. */
export const TPM_BUFSIZE = 4096;

/** The response size field, bytes 2..5, big-endian (be32_to_cpu(*(__be32 *)(buf + 2))). */
export function headerSize(buf: Uint8Array): number {
  return (((buf[2] ?? 0) << 24) | ((buf[3] ?? 0) << 16) | ((buf[4] ?? 0) << 8) | (buf[5] ?? 0)) >>> 0;
}

/** The ordinal (command code) of a command, or the rc of a response: bytes 6..9. */
export function headerCode(buf: Uint8Array): number {
  return (((buf[6] ?? 0) << 24) | ((buf[7] ?? 0) << 16) | ((buf[8] ?? 0) << 8) | (buf[9] ?? 0)) >>> 0;
}
