// The TIS register map and constants, as QEMU's include/hw/acpi/tpm.h and hw/tpm/tpm_tis.h define them
// (../shared/reference/fidelity-facts.md §4.1 and §6.1).

export const TIS_ADDR_BASE = 0xfed40000;
/** TPM_TIS_ADDR_SIZE: five localities of 4 KiB. */
export const TIS_ADDR_SIZE = 0x5000;
export const TIS_NUM_LOCALITIES = 5;
export const TIS_LOCALITY_SHIFT = 12;
/** TPM_TIS_NO_LOCALITY: active_locty, next_locty and aborting_locty when nobody holds them. */
export const NO_LOCALITY = 0xff;
/** TPM_TIS_BUFFER_MAX: the one buffer all localities share. */
export const TIS_BUFFER_MAX = 4096;
/** TPM_TIS_NO_DATA_BYTE: what the FIFO returns when there is nothing to read. */
export const NO_DATA_BYTE = 0xff;
/** TPM_TIS_IRQ: the ISA default, returned by INT_VECTOR. */
export const TIS_IRQ = 5;

// Register offsets within a locality (QEMU decodes them as addr & 0xffc).
export const REG_ACCESS = 0x00;
export const REG_INT_ENABLE = 0x08;
export const REG_INT_VECTOR = 0x0c;
export const REG_INT_STATUS = 0x10;
export const REG_INTF_CAPABILITY = 0x14;
export const REG_STS = 0x18;
export const REG_DATA_FIFO = 0x24;
export const REG_INTERFACE_ID = 0x30;
export const REG_DATA_XFIFO = 0x80;
export const REG_DATA_XFIFO_END = 0xbc;
export const REG_DID_VID = 0xf00;
export const REG_RID = 0xf04;

// TPM_ACCESS bits.
export const ACCESS_TPM_REG_VALID_STS = 0x80;
export const ACCESS_ACTIVE_LOCALITY = 0x20;
export const ACCESS_BEEN_SEIZED = 0x10;
export const ACCESS_SEIZE = 0x08;
export const ACCESS_PENDING_REQUEST = 0x04;
export const ACCESS_REQUEST_USE = 0x02;
export const ACCESS_TPM_ESTABLISHMENT = 0x01;

// TPM_STS bits.
export const STS_VALID = 1 << 7;
export const STS_COMMAND_READY = 1 << 6;
export const STS_TPM_GO = 1 << 5;
export const STS_DATA_AVAILABLE = 1 << 4;
export const STS_EXPECT = 1 << 3;
export const STS_SELFTEST_DONE = 1 << 2;
export const STS_RESPONSE_RETRY = 1 << 1;
export const STS_COMMAND_CANCEL = 1 << 24;
export const STS_RESET_ESTABLISHMENT_BIT = 1 << 25;
export const STS_TPM_FAMILY_MASK = 3 << 26;
export const STS_TPM_FAMILY1_2 = 0;
export const STS_TPM_FAMILY2_0 = 1 << 26;
/** TPM_TIS_BURST_COUNT(x): burstCount lives in bits 8-23. */
export const burstCount = (count: number): number => (count << 8) >>> 0;

// TPM_INT_ENABLE / TPM_INT_STATUS bits.
export const INT_ENABLED = 0x80000000;
export const INT_DATA_AVAILABLE = 1 << 0;
export const INT_STS_VALID = 1 << 1;
export const INT_LOCALITY_CHANGED = 1 << 2;
export const INT_COMMAND_READY = 1 << 7;
export const INT_POLARITY_MASK = 3 << 3;
export const INT_POLARITY_LOW_LEVEL = 1 << 3;
export const INTERRUPTS_SUPPORTED = 0x87;

/** TPM_TIS_CAPABILITIES_SUPPORTED1_3 and 2_0: INTF_CAPABILITY by backend TPM version. */
export const CAPABILITIES_SUPPORTED1_3 = 0x20000697;
export const CAPABILITIES_SUPPORTED2_0 = 0x30000697;
/** TPM_TIS_IFACE_ID_SUPPORTED_FLAGS2_0: FIFO interface, 5 localities, TIS supported. */
export const IFACE_ID_SUPPORTED_FLAGS2_0 = 0x00002100;
/** TPM_TIS_IFACE_ID_SUPPORTED_FLAGS1_3: TIS 1.3 type, everything else "don't care". */
export const IFACE_ID_SUPPORTED_FLAGS1_3 = 0xffffffff;
export const IFACE_ID_INT_SEL_LOCK = 1 << 19;

