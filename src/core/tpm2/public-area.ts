// Object public areas (TPM 2.0 Part 2 §12.2: TPMT_PUBLIC, TPM2B_PUBLIC), the sensitive-creation
// structure (§12.1: TPM2B_SENSITIVE_CREATE), and object Names (Part 1 §16).
//
// Unmarshalling follows libtpms 0.9 (Unmarshal.c) value by value and returns the same bare format-one
// codes, which the command adds its parameter number to. Only what this TPM implements is accepted —
// RSA and ECC objects (keyed-hash and symmetric-cipher objects are refused with TPM_RC_TYPE, the code
// libtpms gives an unknown object type), SHA-1/256/384, AES-128/256 in CFB mode, the RSASSA, RSAPSS,
// RSAES, OAEP, ECDSA and ECDH schemes, NIST P-256 — the set GetCapability reports. Anything else gets
// the code libtpms returns for a value it does not implement (TPM_RC_HASH, TPM_RC_SYMMETRIC,
// TPM_RC_VALUE for key sizes, TPM_RC_MODE, TPM_RC_SCHEME or TPM_RC_VALUE for schemes, TPM_RC_CURVE).
//
// createChecks() is the reference code's CreateChecks → PublicAttributesValidation → SchemeChecks
// (Object_spt.c) for RSA and ECC objects. Every code was checked against swtpm 0.7.1 / libtpms 0.9.2.
import { ALG, ECC_CURVE } from './constants';
import { digest, hashByAlg } from './hash';
import { TpmReader, TpmWriter } from './marshal';
import { RC, TpmError } from './rc';

/** TPMA_OBJECT bits (Part 2 §8.3). */
export const OBJECT_ATTR = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
} as const;

/**
 * TPMA_OBJECT bits that libtpms 0.9.2 refuses with TPM_RC_RESERVED_BITS: 0, 3, 8, 9, 12–15, 20–31
 * (observed from swtpm 0.7.1 bit by bit; bit 19, x509sign, is accepted).
 */
export const OBJECT_ATTR_RESERVED = 0xfff0f309;

/** TPM_ALG_KDF2, which constants.ts does not list. */
const ALG_KDF2 = 0x0021;

/** Buffer capacities of libtpms 0.9 (observed limits from swtpm 0.7.1). */
export const LIMITS = {
  /** TPM2B_DIGEST: sizeof(TPMU_HA) with SHA-512 compiled in. */
  digest: 64,
  /** TPM2B_PUBLIC_KEY_RSA: MAX_RSA_KEY_BYTES (RSA-3072). */
  rsaKey: 384,
  /** TPM2B_ECC_PARAMETER: MAX_ECC_KEY_BYTES (BN P638 is compiled in). */
  eccParameter: 80,
  /** TPM2B_AUTH: sizeof(TPMU_HA). */
  auth: 64,
  /** TPM2B_SENSITIVE_DATA: MAX_SYM_DATA. */
  sensitiveData: 128,
  /** TPM2B_DATA: sizeof(TPMT_HA). */
  data: 66,
} as const;

export const RSA_KEY_BITS: readonly number[] = [1024, 2048, 3072];

export interface SymDefObject {
  /** TPM_ALG_AES or TPM_ALG_NULL (then keyBits and mode are 0 and not marshalled). */
  algorithm: number;
  keyBits: number;
  mode: number;
}

export interface SchemeDef {
  scheme: number;
  /** The scheme's hash; TPM_ALG_NULL for schemes without details (NULL, RSAES). */
  hashAlg: number;
}

interface PublicCommon {
  nameAlg: number;
  objectAttributes: number;
  authPolicy: Uint8Array;
  symmetric: SymDefObject;
  scheme: SchemeDef;
}

export interface RsaPublicArea extends PublicCommon {
  type: typeof ALG.RSA;
  keyBits: number;
  /** 0 means the default, 65537. */
  exponent: number;
  /** The modulus n (TPM2B_PUBLIC_KEY_RSA). */
  unique: Uint8Array;
}

export interface EccPublicArea extends PublicCommon {
  type: typeof ALG.ECC;
  curveId: number;
  kdf: SchemeDef;
  unique: { x: Uint8Array; y: Uint8Array };
}

