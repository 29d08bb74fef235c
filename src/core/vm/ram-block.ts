// A block of guest RAM as QEMU's RAMBlock: named, fixed size, migrated by the "ram" section (not by a device's
// vmstate). The TIS machine has one, the Physical Presence Interface memory "tpm-ppi" (hw/tpm/tpm_ppi.c
// tpm_ppi_init: 0x400 bytes at 0xFED45000, registered with vmstate_register_ram). Mapped on the bus it
// reads and writes as little-endian memory, as an x86 guest sees RAM.
import type { MmioDevice } from './bus';

export const TPM_PPI_ADDR_BASE = 0xfed45000;
export const TPM_PPI_SIZE = 0x400;

export class RamBlock implements MmioDevice {
  readonly bytes: Uint8Array;

  constructor(
    readonly idstr: string,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
  }

  read(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.bytes[offset + i] ?? 0);
    return v;
  }

  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size && offset + i < this.bytes.length; i++) {
      this.bytes[offset + i] = Math.floor(value / 256 ** i) & 0xff;
    }
  }
}
