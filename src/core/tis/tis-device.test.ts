// The TIS model against QEMU: the checks of QEMU's tests/qtest/tpm-tis-util.c, then the edge behaviours
// of hw/tpm/tpm_tis_common.c that a guest (or a migration) can observe.
import { describe, expect, it } from 'vitest';
import { getInitialSnapshot } from 'xstate';
import {
  ACCESS_ACTIVE_LOCALITY as ACTIVE,
  ACCESS_BEEN_SEIZED as BEEN_SEIZED,
  ACCESS_PENDING_REQUEST as PENDING,
  ACCESS_REQUEST_USE as REQUEST_USE,
  ACCESS_SEIZE as SEIZE,
  ACCESS_TPM_ESTABLISHMENT as ESTABLISHMENT,
  ACCESS_TPM_REG_VALID_STS as VALID_STS,
  CAPABILITIES_SUPPORTED2_0,
  DID_VID,
  IFACE_ID_SUPPORTED_FLAGS2_0,
  INT_COMMAND_READY,
  INT_DATA_AVAILABLE,
  INT_ENABLED,
  INT_STS_VALID,
  REG_ACCESS,
  REG_DATA_FIFO,
  REG_DATA_XFIFO,
  REG_DID_VID,
  REG_INT_ENABLE,
  REG_INT_STATUS,
  REG_INT_VECTOR,
  REG_INTERFACE_ID,
  REG_INTF_CAPABILITY,
  REG_RID,
  REG_STS,
  STS_COMMAND_CANCEL,
  STS_COMMAND_READY,
  STS_DATA_AVAILABLE,
  STS_EXPECT,
  STS_RESET_ESTABLISHMENT_BIT,
  STS_RESPONSE_RETRY,
  STS_SELFTEST_DONE,
  STS_TPM_FAMILY2_0,
  STS_TPM_FAMILY_MASK,
  STS_TPM_GO,
  STS_VALID,
  TIS_STATE_NAMES,
  accessReachesDevice,
  regionOffset,
} from './registers';
import { TisDevice } from './tis-device';
import { FakeBackend, invariantViolations, newTis, reg } from './tis-test-kit';
import { tisMachine } from './tis.machine';

// tpm-tis-util.c's TPM_CMD (TPM2_Startup(CLEAR)) and the 10-byte header tpm-emu.c answers with.
const TPM_CMD = Uint8Array.from([0x80, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x44, 0x00, 0x00]);
const TPM_RSP = Uint8Array.from([0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x01]);

const readb = (tis: TisDevice, a: number) => tis.read(a, 1);
const readl = (tis: TisDevice, a: number) => tis.read(a, 4);
const writeb = (tis: TisDevice, a: number, v: number) => tis.write(a, 1, v);
const writel = (tis: TisDevice, a: number, v: number) => tis.write(a, 4, v);
const access = (tis: TisDevice, l: number) => readb(tis, reg(l, REG_ACCESS));
const value = (tis: TisDevice) => tis.machineSnapshot.value as Record<string, string>;

function expectConsistent(tis: TisDevice): void {
  expect(invariantViolations(tis.machineSnapshot)).toEqual([]);
}

/** Locality l takes the interface and sends TPM_CMD; returns with the command in EXECUTION. */
function sendCommand(tis: TisDevice, l = 0, cmd = TPM_CMD): void {
  writeb(tis, reg(l, REG_ACCESS), REQUEST_USE);
  writel(tis, reg(l, REG_STS), STS_COMMAND_READY);
  for (const b of cmd) writeb(tis, reg(l, REG_DATA_FIFO), b);
  writeb(tis, reg(l, REG_STS), STS_TPM_GO);
}

