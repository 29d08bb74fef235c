// TPM2_CreatePrimary (Part 3 §24.1), TPM2_ReadPublic (§12.4) and TPM2_FlushContext (§28.4), as libtpms
// 0.9.2 answers them (checked against swtpm 0.7.1).
//
// A primary key is a function of its hierarchy's primary seed and the template (Part 1 §26.3): the
// key material comes from an HMAC-DRBG instantiated with entropy = the primary seed, nonce = the Name of
// the template as sent (unique field included) and personalization = "Primary Object Creation\0" ||
// inSensitive.data — the structure of libtpms' DRBG_InstantiateSeeded(seed, PRIMARY_OBJECT_CREATION,
// name, data). So the same template in the same hierarchy gives the same key every time, as on a real
// TPM, and creating a key never draws from the TPM's own random stream (ctx.random).
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { HmacDrbg } from '../../kernel/drbg';
import { trimAuth } from '../auth';
import { defineCommand, param, type CommandSpec } from '../command';
import { ALG, CC, HMAC_SESSION_FIRST, HT, POLICY_SESSION_FIRST, ST, TRANSIENT_FIRST } from '../constants';
import type { TpmContext } from '../context';
import { RSA_CANDIDATE_COST_NS } from '../cost';
import { eccCurve, generateEccKey } from '../crypto/ecc';
import { bigIntToBytes, generateRsaKey, isSmallPrime, RSA_DEFAULT_EXPONENT } from '../crypto/rsa';
import { digest, hashByAlg } from '../hash';
import { TpmWriter, type TpmReader } from '../marshal';
import {
  createChecks,
  handleName,
  LIMITS,
  objectName,
  publicAreaBytes,
  qualifiedName,
  readPublic2b,
  readSensitiveCreate2b,
  type PublicArea,
  type SensitiveCreate,
} from '../public-area';
import { readPcrSelection, selectedPcrs, writePcrSelection, type PcrSelection } from '../pcr-select';
import { RC, rcParam, TpmError } from '../rc';
import { MAX_ACTIVE_SESSIONS, MAX_LOADED_OBJECTS, type LoadedObject } from '../state';

/** DRBG personalization label for primary keys (libtpms PRIMARY_OBJECT_CREATION, with its NUL). */
export const PRIMARY_OBJECT_CREATION = 'Primary Object Creation\0';
const PRIMARY_LABEL = new TextEncoder().encode(PRIMARY_OBJECT_CREATION);

/**
 * PCRComputeCurrentDigest: H_hashAlg of the selected PCR values, bank by bank in the order of the
 * selection, PCRs in ascending order within a bank.
 */
export function pcrDigest(ctx: TpmContext, hashAlg: number, selection: readonly PcrSelection[]): Uint8Array {
  const values: Uint8Array[] = [];
  for (const s of selection) {
    const bank = ctx.vol.pcrs[hashByAlg(s.hashAlg)!.name];
    for (const pcr of selectedPcrs(s)) values.push(bank[pcr]!);
  }
  return digest(hashByAlg(hashAlg)!, ...values);
}

/** TPMA_LOCALITY for localities 0–4 (one bit each). */
function localityAttribute(locality: number): number {
  return locality < 5 ? 1 << locality : locality;
}

/**
 * The creation ticket: HMAC over TPM_ST_CREATION || name || creationHash, keyed with the hierarchy's
 * proof. libtpms' TicketComputeCreation uses its context-integrity hash, SHA-512, whatever the object's
 * nameAlg (swtpm 0.7.1 answers a 64-octet digest for SHA-1, SHA-256 and SHA-384 objects alike), and
 * computes it for TPM_RH_NULL too (with the null proof) rather than answering a NULL ticket.
 */
export function creationTicketDigest(
  proof: Uint8Array,
  name: Uint8Array,
  creationHash: Uint8Array,
): Uint8Array {
  return hmac
    .create(sha512, proof)
    .update(Uint8Array.of(ST.CREATION >> 8, ST.CREATION & 0xff))
    .update(name)
    .update(creationHash)
    .digest();
}

interface CreatePrimaryParams {
  inSensitive: SensitiveCreate;
  inPublic: PublicArea;
  outsideInfo: Uint8Array;
  creationPCR: PcrSelection[];
}

interface GeneratedKey {
  outPublic: PublicArea;
  sensitive: Uint8Array;
  candidates: number;
}

function generateKey(template: PublicArea, drbg: HmacDrbg): GeneratedKey {
  if (template.type === ALG.RSA) {
    // CryptRsaGenerateKey: 0 selects the default; any other exponent must be a prime ≥ 65537. libtpms
    // returns a bare TPM_RC_RANGE here (observed 0x08d from swtpm 0.7.1, no parameter number).
    const e = template.exponent === 0 ? RSA_DEFAULT_EXPONENT : template.exponent;
    if (e < RSA_DEFAULT_EXPONENT || !isSmallPrime(e)) {
      throw new TpmError(RC.RANGE, `RSA public exponent ${template.exponent} is not a prime ≥ 65537`);
    }
    const key = generateRsaKey(drbg, template.keyBits, e);
    return {
      outPublic: { ...template, unique: bigIntToBytes(key.n, template.keyBits / 8) },
      sensitive: bigIntToBytes(key.p, template.keyBits / 16),
      candidates: key.candidates,
    };
  }
  const curve = eccCurve(template.curveId)!;
  const key = generateEccKey(drbg, curve);
  return {
    outPublic: { ...template, unique: { x: key.x, y: key.y } },
    sensitive: bigIntToBytes(key.d, curve.byteLength),
    candidates: 0,
  };
}

