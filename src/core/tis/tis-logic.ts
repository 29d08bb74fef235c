// QEMU's hw/tpm/tpm_tis_common.c as a pure step function over the TIS register file: (registers, event)
// -> (registers', read value, effects). The XState machine (tis.machine.ts) calls it from its one context
// action, and its state regions follow what it decided. Each function below is named after, and does what,
// the QEMU function in its comment does; the code is ours.
//
// Copy-on-write: a step never changes the registers it was given, except the shared 4 KiB buffer. The
// per-locality records and the outer record are copied only when a step changes them (most reads change
// nothing). The buffer is one mutable Uint8Array owned by the context and written in place by FIFO writes
// and by the completion copy, because copying 4 KiB per MMIO access would dominate the cost of the model
// (the benchmark counts accesses per second). That is safe for the live model because (a) a step only
// writes buffer bytes at offsets >= the rw_offset of the snapshot it starts from, which that snapshot does
// not yet consider written, and (b) writing is idempotent: replaying the same event on the same snapshot
// writes the same bytes. Code that keeps an old snapshot (vmstate, the UI's history) must copy the buffer,
// as TisDevice.snapshot() does.
import {
  ACCESS_ACTIVE_LOCALITY,
  ACCESS_BEEN_SEIZED,
  ACCESS_PENDING_REQUEST,
  ACCESS_REQUEST_USE,
  ACCESS_SEIZE,
  ACCESS_TPM_REG_VALID_STS,
  CAPABILITIES_SUPPORTED1_3,
  CAPABILITIES_SUPPORTED2_0,
  DID_VID,
  IFACE_ID_INT_SEL_LOCK,
  IFACE_ID_SUPPORTED_FLAGS1_3,
  IFACE_ID_SUPPORTED_FLAGS2_0,
  INT_COMMAND_READY,
  INT_DATA_AVAILABLE,
  INT_ENABLED,
  INT_LOCALITY_CHANGED,
  INT_POLARITY_LOW_LEVEL,
  INT_POLARITY_MASK,
  INT_STS_VALID,
  INTERRUPTS_SUPPORTED,
  NO_DATA_BYTE,
  NO_LOCALITY,
  REG_ACCESS,
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
  STS_TPM_FAMILY1_2,
  STS_TPM_FAMILY2_0,
  STS_TPM_FAMILY_MASK,
  STS_TPM_GO,
  STS_VALID,
  TIS_BUFFER_MAX,
  TIS_IRQ,
  TIS_NUM_LOCALITIES,
  TPM_RID,
  TisState,
  burstCount,
  isFifoOffset,
  isValidLocality,
  localityFromAddr,
  registerOffset,
  tpmCmdGetSize,
} from './registers';

/** One locality's registers: QEMU's TPMLocality (the "tpm-tis/locty" vmstate fields). */
export interface LocalityRegs {
  readonly state: TisState;
  readonly inte: number;
  readonly ints: number;
  readonly access: number;
  readonly sts: number;
  readonly ifaceId: number;
}

/** QEMU's TPMState as far as the TIS model uses it. */
export interface TisRegisters {
  readonly loc: readonly LocalityRegs[];
  /** The one buffer of all localities; mutable, see the note at the top of this file. */
  readonly buffer: Uint8Array;
  readonly rwOffset: number;
  readonly activeLocty: number;
  readonly nextLocty: number;
  readonly abortingLocty: number;
  /** MIN(backend buffer size, 4096), re-read at reset. Not migrated. */
  readonly beBufferSize: number;
  readonly beTpmVersion: 1 | 2;
  readonly irqNum: number;
  /** The level of the IRQ line (belongs to the interrupt controller in QEMU; kept here for the view). */
  readonly irqLevel: 0 | 1;
  /** The backend's TPM established flag as last seen; ACCESS bit 0 reads its negation. */
  readonly tpmEstablished: boolean;
  /** s->cmd.locty and s->cmd.in_len of the command last handed to the backend (NO_LOCALITY: none yet). */
  readonly cmdLocty: number;
  readonly cmdInLength: number;
}