describe('QEMU qtest tpm-tis-util.c', () => {
  it('tpm_tis_test_check_localities: reset values of every locality', () => {
    const { tis } = newTis();
    expect(tis.machineSnapshot.value).toEqual({
      locality: 'none',
      abort: 'clear',
      cmd0: 'idle',
      cmd1: 'idle',
      cmd2: 'idle',
      cmd3: 'idle',
      cmd4: 'idle',
      registers: 'file',
    });
    for (let l = 0; l < 5; l++) {
      expect(access(tis, l)).toBe(VALID_STS | ESTABLISHMENT);
      expect(readl(tis, reg(l, REG_INTF_CAPABILITY))).toBe(CAPABILITIES_SUPPORTED2_0);
      expect(readl(tis, reg(l, REG_INTERFACE_ID))).toBe(IFACE_ID_SUPPORTED_FLAGS2_0);
      expect(readl(tis, reg(l, REG_DID_VID))).toBe(0x00011014);
      expect(DID_VID).toBe(0x00011014);
      expect(readl(tis, reg(l, REG_RID))).toBe(1);
      expect(readl(tis, reg(l, REG_INT_ENABLE))).toBe(0x08); // low-level polarity
      expect(readl(tis, reg(l, REG_INT_STATUS))).toBe(0);
      expect(readb(tis, reg(l, REG_INT_VECTOR))).toBe(5);
      // STS of a locality that is not active reads all ones.
      expect(readl(tis, reg(l, REG_STS))).toBe(0xffffffff);
    }
  });

  it('tpm_tis_test_check_access_reg: request use, then release', () => {
    const { tis } = newTis();
    for (let l = 0; l < 4; l++) {
      expect(access(tis, l)).toBe(VALID_STS | ESTABLISHMENT);
      writeb(tis, reg(l, REG_ACCESS), REQUEST_USE);
      expect(access(tis, l)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
      expect(value(tis).locality).toBe(`l${l}`);
      writeb(tis, reg(l, REG_ACCESS), ACTIVE);
      expect(access(tis, l)).toBe(VALID_STS | ESTABLISHMENT);
      expect(value(tis).locality).toBe('none');
      expectConsistent(tis);
    }
  });

  it('tpm_tis_test_check_access_reg_seize: only higher localities seize', () => {
    const { tis } = newTis();
    for (let locty = 0; locty < 4; locty++) {
      let pending = 0;
      expect(access(tis, locty)).toBe(VALID_STS | ESTABLISHMENT);
      writeb(tis, reg(locty, REG_ACCESS), REQUEST_USE);
      expect(access(tis, locty)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
      for (let l = 0; l < locty; l++) {
        expect(access(tis, l)).toBe(VALID_STS | pending | ESTABLISHMENT);
        writeb(tis, reg(l, REG_ACCESS), REQUEST_USE);
        expect(access(tis, l)).toBe(VALID_STS | REQUEST_USE | pending | ESTABLISHMENT);
        expect(access(tis, locty)).toBe(VALID_STS | ACTIVE | PENDING | ESTABLISHMENT);
        writeb(tis, reg(l, REG_ACCESS), SEIZE); // a lower locality cannot seize
        expect(access(tis, l)).toBe(VALID_STS | REQUEST_USE | pending | ESTABLISHMENT);
        expect(access(tis, locty)).toBe(VALID_STS | ACTIVE | PENDING | ESTABLISHMENT);
        pending = PENDING;
      }
      let l = locty + 1;
      for (; l < 4; l++) {
        writeb(tis, reg(l, REG_ACCESS), REQUEST_USE);
        expect(access(tis, l)).toBe(VALID_STS | REQUEST_USE | pending | ESTABLISHMENT);
        expect(access(tis, l - 1)).toBe(VALID_STS | ACTIVE | PENDING | ESTABLISHMENT);
        writeb(tis, reg(l, REG_ACCESS), SEIZE);
        expect(access(tis, l)).toBe(VALID_STS | ACTIVE | pending | ESTABLISHMENT);
        expect(value(tis).locality).toBe(`l${l}`);
        expect(access(tis, l - 1)).toBe(VALID_STS | BEEN_SEIZED | pending | ESTABLISHMENT);
        writeb(tis, reg(l - 1, REG_ACCESS), BEEN_SEIZED);
        expect(access(tis, l - 1)).toBe(VALID_STS | pending | ESTABLISHMENT);
        expectConsistent(tis);
      }
      if (locty <= 1) pending = 0;
      l--;
      writeb(tis, reg(l, REG_ACCESS), ACTIVE);
      expect(access(tis, l)).toBe(VALID_STS | pending | ESTABLISHMENT);
      for (l = locty - 1; l >= 0; l--) {
        expect(access(tis, l)).toBe(VALID_STS | ACTIVE | pending | ESTABLISHMENT);
        writeb(tis, reg(l, REG_ACCESS), ACTIVE);
        if (l === 1) pending = 0;
      }
      for (l = 0; l < 4; l++) expect(access(tis, l)).toBe(VALID_STS | ESTABLISHMENT);
      expect(value(tis).locality).toBe('none');
      expectConsistent(tis);
    }
  });

  it('tpm_tis_test_check_access_reg_release: hand-over goes to the highest waiting locality', () => {
    const { tis } = newTis();
    for (let locty = 3; locty >= 0; locty--) {
      let pending = 0;
      expect(access(tis, locty)).toBe(VALID_STS | ESTABLISHMENT);
      writeb(tis, reg(locty, REG_ACCESS), REQUEST_USE);
      expect(access(tis, locty)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
      for (let l = 0; l < 4; l++) {
        if (l === locty) continue;
        writeb(tis, reg(l, REG_ACCESS), REQUEST_USE);
        expect(access(tis, l)).toBe(VALID_STS | REQUEST_USE | pending | ESTABLISHMENT);
        pending = PENDING;
      }
      writeb(tis, reg(locty, REG_ACCESS), ACTIVE);
      for (let l = 3; l >= 0; l--) {
        if (l === locty) continue;
        expect(access(tis, l)).toBe(VALID_STS | ACTIVE | pending | ESTABLISHMENT);
        expect(value(tis).locality).toBe(`l${l}`);
        writeb(tis, reg(l, REG_ACCESS), ACTIVE);
        if (l === 1 || (locty <= 1 && l === 2)) pending = 0;
        expect(access(tis, l)).toBe(VALID_STS | pending | ESTABLISHMENT);
        expectConsistent(tis);
      }
    }
  });

  it('tpm_tis_test_check_transmit: command in, burst counts, response out', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    expect(access(tis, 0)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
    let sts = readl(tis, reg(0, REG_STS));
    expect(sts & 0xff).toBe(0);
    expect(sts & STS_TPM_FAMILY_MASK).toBe(STS_TPM_FAMILY2_0);
    let bcount = (sts >>> 8) & 0xffff;
    expect(bcount).toBe(4096);

    writel(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(value(tis).cmd0).toBe('ready');
    sts = readl(tis, reg(0, REG_STS));
    expect(sts & 0xff).toBe(STS_COMMAND_READY);

    TPM_CMD.forEach((b, i) => {
      writeb(tis, reg(0, REG_DATA_FIFO), b);
      sts = readl(tis, reg(0, REG_STS));
      expect(sts & 0xff).toBe(i < TPM_CMD.length - 1 ? STS_EXPECT | STS_VALID : STS_VALID);
      expect((sts >>> 8) & 0xffff).toBe(--bcount);
      expect(value(tis).cmd0).toBe('reception');
    });
    writeb(tis, reg(0, REG_STS), STS_TPM_GO);
    expect(value(tis).cmd0).toBe('execution');
    expect(be.delivered).toHaveLength(1);
    expect(be.delivered[0]?.locality).toBe(0);
    expect(Array.from(be.delivered[0]?.input ?? [])).toEqual(Array.from(TPM_CMD));
    // Still executing: no data yet.
    expect(readl(tis, reg(0, REG_STS)) & STS_DATA_AVAILABLE).toBe(0);

    be.complete(tis, TPM_RSP);
    expect(value(tis).cmd0).toBe('completion');
    sts = readl(tis, reg(0, REG_STS));
    expect(sts & 0xff).toBe(STS_VALID | STS_DATA_AVAILABLE);
    bcount = (sts >>> 8) & 0xffff;
    expect(bcount).toBe(TPM_RSP.length);
    const got: number[] = [];
    for (let i = 0; i < TPM_RSP.length; i++) {
      got.push(readb(tis, reg(0, REG_DATA_FIFO)));
      sts = readl(tis, reg(0, REG_STS));
      if (sts & STS_DATA_AVAILABLE) expect((sts >>> 8) & 0xffff).toBe(--bcount);
    }
    expect(got).toEqual(Array.from(TPM_RSP));
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_VALID); // last byte cleared DATA_AVAILABLE
    writeb(tis, reg(0, REG_ACCESS), ACTIVE);
    expect(access(tis, 0)).toBe(VALID_STS | ESTABLISHMENT);
    // QEMU never returns a locality to IDLE except at reset.
    expect(value(tis).cmd0).toBe('completion');
    expectConsistent(tis);
  });
});

describe('STS register', () => {
  it('byte, word and dword reads at any byte of STS see the value shifted by (addr & 3) * 8', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    // READY, rw_offset 0: sts 0x04000040, burstCount 4096.
    expect(readl(tis, reg(0, REG_STS))).toBe(0x04100040);
    expect(tis.read(reg(0, REG_STS + 2), 2)).toBe(0x0410);
    expect(readb(tis, reg(0, REG_STS + 3))).toBe(0x04);
    // A byte read clamps burstCount to 0xff before the shift, so STS+2 reads 0x00 here, not 0x10.
    expect(readb(tis, reg(0, REG_STS + 2))).toBe(0x00);
    expect(readb(tis, reg(0, REG_STS))).toBe(0x40);
    // A word read at +1 computes with the full 4096 and keeps bits 8..23: 0x1000. (QEMU's memory core
    // rejects this unaligned access before the device sees it; the device function is still defined.)
    expect(accessReachesDevice(reg(0, REG_STS + 1), 2)).toBe(false);
    expect(accessReachesDevice(reg(0, REG_STS + 2), 2)).toBe(true);
    expect(tis.read(reg(0, REG_STS + 1), 2)).toBe(0x1000);
  });

  it('a byte read of burstCount outside DATA_AVAILABLE is clamped to 0xff', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    // 4096 available: a byte read at STS+1 must not see 0x00 (0x1000 & 0xff).
    expect(readb(tis, reg(0, REG_STS + 1))).toBe(0xff);
    // The clamp also changes the low byte's computation only through burstCount, so STS+0 is unchanged.
    expect(readb(tis, reg(0, REG_STS))).toBe(0x40);
  });

  it('no clamp while DATA_AVAILABLE: burstCount is the remaining response length', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP);
    expect(readb(tis, reg(0, REG_STS + 1))).toBe(10);
    readb(tis, reg(0, REG_DATA_FIFO));
    expect(readb(tis, reg(0, REG_STS + 1))).toBe(9);
  });

  it('a non-active locality reads STS as all ones, at every width', () => {
    const { tis } = newTis();
    writeb(tis, reg(1, REG_ACCESS), REQUEST_USE);
    expect(readl(tis, reg(0, REG_STS))).toBe(0xffffffff);
    expect(readb(tis, reg(0, REG_STS))).toBe(0xff);
    expect(tis.read(reg(0, REG_STS + 2), 2)).toBe(0xffff);
    expect(readl(tis, reg(1, REG_STS))).toBe(0x04100000);
  });

  it('only an exact single command bit acts: 0x60 does nothing', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY | STS_TPM_GO);
    expect(value(tis).cmd0).toBe('idle');
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY | STS_RESPONSE_RETRY);
    expect(value(tis).cmd0).toBe('idle');
    // Other bits are masked off before the comparison.
    writel(tis, reg(0, REG_STS), STS_COMMAND_READY | STS_VALID | 0x1);
    expect(value(tis).cmd0).toBe('ready');
  });

  it('TPM_GO is ignored while EXPECT is set', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    for (const b of TPM_CMD.subarray(0, 8)) writeb(tis, reg(0, REG_DATA_FIFO), b);
    writeb(tis, reg(0, REG_STS), STS_TPM_GO);
    expect(value(tis).cmd0).toBe('reception');
    expect(be.delivered).toHaveLength(0);
  });

  it('STS writes from a non-active locality are ignored', () => {
    const { tis } = newTis();
    writeb(tis, reg(1, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(value(tis).cmd0).toBe('idle');
  });

  it('COMMAND_READY during EXECUTION defers the abort to completion and drops the response', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(be.cancels).toBe(1);
    expect(value(tis).abort).toBe('deferred');
    expect(value(tis).cmd0).toBe('execution');
    expectConsistent(tis);
    be.complete(tis, TPM_RSP);
    expect(value(tis).abort).toBe('clear');
    expect(value(tis).cmd0).toBe('ready');
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_COMMAND_READY);
    expect(readb(tis, reg(0, REG_DATA_FIFO))).toBe(0xff); // the response is gone
    expect(tis.snapshot().rwOffset).toBe(0);
    expectConsistent(tis);
  });

  it('COMMAND_READY during RECEPTION aborts at once: READY, rw_offset 0', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    for (const b of TPM_CMD.subarray(0, 5)) writeb(tis, reg(0, REG_DATA_FIFO), b);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(value(tis).cmd0).toBe('ready');
    expect(value(tis).abort).toBe('clear');
    expect(tis.snapshot().rwOffset).toBe(0);
    expect(be.cancels).toBe(0);
  });

  it('RESPONSE_RETRY rewinds the response', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP);
    for (let i = 0; i < TPM_RSP.length; i++) readb(tis, reg(0, REG_DATA_FIFO));
    expect(readl(tis, reg(0, REG_STS)) & STS_DATA_AVAILABLE).toBe(0);
    writeb(tis, reg(0, REG_STS), STS_RESPONSE_RETRY);
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_VALID | STS_DATA_AVAILABLE);
    expect(readb(tis, reg(0, REG_DATA_FIFO))).toBe(0x80);
    expect(tis.snapshot().rwOffset).toBe(1);
  });

  it('COMMAND_READY in COMPLETION goes to READY and clears DATA_AVAILABLE', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP);
    readb(tis, reg(0, REG_DATA_FIFO));
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(value(tis).cmd0).toBe('ready');
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_COMMAND_READY);
    expect(tis.snapshot().rwOffset).toBe(0);
  });

  it('COMMAND_CANCEL cancels only in EXECUTION; resetEstablishment only from localities 3 and 4', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writel(tis, reg(0, REG_STS), STS_COMMAND_CANCEL);
    expect(be.cancels).toBe(0);
    writel(tis, reg(0, REG_STS), STS_RESET_ESTABLISHMENT_BIT);
    expect(be.resetEstablishedCalls).toEqual([]);
    writeb(tis, reg(0, REG_ACCESS), ACTIVE);
    sendCommand(tis, 3);
    writel(tis, reg(3, REG_STS), STS_COMMAND_CANCEL);
    expect(be.cancels).toBe(1);
    expect(value(tis).cmd3).toBe('execution'); // a cancel request changes no state
    writel(tis, reg(3, REG_STS), STS_RESET_ESTABLISHMENT_BIT);
    expect(be.resetEstablishedCalls).toEqual([3]);
  });

  it('a successful self test sets SELFTEST_DONE in every locality', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP, true);
    for (const l of tis.snapshot().localities) expect(l.sts & STS_SELFTEST_DONE).toBe(STS_SELFTEST_DONE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(0x44); // what Linux sees after tpm_tis_ready
  });
});

