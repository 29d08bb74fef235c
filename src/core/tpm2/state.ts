// The TPM's state, split the way swtpm's blobs split it (see blob.ts):
// - permanent: what survives power loss (seeds, hierarchy auth, NV indices, counters);
// - volatile: what lives between TPM2_Startup and power-off (PCRs, loaded objects, sequences); the
//   DRBG's state travels with it (see blob.ts);
// - savestate: what TPM2_Shutdown(STATE) keeps so that TPM2_Startup(STATE) can resume.
// All fields are plain data so the blobs can serialise them exactly.
import type { HashAlgName } from './hash';

export const PCR_COUNT = 24;
export const PCR_BANKS: readonly HashAlgName[] = ['sha1', 'sha256', 'sha384'];
/** libtpms' MAX_LOADED_OBJECTS with the default profile. */
export const MAX_LOADED_OBJECTS = 3;
/** Sequence objects share the object slots in the reference implementation. */
export const PRIMARY_SEED_SIZE = 32;
/** libtpms' MAX_LOADED_SESSIONS: authorization sessions held in TPM RAM at once. */
export const MAX_LOADED_SESSIONS = 3;
/** libtpms' MAX_ACTIVE_SESSIONS: session handles run from 0x02000000/0x03000000 to + 63. */
export const MAX_ACTIVE_SESSIONS = 64;

export interface NvIndex {
  handle: number;
  nameAlg: number;
  /** TPMA_NV bits. */
  attributes: number;
  authPolicy: Uint8Array;
  authValue: Uint8Array;
  data: Uint8Array;
}

export interface PermanentState {
  endorsementSeed: Uint8Array;
  storageSeed: Uint8Array;
  platformSeed: Uint8Array;
  /** Hierarchy proofs (the reference code's shProof, ehProof, phProof): keys for tickets. */
  ownerProof: Uint8Array;
  endorsementProof: Uint8Array;
  platformProof: Uint8Array;
  ownerAuth: Uint8Array;
  endorsementAuth: Uint8Array;
  lockoutAuth: Uint8Array;
  platformAuth: Uint8Array;
  nvIndices: NvIndex[];
  /**
   * The highest value a deleted NV counter had, as a decimal string (a UINT64): a counter index starts
   * from it at its first NV_Increment (libtpms' s_maxCounter, kept in NV's end-of-list marker).
   */
  nvMaxCounter: string;
  /** TPMS_CLOCK_INFO.resetCount: incremented on each TPM Reset (Startup(CLEAR) after Shutdown(CLEAR) or none). */
  resetCount: number;
  /** Clock (ms) as last made persistent; advances with virtual time while powered. */
  clockMs: number;
  /** Set by Shutdown: whether the last shutdown was orderly and of which type (-1 none). */
  orderlyShutdown: number;
  /** TPM_ESTABLISHED: set by a DRTM sequence (_TPM_Hash_Start), cleared by RESET_TPMESTABLISHED. */
  tpmEstablished: boolean;
}

export interface LoadedObject {
  handle: number;
  hierarchy: number;
  /** Marshalled TPMT_PUBLIC. */
  publicArea: Uint8Array;
  /** nameAlg || H_nameAlg(publicArea). */
  name: Uint8Array;
  qualifiedName: Uint8Array;
  authValue: Uint8Array;
  /** Private key material, big-endian bytes: RSA prime p, or the ECC private scalar. */
  sensitive: Uint8Array;
}

export interface HashSequence {
  handle: number;
  hashAlg: number;
  authValue: Uint8Array;
  /** All data seen so far. The engine rehashes on completion, which keeps the state plain data. */
  data: Uint8Array;
  /**
   * Hash sequences only: whether the first block (of SequenceUpdate or SequenceComplete) was safe for a
   * hashcheck ticket (libtpms' firstBlock/ticketSafe attributes); undefined until that block arrives.
   */
  ticketSafe?: boolean;
}

/** An HMAC authorization session started by TPM2_StartAuthSession (the reference code's SESSION). */
export interface AuthSession {
  /** HMAC_SESSION_FIRST + the session's context slot. */
  handle: number;
  /** TPMI_ALG_HASH of the session: HMACs, cpHash/rpHash and KDFa use it. */
  authHash: number;
  /** TPMT_SYM_DEF for parameter encryption: TPM_ALG_NULL, TPM_ALG_XOR (keyBits = hash) or AES (mode CFB). */
  symAlgorithm: number;
  symKeyBits: number;
  symMode: number;
  /** KDFa(authHash, bind authValue || salt, "ATH", nonceTPM, nonceCaller): empty when unbound and unsalted. */
  sessionKey: Uint8Array;
  /** The TPM's current nonce (as long as StartAuthSession's nonceCaller); new in every successful response. */
  nonceTPM: Uint8Array;
  /**
   * Bound sessions (bind != TPM_RH_NULL): the bind entity's Name and authValue (trailing zeros removed)
   * at StartAuthSession. The session is bound to an entity while both still match (IsSessionBindEntity).
   */
  bound: boolean;
  boundName: Uint8Array;
  boundAuth: Uint8Array;
  /** Bound to a DA-protected entity (libtpms isDaBound): a wrong HMAC is then TPM_RC_AUTH_FAIL. */
  daBound: boolean;
}

export interface VolatileState {
  /** PCR values per bank, PCR_COUNT entries each. */
  pcrs: Record<HashAlgName, Uint8Array[]>;
  /** TPMS_CLOCK_INFO.restartCount. */
  restartCount: number;
  /** Transient objects and sequences, in creation order. */
  objects: LoadedObject[];
  sequences: HashSequence[];
  /** Seed and proof of the null hierarchy: drawn anew at every TPM Reset. */
  nullSeed: Uint8Array;
  nullProof: Uint8Array;
  selfTestDone: boolean;
  /** Counter of PCR changes, reported in PCR_Read. */
  pcrUpdateCounter: number;
  /** Loaded HMAC sessions, in creation order (at most MAX_LOADED_SESSIONS). */
  sessions: AuthSession[];
  /** gr.objectContextID: the sequence number of the last object context saved (ContextSave). */
  objectContextId: number;
}

export interface SaveState {
  pcrs: Record<HashAlgName, Uint8Array[]>;
  restartCount: number;
  pcrUpdateCounter: number;
  /** The null seed does not survive Shutdown(STATE) in the spec: a new one is drawn at every Startup. */
  clockMs: number;
}