/** `startupError`: tpm_backend_had_startup_error, which QEMU asks at every access (the TPM could not be
 * started at the last reset: then reads return 0 and writes do nothing). */
export type TisEvent =
  | { type: 'mmio.read'; addr: number; size: number; tpmEstablished?: boolean; startupError?: boolean }
  | { type: 'mmio.write'; addr: number; size: number; value: number; startupError?: boolean }
  | { type: 'backend.completed'; output: Uint8Array | null; selftestDone: boolean; ret: number }
  | { type: 'reset'; bufferSize: number; tpmVersion: 1 | 2; tpmEstablished?: boolean };

export type TraceData = Readonly<Record<string, number>>;

/** What a step asks of the outside world, in order. */
export type TisEffect =
  | { readonly kind: 'deliver'; readonly locality: number; readonly inLength: number }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'resetEstablished'; readonly locality: number }
  /** qemu_irq_raise (level 1) or qemu_irq_lower (level 0), each time QEMU calls it. */
  | { readonly kind: 'irq'; readonly level: 0 | 1 }
  | { readonly kind: 'trace'; readonly name: string; readonly data: TraceData };

export interface TisStepResult {
  readonly regs: TisRegisters;
  /** The value an mmio.read returns (already truncated to the access size); 0 for other events. */
  readonly readValue: number;
  readonly effects: readonly TisEffect[];
}

const NO_EFFECTS: readonly TisEffect[] = [];

/** The register file before the first reset: tpm_tis_reset's values for a TPM 2.0 backend. */
export function initialRegisters(bufferSize = TIS_BUFFER_MAX, tpmVersion: 1 | 2 = 2): TisRegisters {
  return step(
    {
      loc: [],
      buffer: new Uint8Array(TIS_BUFFER_MAX),
      rwOffset: 0,
      activeLocty: NO_LOCALITY,
      nextLocty: NO_LOCALITY,
      abortingLocty: NO_LOCALITY,
      beBufferSize: TIS_BUFFER_MAX,
      beTpmVersion: tpmVersion,
      irqNum: TIS_IRQ,
      irqLevel: 0,
      tpmEstablished: false,
      cmdLocty: NO_LOCALITY,
      cmdInLength: 0,
    },
    { type: 'reset', bufferSize, tpmVersion },
  ).regs;
}

type MutableLoc = { -readonly [K in keyof LocalityRegs]: LocalityRegs[K] };
type MutableRegs = { -readonly [K in keyof TisRegisters]: TisRegisters[K] };

// Field-by-field copies: one object shape for every register file, which keeps V8's property accesses
// monomorphic (a spread of records of varied origin costs several times more).
function copyRegisters(r: TisRegisters): MutableRegs {
  return {
    loc: r.loc,
    buffer: r.buffer,
    rwOffset: r.rwOffset,
    activeLocty: r.activeLocty,
    nextLocty: r.nextLocty,
    abortingLocty: r.abortingLocty,
    beBufferSize: r.beBufferSize,
    beTpmVersion: r.beTpmVersion,
    irqNum: r.irqNum,
    irqLevel: r.irqLevel,
    tpmEstablished: r.tpmEstablished,
    cmdLocty: r.cmdLocty,
    cmdInLength: r.cmdInLength,
  };
}

function copyLocality(l: LocalityRegs): MutableLoc {
  return { state: l.state, inte: l.inte, ints: l.ints, access: l.access, sts: l.sts, ifaceId: l.ifaceId };
}

/** A step in progress: copies the records it changes, once, on the first change (most reads change
 * nothing and copy nothing). */
class Step {
  /** The registers as the step has left them so far: the ones it started from until the first change. */
  s: TisRegisters;
  private readonly from: TisRegisters;
  private copied = false;
  /** Bit l set: loc[l] is this step's copy. */
  private copiedLoc = 0;
  private locArray: MutableLoc[] | null = null;
  effects: TisEffect[] | null = null;