describe('FIFO', () => {
  it('writes are dropped outside READY and RECEPTION', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_DATA_FIFO), 0x80); // IDLE
    expect(value(tis).cmd0).toBe('idle');
    expect(tis.snapshot().rwOffset).toBe(0);
    writeb(tis, reg(0, REG_ACCESS), ACTIVE);
    sendCommand(tis);
    writeb(tis, reg(0, REG_DATA_FIFO), 0x11); // EXECUTION
    expect(tis.snapshot().rwOffset).toBe(12);
    be.complete(tis, TPM_RSP);
    writeb(tis, reg(0, REG_DATA_FIFO), 0x11); // COMPLETION
    expect(tis.snapshot().rwOffset).toBe(0);
    expect(readb(tis, reg(0, REG_DATA_FIFO))).toBe(0x80);
  });

  it('reads 0xff outside COMPLETION, from a non-active locality, and past the end without advancing', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    expect(readl(tis, reg(0, REG_DATA_FIFO))).toBe(0xffffffff); // EXECUTION
    be.complete(tis, TPM_RSP);
    expect(readb(tis, reg(1, REG_DATA_FIFO))).toBe(0xff); // locality 1 is not active
    expect(tis.snapshot().rwOffset).toBe(0);
    for (let i = 0; i < TPM_RSP.length; i++) readb(tis, reg(0, REG_DATA_FIFO));
    expect(tis.snapshot().rwOffset).toBe(10);
    expect(readb(tis, reg(0, REG_DATA_FIFO))).toBe(0xff);
    expect(readl(tis, reg(0, REG_DATA_FIFO))).toBe(0xffffffff);
    expect(tis.snapshot().rwOffset).toBe(10);
  });

  it('a dword read takes four bytes little-endian; XDATA_FIFO behaves the same; the read clips at the register end', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP);
    expect(readl(tis, reg(0, REG_DATA_FIFO))).toBe(0x00000180);
    expect(readl(tis, reg(0, REG_DATA_XFIFO + 0x10))).toBe(0x00000a00);
    // A word read at DATA_FIFO+3 (unaligned: only reachable past QEMU's memory core through other
    // buses) is clipped to one byte: the upper byte is 0, one byte consumed.
    expect(tis.read(reg(0, REG_DATA_FIFO + 3), 2)).toBe(0x0001);
    expect(tis.snapshot().rwOffset).toBe(9);
    expect(readb(tis, reg(0, REG_DATA_FIFO))).toBe(0x01);
    expect(value(tis).cmd0).toBe('completion');
  });

  it('a dword write stores four bytes; the last byte of the command clears EXPECT', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    writel(tis, reg(0, REG_DATA_FIFO), 0x00000180);
    writel(tis, reg(0, REG_DATA_FIFO), 0x00000c00);
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_EXPECT | STS_VALID);
    writel(tis, reg(0, REG_DATA_FIFO), 0x00004401);
    expect(tis.snapshot().rwOffset).toBe(12);
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_VALID);
    expect(Array.from(tis.snapshot().buffer.subarray(0, 12))).toEqual(Array.from(TPM_CMD));
  });

  it('a command longer than the buffer stops at the buffer end with EXPECT clear', () => {
    const { tis } = newTis(64);
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    // size field 0x1000: more than the 64-byte backend buffer
    for (const b of [0x80, 0x01, 0x00, 0x00, 0x10, 0x00]) writeb(tis, reg(0, REG_DATA_FIFO), b);
    for (let i = 6; i < 70; i++) writeb(tis, reg(0, REG_DATA_FIFO), i);
    expect(tis.snapshot().rwOffset).toBe(64);
    expect(readl(tis, reg(0, REG_STS)) & 0xff).toBe(STS_VALID);
    expect((readl(tis, reg(0, REG_STS)) >>> 8) & 0xffff).toBe(0);
  });

  it('one buffer for all localities: a seize during reception rewinds the shared rw_offset', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    for (const b of TPM_CMD.subarray(0, 7)) writeb(tis, reg(0, REG_DATA_FIFO), b);
    writeb(tis, reg(2, REG_ACCESS), SEIZE);
    expect(value(tis).locality).toBe('l2');
    expect(tis.snapshot().rwOffset).toBe(0);
    expect(value(tis).cmd0).toBe('reception'); // locality 0 keeps its state and EXPECT
    expect(access(tis, 0)).toBe(VALID_STS | BEEN_SEIZED | ESTABLISHMENT);
  });
});