export type PublicArea = RsaPublicArea | EccPublicArea;

export interface SensitiveCreate {
  userAuth: Uint8Array;
  data: Uint8Array;
}

const NULL_SYM: SymDefObject = { algorithm: ALG.NULL, keyBits: 0, mode: 0 };

function fail(rc: number, why: string): never {
  throw new TpmError(rc, why);
}

function hex4(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}

// ---- unmarshalling -------------------------------------------------------------------------------

/** TPMI_ALG_HASH: an implemented hash (TPM_ALG_NULL only when allowNull), else TPM_RC_HASH. */
export function readHashAlg(r: TpmReader, allowNull: boolean): number {
  const alg = r.u16();
  if (alg === ALG.NULL && allowNull) return alg;
  if (!hashByAlg(alg)) fail(RC.HASH, `hash algorithm ${hex4(alg)} is not implemented`);
  return alg;
}

/** TPMA_OBJECT. */
function readObjectAttributes(r: TpmReader): number {
  const v = r.u32();
  if ((v & OBJECT_ATTR_RESERVED) !== 0)
    fail(RC.RESERVED_BITS, `TPMA_OBJECT 0x${v.toString(16)} sets reserved bits`);
  return v;
}

/** TPMT_SYM_DEF_OBJECT (+NULL). */
function readSymDefObject(r: TpmReader): SymDefObject {
  const algorithm = r.u16();
  if (algorithm === ALG.NULL) return { ...NULL_SYM };
  if (algorithm !== ALG.AES) fail(RC.SYMMETRIC, `symmetric algorithm ${hex4(algorithm)} is not implemented`);
  const keyBits = r.u16();
  if (keyBits !== 128 && keyBits !== 256) fail(RC.VALUE, `AES key size ${keyBits} is not implemented`);
  const mode = r.u16();
  if (mode !== ALG.CFB && mode !== ALG.NULL) fail(RC.MODE, `symmetric mode ${hex4(mode)} is not implemented`);
  return { algorithm, keyBits, mode };
}

/** TPMT_RSA_SCHEME (+NULL): an unknown scheme is TPM_RC_VALUE in libtpms (TPMI_ALG_RSA_SCHEME). */
function readRsaScheme(r: TpmReader): SchemeDef {
  const scheme = r.u16();
  switch (scheme) {
    case ALG.NULL:
    case ALG.RSAES:
      return { scheme, hashAlg: ALG.NULL };
    case ALG.RSASSA:
    case ALG.RSAPSS:
    case ALG.OAEP:
      return { scheme, hashAlg: readHashAlg(r, false) };
    default:
      return fail(RC.VALUE, `RSA scheme ${hex4(scheme)} is not implemented`);
  }
}

/** TPMT_ECC_SCHEME (+NULL): an unknown scheme is TPM_RC_SCHEME (TPMI_ALG_ECC_SCHEME). */
function readEccScheme(r: TpmReader): SchemeDef {
  const scheme = r.u16();
  switch (scheme) {
    case ALG.NULL:
      return { scheme, hashAlg: ALG.NULL };
    case ALG.ECDSA:
    case ALG.ECDH:
      return { scheme, hashAlg: readHashAlg(r, false) };
    default:
      return fail(RC.SCHEME, `ECC scheme ${hex4(scheme)} is not implemented`);
  }
}

/**
 * TPMT_KDF_SCHEME (+NULL). All four KDFs libtpms knows unmarshal (SchemeChecks then refuses any
 * non-NULL KDF in a key with TPM_RC_KDF, as libtpms does); anything else is TPM_RC_KDF here already.
 */
function readKdfScheme(r: TpmReader): SchemeDef {
  const scheme = r.u16();
  switch (scheme) {
    case ALG.NULL:
      return { scheme, hashAlg: ALG.NULL };
    case ALG.MGF1:
    case ALG.KDF1_SP800_56A:
    case ALG_KDF2:
    case ALG.KDF1_SP800_108:
      return { scheme, hashAlg: readHashAlg(r, false) };
    default:
      return fail(RC.KDF, `KDF ${hex4(scheme)} is not implemented`);
  }
}