  constructor(from: TisRegisters) {
    this.from = from;
    this.s = from;
  }

  /** The registers for writing (the outer record is copied on first use in this step). */
  w(): MutableRegs {
    if (!this.copied) {
      this.copied = true;
      this.s = copyRegisters(this.from);
    }
    return this.s as MutableRegs;
  }

  /** A locality's registers for reading. */
  get(l: number): LocalityRegs {
    return this.s.loc[l] as LocalityRegs;
  }

  /** A locality's registers for writing (copied on first use in this step). */
  mut(l: number): MutableLoc {
    if (this.locArray === null) {
      const s = this.w();
      this.locArray = s.loc.slice() as MutableLoc[];
      s.loc = this.locArray;
    }
    if ((this.copiedLoc & (1 << l)) === 0) {
      this.copiedLoc |= 1 << l;
      this.locArray[l] = copyLocality(this.locArray[l] as MutableLoc);
    }
    return this.locArray[l] as MutableLoc;
  }

  emit(effect: TisEffect): void {
    (this.effects ??= []).push(effect);
  }

  trace(name: string, data: TraceData): void {
    this.emit({ kind: 'trace', name, data });
  }
}

/** The whole model: one event in, the registers after it, the read value, and the effects. */
export function step(regs: TisRegisters, event: TisEvent): TisStepResult {
  const st = new Step(regs);
  let readValue = 0;
  switch (event.type) {
    case 'mmio.read':
      // tpm_tis_mmio_read returns 0 before anything else, not even its trace point.
      if (event.startupError === true) break;
      if (event.tpmEstablished !== undefined && event.tpmEstablished !== regs.tpmEstablished) {
        st.w().tpmEstablished = event.tpmEstablished;
      }
      readValue = mmioRead(st, event.addr, event.size);
      break;
    case 'mmio.write':
      mmioWrite(st, event.addr, event.size, event.value, event.startupError === true);
      break;
    case 'backend.completed':
      requestCompleted(st, event.output, event.selftestDone);
      break;
    case 'reset':
      reset(st, event.bufferSize, event.tpmVersion);
      if (event.tpmEstablished !== undefined) st.w().tpmEstablished = event.tpmEstablished;
      break;
  }
  const out = st.s === regs || sameRegisters(st.s, regs) ? regs : st.s;
  return { regs: out, readValue, effects: st.effects ?? NO_EFFECTS };
}

/** True when a step changed nothing: most register reads. Such a step keeps the caller's object. */
function sameRegisters(a: TisRegisters, b: TisRegisters): boolean {
  return (
    a.loc === b.loc &&
    a.rwOffset === b.rwOffset &&
    a.activeLocty === b.activeLocty &&
    a.nextLocty === b.nextLocty &&
    a.abortingLocty === b.abortingLocty &&
    a.irqLevel === b.irqLevel &&
    a.tpmEstablished === b.tpmEstablished &&
    a.cmdLocty === b.cmdLocty &&
    a.cmdInLength === b.cmdInLength &&
    a.beBufferSize === b.beBufferSize &&
    a.beTpmVersion === b.beTpmVersion &&
    a.irqNum === b.irqNum &&
    a.buffer === b.buffer
  );
}

/** tpm_tis_sts_set: replace STS, keeping SELFTEST_DONE and the family bits. */
function stsSet(st: Step, l: number, flags: number): void {
  const loc = st.mut(l);
  loc.sts = ((loc.sts & (STS_SELFTEST_DONE | STS_TPM_FAMILY_MASK)) | flags) >>> 0;
}