describe('locality arbitration with a command in flight', () => {
  it('a seize during EXECUTION is deferred until the response arrives', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    writeb(tis, reg(3, REG_ACCESS), SEIZE);
    expect(be.cancels).toBe(1);
    expect(value(tis)).toMatchObject({ locality: 'l0', abort: 'deferred', cmd0: 'execution' });
    expectConsistent(tis);
    be.complete(tis, TPM_RSP);
    expect(value(tis)).toMatchObject({ locality: 'l3', abort: 'clear', cmd0: 'completion' });
    expect(access(tis, 0)).toBe(VALID_STS | BEEN_SEIZED | ESTABLISHMENT);
    expect(access(tis, 3)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
    expectConsistent(tis);
  });

  it('a release during EXECUTION hands over to the highest requester at completion', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    writeb(tis, reg(1, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(2, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_ACCESS), ACTIVE);
    expect(value(tis)).toMatchObject({ locality: 'l0', abort: 'deferred' });
    be.complete(tis, TPM_RSP);
    expect(value(tis)).toMatchObject({ locality: 'l2', abort: 'clear', cmd0: 'completion' });
    expect(access(tis, 1)).toBe(VALID_STS | REQUEST_USE | ESTABLISHMENT);
    expect(access(tis, 2)).toBe(VALID_STS | ACTIVE | PENDING | ESTABLISHMENT);
  });

  it('a non-owner writing ACTIVE_LOCALITY withdraws its request', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(1, REG_ACCESS), REQUEST_USE);
    expect(access(tis, 0) & PENDING).toBe(PENDING);
    writeb(tis, reg(1, REG_ACCESS), ACTIVE);
    expect(access(tis, 1)).toBe(VALID_STS | ESTABLISHMENT);
    expect(access(tis, 0)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
  });

  it('seize when no locality is active makes the seizer active', () => {
    const { tis } = newTis();
    writeb(tis, reg(1, REG_ACCESS), SEIZE);
    expect(access(tis, 1)).toBe(VALID_STS | ACTIVE | ESTABLISHMENT);
  });
});

