// The live TPM: its three state parts, the DRBG every random byte comes from, and the lookups command
// handlers share. Handlers receive it; the engine (engine.ts) owns it and does the dispatching.
import { HmacDrbg } from '../kernel/drbg';
import { copyState } from './blob';
import { HT, RH, TRANSIENT_FIRST } from './constants';
import { RC, TpmError } from './rc';
import {
  MAX_LOADED_OBJECTS,
  PCR_BANKS,
  PCR_COUNT,
  PRIMARY_SEED_SIZE,
  type AuthSession,
  type HashSequence,
  type LoadedObject,
  type NvIndex,
  type PermanentState,
  type SaveState,
  type VolatileState,
} from './state';
import type { HashAlgName } from './hash';
import { hashByName } from './hash';

export interface TpmConfig {
  /** Everything random in this TPM derives from this seed. */
  seed: string | number;
  /**
   * How fast the TPM is relative to the cost model's reference machine: 1 = reference, 0.1 = ten times
   * slower (a slow TPM makes in-flight windows wider).
   */
  speed?: number;
}

/** PCRs 17–22 start as all ones after a TPM Reset (PC Client profile); the others as zeros. */
function initialPcrValue(index: number, size: number): Uint8Array {
  return new Uint8Array(size).fill(index >= 17 && index <= 22 ? 0xff : 0x00);
}

export function freshPcrs(): Record<HashAlgName, Uint8Array[]> {
  const out = {} as Record<HashAlgName, Uint8Array[]>;
  for (const bank of PCR_BANKS) {
    const size = hashByName(bank).digestSize;
    out[bank] = Array.from({ length: PCR_COUNT }, (_, i) => initialPcrValue(i, size));
  }
  return out;
}

export class TpmContext {
  perm: PermanentState;
  vol: VolatileState;
  saved: SaveState | null = null;
  drbg: HmacDrbg;
  /** TPM2_Startup has been received since the last _TPM_Init. */
  started = false;
  /** Virtual time of the command being executed, in ns since the engine was created. */
  nowNs = 0;
  /** Virtual time of the last TPM2_Startup (TPMS_TIME_INFO.time counts from here). */
  startedAtNs = 0;
  readonly speed: number;

  constructor(readonly config: TpmConfig) {
    this.speed = config.speed ?? 1;
    if (!(this.speed > 0) || !Number.isFinite(this.speed)) {
      throw new RangeError(`TPM speed must be a positive number, got ${config.speed}`);
    }
    // Manufacture: seeds come from a DRBG keyed by the configured seed, so a TPM is reproducible.
    const manufacture = HmacDrbg.fromSeed(config.seed, 'tislab tpm2 manufacture');
    this.perm = {
      endorsementSeed: manufacture.generate(PRIMARY_SEED_SIZE),
      storageSeed: manufacture.generate(PRIMARY_SEED_SIZE),
      platformSeed: manufacture.generate(PRIMARY_SEED_SIZE),
      ownerProof: manufacture.generate(PRIMARY_SEED_SIZE),
      endorsementProof: manufacture.generate(PRIMARY_SEED_SIZE),
      platformProof: manufacture.generate(PRIMARY_SEED_SIZE),
      ownerAuth: new Uint8Array(0),
      endorsementAuth: new Uint8Array(0),
      lockoutAuth: new Uint8Array(0),
      platformAuth: new Uint8Array(0),
      nvIndices: [],
      nvMaxCounter: '0',
      resetCount: 0,
      clockMs: 0,
      orderlyShutdown: -1,
      tpmEstablished: false,
    };
    this.drbg = HmacDrbg.fromSeed(config.seed, 'tislab tpm2 runtime');
    this.vol = this.freshVolatile();
  }

  /**
   * An independent copy of this TPM (a forked machine's): the same state and DRBG working state, nothing
   * shared, so both continue alike. Made without manufacturing, which a copy would only overwrite.
   */
  clone(): TpmContext {
    const copy = Object.create(TpmContext.prototype) as TpmContext;
    // The primitives and the config (never changed) as they are, then copies of the mutable parts.
    Object.assign(copy, this, {
      perm: copyState(this.perm),
      vol: copyState(this.vol),
      saved: copyState(this.saved),
      drbg: this.drbg.clone(),
    });
    return copy;
  }