/** tpm_tis_raise_irq: only with the global enable and the source's enable set. */
function raiseIrq(st: Step, l: number, mask: number): void {
  if (!isValidLocality(l)) return;
  const inte = st.get(l).inte;
  if (inte & INT_ENABLED && inte & mask) {
    st.trace('tpm_tis_raise_irq', { irqmask: mask });
    st.w().irqLevel = 1;
    st.emit({ kind: 'irq', level: 1 });
    const loc = st.mut(l);
    loc.ints = (loc.ints | mask) >>> 0;
  }
}

/** tpm_tis_check_request_use_except */
function requestUseExcept(st: Step, l: number): boolean {
  for (let c = 0; c < TIS_NUM_LOCALITIES; c++) {
    if (c !== l && st.get(c).access & ACCESS_REQUEST_USE) return true;
  }
  return false;
}

/** tpm_tis_tpm_send: the locality goes to EXECUTION; in_len is rw_offset. */
function tpmSend(st: Step, l: number): void {
  st.mut(l).state = TisState.EXECUTION;
  st.w().cmdLocty = l;
  st.w().cmdInLength = st.s.rwOffset;
  st.trace('tpm_tis_tpm_send', { locty: l, in_len: st.s.rwOffset });
  st.emit({ kind: 'deliver', locality: l, inLength: st.s.rwOffset });
}

/** tpm_tis_new_active_locality */
function newActiveLocality(st: Step, newLocty: number): void {
  const old = st.s.activeLocty;
  const change = old !== newLocty;
  if (change && isValidLocality(old)) {
    const isSeize = isValidLocality(newLocty) && (st.get(newLocty).access & ACCESS_SEIZE) !== 0;
    const o = st.mut(old);
    // A seized locality keeps its REQUEST_USE and learns it was seized; a released one forgets both.
    o.access &= isSeize ? ~ACCESS_ACTIVE_LOCALITY : ~(ACCESS_ACTIVE_LOCALITY | ACCESS_REQUEST_USE);
    if (isSeize) o.access |= ACCESS_BEEN_SEIZED;
  }
  st.w().activeLocty = newLocty;
  st.trace('tpm_tis_new_active_locality', { locty: newLocty });
  if (isValidLocality(newLocty)) {
    const n = st.mut(newLocty);
    n.access = (n.access | ACCESS_ACTIVE_LOCALITY) & ~(ACCESS_REQUEST_USE | ACCESS_SEIZE);
  }
  if (change) raiseIrq(st, newLocty, INT_LOCALITY_CHANGED);
}

/** tpm_tis_abort: rewind the shared buffer and switch to next_locty. */
function abort(st: Step): void {
  st.w().rwOffset = 0;
  st.trace('tpm_tis_abort', { locty: st.s.nextLocty });
  const aborting = st.s.abortingLocty;
  if (aborting === st.s.nextLocty) {
    // A locality aborting its own command (COMMAND_READY in RECEPTION/EXECUTION) lands in READY.
    st.mut(aborting).state = TisState.READY;
    stsSet(st, aborting, STS_COMMAND_READY);
    raiseIrq(st, aborting, INT_COMMAND_READY);
  }
  newActiveLocality(st, st.s.nextLocty);
  st.w().nextLocty = NO_LOCALITY;
  st.w().abortingLocty = NO_LOCALITY;
}

/** tpm_tis_prep_abort: with any locality executing, cancel and finish the abort at completion. */
function prepAbort(st: Step, locty: number, newLocty: number): void {
  st.w().abortingLocty = locty;
  st.w().nextLocty = newLocty;
  for (let l = 0; l < TIS_NUM_LOCALITIES; l++) {
    if (st.get(l).state === TisState.EXECUTION) {
      st.emit({ kind: 'cancel' });
      return;
    }
  }
  abort(st);
}