describe('locality 4, interrupts, ACCESS bit 0, INTERFACE_ID', () => {
  it('writes to locality 4 are ignored', () => {
    const { tis, trace } = newTis();
    writeb(tis, reg(4, REG_ACCESS), REQUEST_USE);
    expect(value(tis).locality).toBe('none');
    expect(trace.map(([k]) => k)).toContain('tpm_tis_mmio_write_locty4');
    // ...but locality 4 registers still read
    expect(access(tis, 4)).toBe(VALID_STS | ESTABLISHMENT);
  });

  it('INT_ENABLE keeps only the writable bits, and only the active locality writes it', () => {
    const { tis } = newTis();
    writel(tis, reg(0, REG_INT_ENABLE), 0xffffffff);
    expect(readl(tis, reg(0, REG_INT_ENABLE))).toBe(0x08);
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writel(tis, reg(0, REG_INT_ENABLE), 0xffffffff);
    expect(readl(tis, reg(0, REG_INT_ENABLE))).toBe(0x8000009f);
    // A byte write at +3 touches only bits 24..31.
    writeb(tis, reg(0, REG_INT_ENABLE + 3), 0x00);
    expect(readl(tis, reg(0, REG_INT_ENABLE))).toBe(0x0000009f);
  });

  it('raises the IRQ only when enabled, sets INT_STATUS, and lowers it when INT_STATUS clears', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY); // no enable: no IRQ
    expect(tis.irqLevel).toBe(0);
    expect(readl(tis, reg(0, REG_INT_STATUS))).toBe(0);
    writel(tis, reg(0, REG_INT_ENABLE), INT_ENABLED | INT_DATA_AVAILABLE | INT_STS_VALID | 0x08);
    for (const b of TPM_CMD) writeb(tis, reg(0, REG_DATA_FIFO), b);
    writeb(tis, reg(0, REG_STS), STS_TPM_GO);
    expect(tis.irqLevel).toBe(0);
    be.complete(tis, TPM_RSP);
    expect(tis.irqLevel).toBe(1);
    expect(readl(tis, reg(0, REG_INT_STATUS))).toBe(INT_DATA_AVAILABLE | INT_STS_VALID);
    writel(tis, reg(0, REG_INT_STATUS), INT_DATA_AVAILABLE);
    expect(tis.irqLevel).toBe(1);
    writel(tis, reg(0, REG_INT_STATUS), INT_STS_VALID);
    expect(tis.irqLevel).toBe(0);
    expect(readl(tis, reg(0, REG_INT_STATUS))).toBe(0);
  });

  it('COMMAND_READY from IDLE raises the command-ready interrupt', () => {
    const { tis } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writel(tis, reg(0, REG_INT_ENABLE), INT_ENABLED | INT_COMMAND_READY);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    expect(tis.irqLevel).toBe(1);
    expect(readl(tis, reg(0, REG_INT_STATUS))).toBe(INT_COMMAND_READY);
  });

  it('ACCESS bit 0 reads the negated established flag, asked of the backend on every read', () => {
    const { tis, be } = newTis();
    be.established = true;
    expect(access(tis, 0)).toBe(VALID_STS);
    be.established = false;
    expect(access(tis, 2)).toBe(VALID_STS | ESTABLISHMENT);
  });

  it('IntfSelLock written to INTERFACE_ID is set in every locality', () => {
    const { tis } = newTis();
    writel(tis, reg(1, REG_INTERFACE_ID), 1 << 19);
    for (let l = 0; l < 5; l++) expect(readl(tis, reg(l, REG_INTERFACE_ID))).toBe(0x00082100);
  });
});