/** TPMT_PUBLIC. TPM_ALG_NULL as nameAlg is refused (TPM_RC_HASH) unless allowNullNameAlg. */
export function readPublicArea(r: TpmReader, allowNullNameAlg = false): PublicArea {
  const type = r.u16();
  if (type !== ALG.RSA && type !== ALG.ECC) fail(RC.TYPE, `object type ${hex4(type)} is not implemented`);
  const nameAlg = readHashAlg(r, allowNullNameAlg);
  const objectAttributes = readObjectAttributes(r);
  const authPolicy = r.tpm2b(LIMITS.digest);
  const symmetric = readSymDefObject(r);
  if (type === ALG.RSA) {
    const scheme = readRsaScheme(r);
    const keyBits = r.u16();
    if (!RSA_KEY_BITS.includes(keyBits)) fail(RC.VALUE, `RSA key size ${keyBits} is not implemented`);
    const exponent = r.u32();
    const unique = r.tpm2b(LIMITS.rsaKey);
    return { type, nameAlg, objectAttributes, authPolicy, symmetric, scheme, keyBits, exponent, unique };
  }
  const scheme = readEccScheme(r);
  const curveId = r.u16();
  if (curveId !== ECC_CURVE.NIST_P256) fail(RC.CURVE, `ECC curve ${hex4(curveId)} is not implemented`);
  const kdf = readKdfScheme(r);
  const x = r.tpm2b(LIMITS.eccParameter);
  const y = r.tpm2b(LIMITS.eccParameter);
  return { type, nameAlg, objectAttributes, authPolicy, symmetric, scheme, curveId, kdf, unique: { x, y } };
}

/**
 * A sized structure as libtpms reads it: a zero size is TPM_RC_SIZE; the content is read from the rest
 * of the buffer (not limited to the size), and a content length other than the size is TPM_RC_SIZE.
 */
function readSized<T>(r: TpmReader, what: string, read: () => T): T {
  const size = r.u16();
  if (size === 0) fail(RC.SIZE, `${what} is empty`);
  const start = r.position;
  const value = read();
  const used = r.position - start;
  if (used !== size) fail(RC.SIZE, `${what} says ${size} octets but holds ${used}`);
  return value;
}

/** TPM2B_PUBLIC. */
export function readPublic2b(r: TpmReader, allowNullNameAlg = false): PublicArea {
  return readSized(r, 'TPM2B_PUBLIC', () => readPublicArea(r, allowNullNameAlg));
}

/** TPM2B_SENSITIVE_CREATE. */
export function readSensitiveCreate2b(r: TpmReader): SensitiveCreate {
  return readSized(r, 'TPM2B_SENSITIVE_CREATE', () => ({
    userAuth: r.tpm2b(LIMITS.auth),
    data: r.tpm2b(LIMITS.sensitiveData),
  }));
}

// ---- marshalling ---------------------------------------------------------------------------------

function writeScheme(w: TpmWriter, s: SchemeDef): void {
  w.u16(s.scheme);
  if (s.hashAlg !== ALG.NULL) w.u16(s.hashAlg);
}

export function writePublicArea(w: TpmWriter, p: PublicArea): void {
  w.u16(p.type).u16(p.nameAlg).u32(p.objectAttributes).tpm2b(p.authPolicy);
  w.u16(p.symmetric.algorithm);
  if (p.symmetric.algorithm !== ALG.NULL) w.u16(p.symmetric.keyBits).u16(p.symmetric.mode);
  writeScheme(w, p.scheme);
  if (p.type === ALG.RSA) {
    w.u16(p.keyBits).u32(p.exponent).tpm2b(p.unique);
  } else {
    w.u16(p.curveId);
    writeScheme(w, p.kdf);
    w.tpm2b(p.unique.x).tpm2b(p.unique.y);
  }
}

/** The canonical TPMT_PUBLIC octets (what the Name is computed over). */
export function publicAreaBytes(p: PublicArea): Uint8Array {
  const w = new TpmWriter(128);
  writePublicArea(w, p);
  return w.finish();
}

export function writePublic2b(w: TpmWriter, p: PublicArea): void {
  w.tpm2b(publicAreaBytes(p));
}