export const TPM_DID = 0x0001;
export const TPM_VID = 0x1014; // PCI_VENDOR_ID_IBM
export const DID_VID = ((TPM_DID << 16) | TPM_VID) >>> 0;
export const TPM_RID = 0x01;

/** TPMTISState, with QEMU's enum values (they are what the "tpm-tis/locty" vmstate stores). */
export const TisState = {
  IDLE: 0,
  READY: 1,
  COMPLETION: 2,
  EXECUTION: 3,
  RECEPTION: 4,
} as const;
export type TisState = (typeof TisState)[keyof typeof TisState];

/** State names as the machine's command regions spell them, indexed by QEMU's enum value. */
export const TIS_STATE_NAMES = ['idle', 'ready', 'completion', 'execution', 'reception'] as const;
export type TisStateName = (typeof TIS_STATE_NAMES)[number];

export const isValidLocality = (locty: number): boolean => locty < TIS_NUM_LOCALITIES;

/** tpm_tis_locality_from_addr, on an address relative to the region base. */
export const localityFromAddr = (addr: number): number => (addr >>> TIS_LOCALITY_SHIFT) & 7;

/** The register a region-relative address selects, as QEMU's `addr & 0xffc`. */
export const registerOffset = (addr: number): number => addr & 0xffc;

/** True for DATA_FIFO and the XDATA_FIFO window (QEMU's case labels). */
export const isFifoOffset = (offset: number): boolean =>
  offset === REG_DATA_FIFO || (offset >= REG_DATA_XFIFO && offset <= REG_DATA_XFIFO_END);

/**
 * A guest-physical address inside the TIS region, made region-relative; undefined outside
 * [TIS_ADDR_BASE, TIS_ADDR_BASE + TIS_ADDR_SIZE).
 */
export function regionOffset(physAddr: number): number | undefined {
  const rel = physAddr - TIS_ADDR_BASE;
  return rel >= 0 && rel < TIS_ADDR_SIZE ? rel : undefined;
}

/** be32 of buffer[2..5]: tpm_cmd_get_size, the size field of a TPM command or response header. */
export function tpmCmdGetSize(buffer: Uint8Array): number {
  return (
    (((buffer[2] ?? 0) << 24) | ((buffer[3] ?? 0) << 16) | ((buffer[4] ?? 0) << 8) | (buffer[5] ?? 0)) >>> 0
  );
}

/**
 * Whether QEMU's memory core hands an access to the TIS at all: memory_region_access_valid with
 * tpm_tis_memory_ops' .valid (min 1, max 4, unaligned not allowed). A word at STS+1 or a dword at STS+2
 * never reaches tpm_tis_mmio_read/write: the core returns a decode error instead. TisDevice itself models
 * the device callbacks and computes any access; the bus in front of it should apply this check.
 */
export function accessReachesDevice(addr: number, size: number): boolean {
  return (size === 1 || size === 2 || size === 4) && (addr & (size - 1)) === 0;
}

const REGISTER_NAMES: ReadonlyArray<readonly [number, string]> = [
  [REG_ACCESS, 'ACCESS'],
  [REG_INT_ENABLE, 'INT_ENABLE'],
  [REG_INT_VECTOR, 'INT_VECTOR'],
  [REG_INT_STATUS, 'INT_STATUS'],
  [REG_INTF_CAPABILITY, 'INTF_CAPABILITY'],
  [REG_STS, 'STS'],
  [REG_DATA_FIFO, 'DATA_FIFO'],
  [REG_INTERFACE_ID, 'INTERFACE_ID'],
  [REG_DID_VID, 'DID_VID'],
  [REG_RID, 'RID'],
];

/**
 * Where a guest-physical address falls in the TIS, for people: the register ("STS+1" for its second byte,
 * "XDATA_FIFO" anywhere in that window) and the locality; null outside the TIS or between registers.
 */
export function tisRegisterAt(addr: number): { register: string; locality: number } | null {
  const off = addr - TIS_ADDR_BASE;
  if (off < 0 || off >= TIS_ADDR_SIZE) return null;
  const reg = off & 0xfff;
  const locality = off >> TIS_LOCALITY_SHIFT;
  if (reg >= REG_DATA_XFIFO && reg < REG_DATA_XFIFO_END + 4) return { register: 'XDATA_FIFO', locality };
  for (const [base, name] of REGISTER_NAMES) {
    if (reg >= base && reg < base + 4)
      return { register: reg > base ? `${name}+${reg - base}` : name, locality };
  }
  return null;
}