describe('device', () => {
  it('reset restores the reset values and the initial states, after resetting the backend', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP);
    tis.reset();
    expect(be.resets).toBe(1);
    expect(tis.machineSnapshot.value).toEqual(getInitialSnapshot(tisMachine, {}).value);
    for (const l of tis.snapshot().localities) {
      expect(l).toEqual({ state: 'idle', access: 0x80, sts: 0x04000000, inte: 8, ints: 0, ifaceId: 0x2100 });
    }
  });

  it('traces accesses as QEMU names them', () => {
    const { tis, trace } = newTis();
    readl(tis, reg(0, REG_DID_VID));
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    expect(trace).toEqual([
      ['tpm_tis_mmio_read', { size: 4, addr: 0xf00, val: 0x00011014 }],
      ['tpm_tis_mmio_write', { size: 1, addr: 0, val: 2 }],
      ['tpm_tis_new_active_locality', { locty: 0 }],
    ]);
  });

  it('traces a FIFO read of the active locality with size=0, as QEMU does', () => {
    const { tis, be, trace } = newTis();
    sendCommand(tis);
    be.complete(tis, TPM_RSP);
    trace.length = 0;
    expect(readb(tis, reg(0, REG_DATA_FIFO))).toBe(0x80);
    readb(tis, reg(1, REG_DATA_FIFO)); // not active: the size is traced unchanged
    expect(trace).toEqual([
      ['tpm_tis_data_read', { value: 0x80, off: 0 }],
      ['tpm_tis_mmio_read', { size: 0, addr: 0x24, val: 0x80 }],
      ['tpm_tis_mmio_read', { size: 1, addr: 0x1024, val: 0xffffffff }],
    ]);
  });

  it('snapshot() is detached from the live buffer', () => {
    const { tis } = newTis();
    const before = tis.snapshot();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    writeb(tis, reg(0, REG_DATA_FIFO), 0x80);
    expect(before.buffer[0]).toBe(0);
    expect(tis.snapshot().buffer[0]).toBe(0x80);
    expect(TIS_STATE_NAMES).toEqual(['idle', 'ready', 'completion', 'execution', 'reception']);
  });

  it('rejects accesses QEMU would never deliver, changing nothing', () => {
    const { tis } = newTis();
    expect(() => tis.read(0x5000, 4)).toThrow(RangeError);
    expect(() => tis.write(0x18, 3, 0)).toThrow(RangeError);
    expect(regionOffset(0xfed41018)).toBe(0x1018);
    expect(regionOffset(0xfed45000)).toBeUndefined();
  });
});