  freshVolatile(): VolatileState {
    return {
      pcrs: freshPcrs(),
      restartCount: 0,
      objects: [],
      sequences: [],
      nullSeed: this.drbg.generate(PRIMARY_SEED_SIZE),
      nullProof: this.drbg.generate(PRIMARY_SEED_SIZE),
      selfTestDone: false,
      pcrUpdateCounter: 0,
      sessions: [],
      objectContextId: 0,
    };
  }

  random(n: number): Uint8Array {
    return this.drbg.generate(n);
  }

  /** TPM Clock in ms: persisted base plus virtual time since power-on. */
  clockMs(): number {
    return this.perm.clockMs + Math.floor(this.nowNs / 1_000_000);
  }

  // ---- hierarchies -------------------------------------------------------------------------------

  hierarchyAuth(handle: number): Uint8Array {
    switch (handle) {
      case RH.OWNER:
        return this.perm.ownerAuth;
      case RH.ENDORSEMENT:
        return this.perm.endorsementAuth;
      case RH.PLATFORM:
        return this.perm.platformAuth;
      case RH.LOCKOUT:
        return this.perm.lockoutAuth;
      default:
        return new Uint8Array(0);
    }
  }

  primarySeed(hierarchy: number): Uint8Array {
    switch (hierarchy) {
      case RH.OWNER:
        return this.perm.storageSeed;
      case RH.ENDORSEMENT:
        return this.perm.endorsementSeed;
      case RH.PLATFORM:
        return this.perm.platformSeed;
      default:
        return this.vol.nullSeed;
    }
  }

  /** The proof value that keys tickets for a hierarchy (TPM_RH_NULL: the volatile null proof). */
  hierarchyProof(hierarchy: number): Uint8Array {
    switch (hierarchy) {
      case RH.OWNER:
        return this.perm.ownerProof;
      case RH.ENDORSEMENT:
        return this.perm.endorsementProof;
      case RH.PLATFORM:
        return this.perm.platformProof;
      default:
        return this.vol.nullProof;
    }
  }

  // ---- NV ----------------------------------------------------------------------------------------

  findNv(handle: number): NvIndex | undefined {
    return this.perm.nvIndices.find((n) => n.handle === handle);
  }

  // ---- transient objects and sequences -----------------------------------------------------------

  findObject(handle: number): LoadedObject | undefined {
    return this.vol.objects.find((o) => o.handle === handle);
  }

  findSequence(handle: number): HashSequence | undefined {
    return this.vol.sequences.find((s) => s.handle === handle);
  }

  findSession(handle: number): AuthSession | undefined {
    return this.vol.sessions.find((s) => s.handle === handle);
  }

  /**
   * A free transient handle, as the reference ObjectAllocateSlot: the lowest free slot, handle
   * TRANSIENT_FIRST + slot. Objects and sequences share MAX_LOADED_OBJECTS slots; when none is free
   * the command fails with TPM_RC_OBJECT_MEMORY.
   */
  allocateTransientHandle(): number {
    const used = new Set<number>([...this.vol.objects, ...this.vol.sequences].map((o) => o.handle));
    for (let slot = 0; slot < MAX_LOADED_OBJECTS; slot++) {
      const h = TRANSIENT_FIRST + slot;
      if (!used.has(h)) return h;
    }
    throw new TpmError(RC.OBJECT_MEMORY, 'all transient object slots are in use');
  }

  /** Removes a transient object or sequence; returns false if nothing was loaded under that handle. */
  flushTransient(handle: number): boolean {
    const before = this.vol.objects.length + this.vol.sequences.length;
    this.vol.objects = this.vol.objects.filter((o) => o.handle !== handle);
    this.vol.sequences = this.vol.sequences.filter((s) => s.handle !== handle);
    return this.vol.objects.length + this.vol.sequences.length !== before;
  }

  static handleType(handle: number): number {
    return handle >>> 24;
  }

  static isTransient(handle: number): boolean {
    return TpmContext.handleType(handle) === HT.TRANSIENT;
  }
}