/** tpm_tis_request_completed: the response is in the buffer; COMPLETION, then any deferred abort. */
function requestCompleted(st: Step, output: Uint8Array | null, selftestDone: boolean): void {
  const locty = st.s.cmdLocty;
  if (!isValidLocality(locty) || st.get(locty).state !== TisState.EXECUTION) {
    // QEMU asserts a valid locality; and its backend never completes a command the TIS did not send
    // (reset drains it first). Our step ignores such a completion rather than invent a state.
    st.trace('tpm_tis_request_completed_ignored', { locty });
    return;
  }
  // QEMU's emulator backend reads the response straight into s->buffer (cmd.out); ours hands it over here.
  if (output !== null) st.s.buffer.set(output.subarray(0, st.s.beBufferSize));
  st.trace('tpm_tis_request_completed', { locty, len: output === null ? 0 : output.length });
  if (selftestDone) {
    for (let l = 0; l < TIS_NUM_LOCALITIES; l++) {
      const loc = st.mut(l);
      loc.sts = (loc.sts | STS_SELFTEST_DONE) >>> 0;
    }
  }
  stsSet(st, locty, STS_VALID | STS_DATA_AVAILABLE);
  st.mut(locty).state = TisState.COMPLETION;
  st.w().rwOffset = 0;
  if (isValidLocality(st.s.nextLocty)) abort(st);
  raiseIrq(st, locty, INT_DATA_AVAILABLE | INT_STS_VALID);
}

/** tpm_tis_data_read: one response byte; 0xFF without advancing once DATA_AVAILABLE is clear. */
function dataRead(st: Step, l: number): number {
  if (!(st.get(l).sts & STS_DATA_AVAILABLE)) return NO_DATA_BYTE;
  const len = Math.min(tpmCmdGetSize(st.s.buffer), st.s.beBufferSize);
  const off = st.s.rwOffset;
  const ret = st.s.buffer[off] ?? 0;
  st.w().rwOffset = off + 1;
  if (st.s.rwOffset >= len) {
    stsSet(st, l, STS_VALID);
    raiseIrq(st, l, INT_STS_VALID);
  }
  st.trace('tpm_tis_data_read', { value: ret, off });
  return ret;
}

const sizeMask = (size: number): number => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff);

/** tpm_tis_mmio_read; addr is relative to the region base. Returns the value truncated to size. */
function mmioRead(st: Step, addr: number, size: number): number {
  const offset = registerOffset(addr);
  let shift = (addr & 3) * 8;
  const locty = localityFromAddr(addr);
  let val = 0xffffffff;
  let tracedSize = size;
  const s = st.s;
  if (offset === REG_ACCESS) {
    // SEIZE is internal and never shown; PENDING_REQUEST is computed; bit 0 is !established.
    val = st.get(locty).access & ~ACCESS_SEIZE;
    if (requestUseExcept(st, locty)) val |= ACCESS_PENDING_REQUEST;
    if (!s.tpmEstablished) val |= 1;
  } else if (offset === REG_INT_ENABLE) {
    val = st.get(locty).inte;
  } else if (offset === REG_INT_VECTOR) {
    val = s.irqNum;
  } else if (offset === REG_INT_STATUS) {
    val = st.get(locty).ints;
  } else if (offset === REG_INTF_CAPABILITY) {
    val = s.beTpmVersion === 2 ? CAPABILITIES_SUPPORTED2_0 : CAPABILITIES_SUPPORTED1_3;
  } else if (offset === REG_STS) {
    if (s.activeLocty === locty) {
      const sts = st.get(locty).sts;
      if (sts & STS_DATA_AVAILABLE) {
        val = (burstCount(Math.min(tpmCmdGetSize(s.buffer), s.beBufferSize) - s.rwOffset) | sts) >>> 0;
      } else {
        let avail = s.beBufferSize - s.rwOffset;
        // Byte reads must not see 0x00 for 0x100 bytes available.
        if (size === 1 && avail > 0xff) avail = 0xff;
        val = (burstCount(avail) | sts) >>> 0;
      }
    }
  } else if (isFifoOffset(offset)) {
    if (s.activeLocty === locty) {
      let n = Math.min(size, 4 - (addr & 3)); // no access beyond the FIFO register
      val = 0;
      let byteShift = 0;
      while (n > 0) {
        const v = st.get(locty).state === TisState.COMPLETION ? dataRead(st, locty) : NO_DATA_BYTE;
        val = (val | (v << byteShift)) >>> 0;
        byteShift += 8;
        n--;
      }
      shift = 0;
      // QEMU counts its `size` down to 0 in this loop and then traces it: FIFO reads trace size=0.
      tracedSize = 0;
    }
  } else if (offset === REG_INTERFACE_ID) {
    val = st.get(locty).ifaceId;
  } else if (offset === REG_DID_VID) {
    val = DID_VID;
  } else if (offset === REG_RID) {
    val = TPM_RID;
  }
  if (shift) val >>>= shift;
  // tpm_tis_mmio_read traces the untruncated value; the memory core then keeps `size` bytes.
  st.trace('tpm_tis_mmio_read', { size: tracedSize, addr, val });
  return (val & sizeMask(size)) >>> 0;
}