describe('a TPM that could not be started (tpm_backend_had_startup_error)', () => {
  it('every read returns 0 without a trace; writes are traced and do nothing', () => {
    const { tis, be, trace } = newTis();
    be.hadStartupError = true;
    const before = tis.snapshot();
    for (const offset of [REG_ACCESS, REG_STS, REG_DID_VID, REG_INTF_CAPABILITY, REG_INTERFACE_ID, REG_RID]) {
      expect(readl(tis, reg(0, offset))).toBe(0);
    }
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(0, REG_STS), STS_COMMAND_READY);
    writeb(tis, reg(4, REG_ACCESS), REQUEST_USE);
    expect(tis.snapshot()).toEqual(before);
    expect(value(tis)).toMatchObject({ locality: 'none', cmd0: 'idle' });
    expect(trace).toEqual([
      ['tpm_tis_mmio_write', { size: 1, addr: 0, val: REQUEST_USE }],
      ['tpm_tis_mmio_write', { size: 1, addr: 0x18, val: STS_COMMAND_READY }],
      ['tpm_tis_mmio_write', { size: 1, addr: 0x4000, val: REQUEST_USE }],
      ['tpm_tis_mmio_write_locty4', {}],
    ]);
  });

  it('the registers come back as they were once a startup succeeds', () => {
    const { tis, be } = newTis();
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    be.hadStartupError = true;
    expect(access(tis, 0)).toBe(0);
    be.hadStartupError = false;
    expect(access(tis, 0)).toBe(VALID_STS | ACTIVE | 1);
  });
});