export function writeSensitiveCreate2b(w: TpmWriter, s: SensitiveCreate): void {
  const fill = w.sizeField(2);
  w.tpm2b(s.userAuth).tpm2b(s.data);
  fill();
}

/** Parses marshalled TPMT_PUBLIC octets that this TPM produced (e.g. a LoadedObject's publicArea). */
export function parsePublicArea(bytes: Uint8Array): PublicArea {
  const r = new TpmReader(bytes);
  const p = readPublicArea(r);
  if (r.remaining !== 0) throw new TpmError(RC.SIZE, 'trailing octets after TPMT_PUBLIC');
  return p;
}

// ---- names ---------------------------------------------------------------------------------------

/** Name of an object: nameAlg || H_nameAlg(TPMT_PUBLIC) (Part 1 §16). */
export function objectName(nameAlg: number, publicBytes: Uint8Array): Uint8Array {
  const alg = hashByAlg(nameAlg);
  if (!alg) throw new TpmError(RC.HASH, `nameAlg ${hex4(nameAlg)} is not implemented`);
  return new TpmWriter(2 + alg.digestSize).u16(nameAlg).bytes(digest(alg, publicBytes)).finish();
}

/** Name of a permanent handle (a hierarchy): the handle as 4 octets. */
export function handleName(handle: number): Uint8Array {
  return new TpmWriter(4).u32(handle).finish();
}

/** Qualified Name: nameAlg || H_nameAlg(parent's QN || Name) (Part 1 §16.6). */
export function qualifiedName(
  nameAlg: number,
  parentQualifiedName: Uint8Array,
  name: Uint8Array,
): Uint8Array {
  const alg = hashByAlg(nameAlg);
  if (!alg) throw new TpmError(RC.HASH, `nameAlg ${hex4(nameAlg)} is not implemented`);
  return new TpmWriter(2 + alg.digestSize)
    .u16(nameAlg)
    .bytes(digest(alg, parentQualifiedName, name))
    .finish();
}

// ---- creation checks -----------------------------------------------------------------------------

function has(attrs: number, bit: number): boolean {
  return (attrs & bit) !== 0;
}

function isSignScheme(p: PublicArea): boolean {
  return p.type === ALG.RSA
    ? p.scheme.scheme === ALG.RSASSA || p.scheme.scheme === ALG.RSAPSS
    : p.scheme.scheme === ALG.ECDSA;
}

function isDecryptScheme(p: PublicArea): boolean {
  return p.type === ALG.RSA
    ? p.scheme.scheme === ALG.RSAES || p.scheme.scheme === ALG.OAEP
    : p.scheme.scheme === ALG.ECDH;
}

/** SchemeChecks for asymmetric objects (libtpms Object_spt.c); `parent` undefined for a primary. */
function schemeChecks(p: PublicArea, parent: PublicArea | undefined): void {
  const a = p.objectAttributes;
  const restricted = has(a, OBJECT_ATTR.restricted);
  const sign = has(a, OBJECT_ATTR.sign);
  const decrypt = has(a, OBJECT_ATTR.decrypt);
  const scheme = p.scheme.scheme;
  if (sign === decrypt) {
    // Both set (or both clear): there is no way to name a sign and a decrypt scheme at once.
    if (scheme !== ALG.NULL) fail(RC.SCHEME, 'a key that both signs and decrypts needs the NULL scheme');
  } else if (sign) {
    if (!isSignScheme(p) && (restricted || scheme !== ALG.NULL)) {
      fail(RC.SCHEME, 'a signing key needs a signing scheme (a restricted one cannot use NULL)');
    }
  } else if (restricted) {
    if (scheme !== ALG.NULL) fail(RC.SCHEME, 'a restricted decryption key (a parent) needs the NULL scheme');
  } else if (scheme !== ALG.NULL && !isDecryptScheme(p)) {
    fail(RC.SCHEME, 'a decryption key needs a decryption scheme or NULL');
  }
  if (!restricted || !decrypt) {
    if (p.symmetric.algorithm !== ALG.NULL)
      fail(RC.SYMMETRIC, 'only a storage key has a symmetric algorithm');
  }
  // NIST P-256 requires no particular scheme; no KDF is supported in a key.
  if (p.type === ALG.ECC && p.kdf.scheme !== ALG.NULL) fail(RC.KDF, 'the KDF of an ECC key must be NULL');
  if (restricted && decrypt) {
    if (p.symmetric.algorithm === ALG.NULL) fail(RC.SYMMETRIC, 'a storage key needs a symmetric algorithm');
    if (has(a, OBJECT_ATTR.fixedParent) && parent) {
      if (p.nameAlg !== parent.nameAlg) fail(RC.HASH, 'a non-duplicable parent needs its parent’s nameAlg');
      const ps = parent.symmetric;
      if (
        ps.algorithm !== p.symmetric.algorithm ||
        ps.keyBits !== p.symmetric.keyBits ||
        ps.mode !== p.symmetric.mode
      ) {
        fail(RC.SYMMETRIC, 'a non-duplicable parent needs its parent’s symmetric algorithm');
      }
    }
  }
}