/** tpm_tis_mmio_write; addr is relative to the region base. */
function mmioWrite(st: Step, addr: number, size: number, value: number, startupError: boolean): void {
  const off = registerOffset(addr);
  const shift = (addr & 3) * 8;
  const locty = localityFromAddr(addr);
  let mask = sizeMask(size);
  st.trace('tpm_tis_mmio_write', { size, addr, val: value >>> 0 });
  if (locty === 4) {
    st.trace('tpm_tis_mmio_write_locty4', {});
    return;
  }
  // After the trace and the locality-4 check, as tpm_tis_mmio_write orders them.
  if (startupError) return;
  let val = (value & mask) >>> 0;
  if (shift) {
    val = (val << shift) >>> 0;
    mask = (mask << shift) >>> 0;
  }
  mask = ~mask >>> 0; // the bits this access does not touch
  if (off === REG_ACCESS) {
    writeAccess(st, locty, val);
  } else if (off === REG_INT_ENABLE) {
    if (st.s.activeLocty !== locty) return;
    const loc = st.mut(locty);
    loc.inte = ((loc.inte & mask) | (val & (INT_ENABLED | INT_POLARITY_MASK | INTERRUPTS_SUPPORTED))) >>> 0;
  } else if (off === REG_INT_VECTOR) {
    // hard wired
  } else if (off === REG_INT_STATUS) {
    if (st.s.activeLocty !== locty) return;
    const loc = st.mut(locty);
    if (val & INTERRUPTS_SUPPORTED && loc.ints & INTERRUPTS_SUPPORTED) {
      loc.ints = (loc.ints & ~val) >>> 0;
      if (loc.ints === 0) {
        st.w().irqLevel = 0;
        st.emit({ kind: 'irq', level: 0 });
        st.trace('tpm_tis_mmio_write_lowering_irq', {});
      }
    }
    loc.ints = (loc.ints & ~(val & INTERRUPTS_SUPPORTED)) >>> 0;
  } else if (off === REG_STS) {
    writeSts(st, locty, val);
  } else if (isFifoOffset(off)) {
    writeFifo(st, locty, addr, size, val >>> shift);
  } else if (off === REG_INTERFACE_ID) {
    if (val & IFACE_ID_INT_SEL_LOCK) {
      for (let l = 0; l < TIS_NUM_LOCALITIES; l++) {
        const loc = st.mut(l);
        loc.ifaceId = (loc.ifaceId | IFACE_ID_INT_SEL_LOCK) >>> 0;
      }
    }
  }
}