export const CreatePrimary = defineCommand<CreatePrimaryParams>({
  code: CC.CreatePrimary,
  name: 'CreatePrimary',
  handles: [{ kind: 'hierarchy', auth: true, allowNull: true }],
  responseHandle: true,
  duration: 'longLong',
  parse: (r) => ({
    inSensitive: param(1, () => readSensitiveCreate2b(r)),
    inPublic: param(2, () => readPublic2b(r)),
    outsideInfo: param(3, () => r.tpm2b(LIMITS.data)),
    creationPCR: param(4, () => readPcrSelection(r)),
  }),
  run(ctx, call, { inSensitive, inPublic, outsideInfo, creationPCR }) {
    const hierarchy = call.handles[0]!;
    // As TPM2_CreatePrimary: a free slot first, then the template, then the authValue size.
    const handle = ctx.allocateTransientHandle();
    param(2, () => createChecks(inPublic, inSensitive.data.length));
    const nameAlg = hashByAlg(inPublic.nameAlg)!;
    const userAuth = trimAuth(inSensitive.userAuth); // AdjustAuthSize: trailing zeros do not count
    if (userAuth.length > nameAlg.digestSize) {
      throw new TpmError(rcParam(RC.SIZE, 1), `userAuth longer than the ${nameAlg.name} digest`);
    }

    // Derivation: Part 1 §26.3, libtpms DRBG_InstantiateSeeded(primarySeed, label, Name(template), data).
    const templateName = objectName(inPublic.nameAlg, publicAreaBytes(inPublic));
    const personalization = new TpmWriter(64).bytes(PRIMARY_LABEL).bytes(inSensitive.data).finish();
    const drbg = HmacDrbg.instantiate(ctx.primarySeed(hierarchy), templateName, personalization);
    const key = generateKey(inPublic, drbg);
    call.extraCostNs += key.candidates * RSA_CANDIDATE_COST_NS;

    const outPublicBytes = publicAreaBytes(key.outPublic);
    const name = objectName(inPublic.nameAlg, outPublicBytes);
    const parentName = handleName(hierarchy);

    // TPMS_CREATION_DATA (FillInCreationData): a primary's parent is its hierarchy handle.
    const cd = new TpmWriter(128);
    writePcrSelection(cd, creationPCR);
    cd.tpm2b(pcrDigest(ctx, inPublic.nameAlg, creationPCR));
    cd.u8(localityAttribute(call.locality));
    cd.u16(ALG.NULL);
    cd.tpm2b(parentName);
    cd.tpm2b(parentName);
    cd.tpm2b(outsideInfo);
    const creationData = cd.finish();
    const creationHash = digest(nameAlg, creationData);
    const ticket = creationTicketDigest(ctx.hierarchyProof(hierarchy), name, creationHash);

    const object: LoadedObject = {
      handle,
      hierarchy,
      publicArea: outPublicBytes,
      name,
      qualifiedName: qualifiedName(inPublic.nameAlg, parentName, name),
      authValue: userAuth.slice(),
      sensitive: key.sensitive,
    };
    ctx.vol.objects.push(object);

    call.responseHandle = handle;
    call.out.tpm2b(outPublicBytes);
    call.out.tpm2b(creationData);
    call.out.tpm2b(creationHash);
    call.out.u16(ST.CREATION).u32(hierarchy).tpm2b(ticket);
    call.out.tpm2b(name);
  },
});

export const ReadPublic = defineCommand({
  code: CC.ReadPublic,
  name: 'ReadPublic',
  handles: [{ kind: 'object', auth: false }],
  duration: 'short',
  parse: () => undefined,
  run(ctx, call) {
    const object = ctx.findObject(call.handles[0]!);
    // A hash sequence has no public area: libtpms answers a bare TPM_RC_SEQUENCE (observed 0x103).
    if (!object) throw new TpmError(RC.SEQUENCE, 'ReadPublic of a sequence object');
    call.out.tpm2b(object.publicArea).tpm2b(object.name).tpm2b(object.qualifiedName);
  },
});

/**
 * TPMI_DH_CONTEXT: a transient handle within the object slots or a session handle within
 * MAX_ACTIVE_SESSIONS; anything else is TPM_RC_VALUE.
 */
function readContextHandle(r: TpmReader): number {
  const h = r.u32();
  const inRange = (first: number, count: number) => h >= first && h < first + count;
  if (
    !inRange(TRANSIENT_FIRST, MAX_LOADED_OBJECTS) &&
    !inRange(HMAC_SESSION_FIRST, MAX_ACTIVE_SESSIONS) &&
    !inRange(POLICY_SESSION_FIRST, MAX_ACTIVE_SESSIONS)
  ) {
    throw new TpmError(RC.VALUE, `0x${h.toString(16).padStart(8, '0')} is not a context handle`);
  }
  return h;
}

export const FlushContext = defineCommand({
  code: CC.FlushContext,
  name: 'FlushContext',
  handles: [],
  noSessions: true,
  duration: 'short',
  parse: (r) => param(1, () => readContextHandle(r)),
  run(ctx, _call, flushHandle) {
    const hex = `0x${flushHandle.toString(16).padStart(8, '0')}`;
    if (flushHandle >>> 24 === HT.TRANSIENT) {
      if (!ctx.flushTransient(flushHandle)) throw new TpmError(rcParam(RC.HANDLE, 1), `${hex} is not loaded`);
      return;
    }
    // An HMAC or policy session: loaded (this engine does not save sessions) or TPM_RC_HANDLE + P1.
    if (!ctx.findSession(flushHandle))
      throw new TpmError(rcParam(RC.HANDLE, 1), `session ${hex} is not loaded`);
    ctx.vol.sessions = ctx.vol.sessions.filter((s) => s.handle !== flushHandle);
  },
});

export const OBJECT_COMMANDS: readonly CommandSpec[] = [CreatePrimary, ReadPublic, FlushContext];