/** PublicAttributesValidation (libtpms Object_spt.c) for RSA and ECC objects. */
function publicAttributesValidation(p: PublicArea, parent: PublicArea | undefined): void {
  const a = p.objectAttributes;
  const parentAttrs = parent?.objectAttributes ?? 0;
  const nameAlg = hashByAlg(p.nameAlg);
  if (!nameAlg) fail(RC.HASH, 'an object needs a nameAlg');
  if (p.authPolicy.length !== 0 && p.authPolicy.length !== nameAlg.digestSize) {
    fail(RC.SIZE, `authPolicy of ${p.authPolicy.length} octets for a ${nameAlg.digestSize}-octet nameAlg`);
  }
  if (!parent || has(parentAttrs, OBJECT_ATTR.fixedTPM)) {
    if (has(a, OBJECT_ATTR.fixedParent) !== has(a, OBJECT_ATTR.fixedTPM)) {
      fail(RC.ATTRIBUTES, 'fixedTPM and fixedParent must be equal under a fixedTPM parent');
    }
  } else if (has(a, OBJECT_ATTR.fixedTPM)) {
    fail(RC.ATTRIBUTES, 'fixedTPM under a parent that is not fixedTPM');
  }
  if (has(a, OBJECT_ATTR.sign) === has(a, OBJECT_ATTR.decrypt)) {
    if (has(a, OBJECT_ATTR.restricted)) fail(RC.ATTRIBUTES, 'a restricted key must either sign or decrypt');
    // Only a data object (keyed hash) may have neither; this TPM has no keyed-hash objects.
    if (!has(a, OBJECT_ATTR.sign)) fail(RC.ATTRIBUTES, 'an asymmetric key must sign or decrypt');
  }
  if (has(a, OBJECT_ATTR.fixedTPM) && has(a, OBJECT_ATTR.encryptedDuplication)) {
    fail(RC.ATTRIBUTES, 'encryptedDuplication on an object that cannot be duplicated');
  }
  if (parent && !has(parentAttrs, OBJECT_ATTR.fixedTPM)) {
    if (has(a, OBJECT_ATTR.encryptedDuplication) !== has(parentAttrs, OBJECT_ATTR.encryptedDuplication)) {
      fail(RC.ATTRIBUTES, 'encryptedDuplication must match the parent’s');
    }
  }
  schemeChecks(p, parent);
}

/**
 * CreateChecks: the attribute, scheme and symmetric checks for a new object (TPM2_CreatePrimary: no
 * parent). Throws the bare format-one code; the command adds the parameter number of inPublic.
 */
export function createChecks(p: PublicArea, sensitiveDataSize: number, parent?: PublicArea): void {
  const a = p.objectAttributes;
  const origin = has(a, OBJECT_ATTR.sensitiveDataOrigin);
  if (!origin && sensitiveDataSize === 0)
    fail(RC.ATTRIBUTES, 'sensitiveDataOrigin is CLEAR but no data given');
  if (parent && origin && sensitiveDataSize !== 0) {
    fail(RC.ATTRIBUTES, 'sensitive data given while the TPM is to generate it');
  }
  // Asymmetric keys cannot have their sensitive part provided.
  if (!origin) fail(RC.ATTRIBUTES, 'an asymmetric key needs sensitiveDataOrigin');
  publicAttributesValidation(p, parent);
}