/** The ACCESS branch of tpm_tis_mmio_write: release, clear BEEN_SEIZED, seize, request use. */
function writeAccess(st: Step, locty: number, value: number): void {
  let val = value;
  if (val & ACCESS_SEIZE) val &= ~(ACCESS_REQUEST_USE | ACCESS_ACTIVE_LOCALITY);
  let activeLocty = st.s.activeLocty;
  let setNewLocty = true;

  if (val & ACCESS_ACTIVE_LOCALITY) {
    if (st.s.activeLocty === locty) {
      st.trace('tpm_tis_mmio_write_release_locty', { locty });
      // Hand over to the highest locality waiting with REQUEST_USE.
      let newLocty = NO_LOCALITY;
      for (let c = TIS_NUM_LOCALITIES - 1; c >= 0; c--) {
        if (st.get(c).access & ACCESS_REQUEST_USE) {
          st.trace('tpm_tis_mmio_write_locty_req_use', { locty: c });
          newLocty = c;
          break;
        }
      }
      st.trace('tpm_tis_mmio_write_next_locty', { locty: newLocty });
      if (isValidLocality(newLocty)) {
        setNewLocty = false;
        prepAbort(st, locty, newLocty);
      } else {
        activeLocty = NO_LOCALITY;
      }
    } else {
      st.mut(locty).access &= ~ACCESS_REQUEST_USE; // not the owner: withdraw a pending request
    }
  }

  if (val & ACCESS_BEEN_SEIZED) st.mut(locty).access &= ~ACCESS_BEEN_SEIZED;

  if (val & ACCESS_SEIZE) {
    // Only a higher locality than the active one (or anyone when none is active) may seize; QEMU's
    // `while` runs at most once.
    const active = st.s.activeLocty;
    if (!isValidLocality(active) || locty > active) {
      let blocked = (st.get(locty).access & ACCESS_SEIZE) !== 0;
      for (let l = locty + 1; !blocked && l < TIS_NUM_LOCALITIES; l++) {
        if (st.get(l).access & ACCESS_SEIZE) blocked = true;
      }
      if (!blocked) {
        for (let l = 0; l < locty; l++) {
          if (st.get(l).access & ACCESS_SEIZE) st.mut(l).access &= ~ACCESS_SEIZE;
        }
        st.mut(locty).access |= ACCESS_SEIZE;
        st.trace('tpm_tis_mmio_write_locty_seized', { locty, active });
        st.trace('tpm_tis_mmio_write_init_abort', {});
        setNewLocty = false;
        prepAbort(st, active, locty);
      }
    }
  }

  if (val & ACCESS_REQUEST_USE && st.s.activeLocty !== locty) {
    if (isValidLocality(st.s.activeLocty)) st.mut(locty).access |= ACCESS_REQUEST_USE;
    else activeLocty = locty; // nobody active: this one becomes active now
  }

  if (setNewLocty) newActiveLocality(st, activeLocty);
}

/** The STS branch of tpm_tis_mmio_write: only an exact single command bit acts. */
function writeSts(st: Step, locty: number, value: number): void {
  if (st.s.activeLocty !== locty) return;
  if (st.s.beTpmVersion === 2) {
    if (value & STS_COMMAND_CANCEL && st.get(locty).state === TisState.EXECUTION) st.emit({ kind: 'cancel' });
    if (value & STS_RESET_ESTABLISHMENT_BIT && (locty === 3 || locty === 4)) {
      st.emit({ kind: 'resetEstablished', locality: locty });
    }
  }
  const val = value & (STS_COMMAND_READY | STS_TPM_GO | STS_RESPONSE_RETRY);
  const state = st.get(locty).state;
  if (val === STS_COMMAND_READY) {
    switch (state) {
      case TisState.READY:
        st.w().rwOffset = 0;
        break;
      case TisState.IDLE:
        stsSet(st, locty, STS_COMMAND_READY);
        st.mut(locty).state = TisState.READY;
        raiseIrq(st, locty, INT_COMMAND_READY);
        break;
      case TisState.EXECUTION:
      case TisState.RECEPTION:
        st.trace('tpm_tis_mmio_write_init_abort', {});
        prepAbort(st, locty, locty);
        break;
      case TisState.COMPLETION: {
        st.w().rwOffset = 0;
        st.mut(locty).state = TisState.READY;
        if (!(st.get(locty).sts & STS_COMMAND_READY)) {
          stsSet(st, locty, STS_COMMAND_READY);
          raiseIrq(st, locty, INT_COMMAND_READY);
        }
        const loc = st.mut(locty);
        loc.sts = (loc.sts & ~STS_DATA_AVAILABLE) >>> 0;
        break;
      }
    }
  } else if (val === STS_TPM_GO) {
    if (state === TisState.RECEPTION && !(st.get(locty).sts & STS_EXPECT)) tpmSend(st, locty);
  } else if (val === STS_RESPONSE_RETRY) {
    if (state === TisState.COMPLETION) {
      st.w().rwOffset = 0;
      stsSet(st, locty, STS_VALID | STS_DATA_AVAILABLE);
    }
  }
}