describe('hazards of the shared buffer', () => {
  it("one locality's COMMAND_READY abort waits for another locality's command", () => {
    const { tis, be } = newTis();
    sendCommand(tis, 0);
    writeb(tis, reg(0, REG_ACCESS), ACTIVE); // nobody waiting: released at once, command still running
    expect(value(tis)).toMatchObject({ locality: 'none', cmd0: 'execution', abort: 'clear' });
    writeb(tis, reg(1, REG_ACCESS), REQUEST_USE);
    writeb(tis, reg(1, REG_STS), STS_COMMAND_READY);
    for (const b of TPM_CMD.subarray(0, 4)) writeb(tis, reg(1, REG_DATA_FIFO), b); // overwrites the buffer
    writeb(tis, reg(1, REG_STS), STS_COMMAND_READY);
    expect(value(tis)).toMatchObject({ locality: 'l1', cmd1: 'reception', abort: 'deferred' });
    expect(be.cancels).toBe(1);
    be.complete(tis, TPM_RSP);
    // Locality 0 gets its response state; locality 1's deferred abort lands it in READY with rw_offset 0.
    expect(value(tis)).toMatchObject({ locality: 'l1', cmd0: 'completion', cmd1: 'ready', abort: 'clear' });
    expect(tis.snapshot().rwOffset).toBe(0);
    expectConsistent(tis);
  });

  it('the IRQ callback sees each raise and lower', () => {
    const levels: number[] = [];
    const be = new FakeBackend();
    const tis = new TisDevice(be, { onIrq: (l) => levels.push(l) });
    writeb(tis, reg(0, REG_ACCESS), REQUEST_USE);
    writel(tis, reg(0, REG_INT_ENABLE), INT_ENABLED | INT_COMMAND_READY | INT_DATA_AVAILABLE | INT_STS_VALID);
    sendCommand(tis, 0);
    be.complete(tis, TPM_RSP);
    writel(tis, reg(0, REG_INT_STATUS), 0x87);
    // COMMAND_READY (idle -> ready); no STS_VALID while receiving, since entering RECEPTION already set
    // VALID; DATA_AVAILABLE|STS_VALID at completion; then the lower.
    expect(levels).toEqual([1, 1, 0]);
  });
});

describe('the machine definition (what the UI draws)', () => {
  it("has exactly QEMU's command-state moves in every locality's region", () => {
    for (let l = 0; l < 5; l++) {
      const region = tisMachine.root.states[`cmd${l}`];
      const edges = new Set<string>();
      for (const [name, node] of Object.entries(region?.states ?? {})) {
        for (const [type, list] of node.transitions) {
          for (const t of list)
            for (const target of t.target ?? []) edges.add(`${name}-${type}->${target.key}`);
        }
      }
      expect([...edges].sort()).toEqual([
        'completion-mmio.write->ready',
        'execution-backend.completed->completion',
        'execution-backend.completed->ready',
        'idle-mmio.write->ready',
        'ready-mmio.write->reception',
        'reception-backend.completed->ready',
        'reception-mmio.write->execution',
        'reception-mmio.write->ready',
      ]);
    }
    expect(Object.keys(tisMachine.root.states)).toEqual([
      'locality',
      'abort',
      'cmd0',
      'cmd1',
      'cmd2',
      'cmd3',
      'cmd4',
      'registers',
    ]);
  });
});

describe('reset with a command in flight', () => {
  it('the backend drains the command first (tpm_backend_finish_sync), then every locality is idle', () => {
    const { tis, be } = newTis();
    sendCommand(tis);
    tis.reset();
    expect(be.pending).toBeNull();
    expect(value(tis)).toMatchObject({ locality: 'none', cmd0: 'idle', abort: 'clear' });
    expect(tis.snapshot().rwOffset).toBe(0);
    expectConsistent(tis);
  });

  it('a completion nobody is waiting for changes nothing', () => {
    const { tis, trace } = newTis();
    const before = tis.machineSnapshot;
    tis.requestCompleted({ locality: 0, input: TPM_CMD, output: TPM_RSP, selftestDone: false }, 0);
    expect(tis.machineSnapshot.context.regs).toBe(before.context.regs);
    expect(trace.map(([k]) => k)).toEqual(['tpm_tis_request_completed_ignored']);
  });
});