/** The DATA_FIFO/XDATA_FIFO branch of tpm_tis_mmio_write; `value` is already shifted back down. */
function writeFifo(st: Step, locty: number, addr: number, size: number, value: number): void {
  if (st.s.activeLocty !== locty) return;
  const state = st.get(locty).state;
  if (state === TisState.IDLE || state === TisState.EXECUTION || state === TisState.COMPLETION) return;
  st.trace('tpm_tis_mmio_write_data2send', { value, size });
  if (state === TisState.READY) {
    st.mut(locty).state = TisState.RECEPTION;
    stsSet(st, locty, STS_EXPECT | STS_VALID);
  }
  let val = value;
  let n = Math.min(size, 4 - (addr & 3));
  while (st.get(locty).sts & STS_EXPECT && n > 0) {
    const s = st.w();
    if (s.rwOffset < s.beBufferSize) {
      s.buffer[s.rwOffset] = val & 0xff;
      s.rwOffset++;
      val >>>= 8;
      n--;
    } else {
      stsSet(st, locty, STS_VALID); // buffer full: EXPECT clears, the loop ends
    }
  }
  const s = st.s;
  if (s.rwOffset > 5 && st.get(locty).sts & STS_EXPECT) {
    // The header's size field is in: is the command complete?
    const needIrq = !(st.get(locty).sts & STS_VALID);
    const len = tpmCmdGetSize(s.buffer);
    stsSet(st, locty, len > s.rwOffset ? STS_EXPECT | STS_VALID : STS_VALID);
    if (needIrq) raiseIrq(st, locty, INT_STS_VALID);
  }
}

/** tpm_tis_reset (the backend reset/startup itself is the device's job). */
function reset(st: Step, bufferSize: number, tpmVersion: 1 | 2): void {
  const s = st.w();
  s.beTpmVersion = tpmVersion;
  s.beBufferSize = Math.min(bufferSize, TIS_BUFFER_MAX);
  s.activeLocty = NO_LOCALITY;
  s.nextLocty = NO_LOCALITY;
  s.abortingLocty = NO_LOCALITY;
  const loc: LocalityRegs[] = [];
  for (let c = 0; c < TIS_NUM_LOCALITIES; c++) {
    loc.push({
      state: TisState.IDLE,
      inte: INT_POLARITY_LOW_LEVEL,
      ints: 0,
      access: ACCESS_TPM_REG_VALID_STS,
      sts: tpmVersion === 2 ? STS_TPM_FAMILY2_0 : STS_TPM_FAMILY1_2,
      ifaceId: tpmVersion === 2 ? IFACE_ID_SUPPORTED_FLAGS2_0 : IFACE_ID_SUPPORTED_FLAGS1_3,
    });
  }
  s.loc = loc;
  s.rwOffset = 0;
  // tpm_backend_reset has drained any command in flight (tpm_backend_finish_sync) before this point, so
  // no completion belongs to the new state; a late one finds no command and changes nothing.
  s.cmdLocty = NO_LOCALITY;
  s.cmdInLength = 0;
  // The IRQ line is not part of tpm_tis_reset; on a machine reset the interrupt controller resets it.
  s.irqLevel = 0;
}
