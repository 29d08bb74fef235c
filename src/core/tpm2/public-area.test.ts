import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALG, ECC_CURVE } from './constants';
import { fromHex, hex, TpmReader, TpmWriter } from './marshal';
import {
  createChecks,
  handleName,
  objectName,
  parsePublicArea,
  publicAreaBytes,
  qualifiedName,
  readPublic2b,
  readPublicArea,
  readSensitiveCreate2b,
  writePublic2b,
  writeSensitiveCreate2b,
  type PublicArea,
} from './public-area';
import { RC, TpmError } from './rc';

/** tpm2_createprimary -G rsa2048 and -G ecc256 templates (captured from tpm2-tools 5.4). */
const RSA_STORAGE = '0001000b00030072000000060080004300100800000000000000';
const ECC_STORAGE = '0023000b00030072000000060080004300100003001000000000';
/** tpm2_createprimary -G ecc256:ecdsa-sha256 -a '...|sign' (unrestricted signing key). */
const ECC_SIGN = '0023000b00040072000000100018000b0003001000000000';

function rcOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof TpmError) return e.rc;
    throw e;
  }
  return RC.SUCCESS;
}

const parse = (h: string) => readPublicArea(new TpmReader(fromHex(h)));

describe('TPMT_PUBLIC', () => {
  it('parses the tpm2-tools templates field by field', () => {
    const rsa = parse(RSA_STORAGE);
    expect(rsa).toEqual({
      type: ALG.RSA,
      nameAlg: ALG.SHA256,
      objectAttributes: 0x00030072,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: ALG.AES, keyBits: 128, mode: ALG.CFB },
      scheme: { scheme: ALG.NULL, hashAlg: ALG.NULL },
      keyBits: 2048,
      exponent: 0,
      unique: new Uint8Array(0),
    });
    const ecc = parse(ECC_SIGN);
    expect(ecc.type).toBe(ALG.ECC);
    if (ecc.type !== ALG.ECC) return;
    expect(ecc.curveId).toBe(ECC_CURVE.NIST_P256);
    expect(ecc.symmetric.algorithm).toBe(ALG.NULL);
    expect(ecc.scheme).toEqual({ scheme: ALG.ECDSA, hashAlg: ALG.SHA256 });
    expect(ecc.kdf).toEqual({ scheme: ALG.NULL, hashAlg: ALG.NULL });
  });

  it('marshals back to the same octets', () => {
    for (const t of [RSA_STORAGE, ECC_STORAGE, ECC_SIGN]) expect(hex(publicAreaBytes(parse(t)))).toBe(t);
    const withUnique = parse(ECC_STORAGE);
    if (withUnique.type !== ALG.ECC) throw new Error('expected ECC');
    withUnique.unique = { x: new Uint8Array(32).fill(1), y: new Uint8Array(32).fill(2) };
    expect(parsePublicArea(publicAreaBytes(withUnique))).toEqual(withUnique);
  });

  // Codes observed from swtpm 0.7.1 for CreatePrimary templates with these values (the command adds
  // RC_P + 2 for inPublic, e.g. 0x2ca for TPM_RC_TYPE).
  it('refuses what the TPM does not implement with libtpms codes', () => {
    const with_ = (offset: number, replacement: string, t = RSA_STORAGE) =>
      t.slice(0, offset * 2) + replacement + t.slice(offset * 2 + replacement.length);
    expect(rcOf(() => parse(with_(0, '0008')))).toBe(RC.TYPE); // keyed hash: not implemented here
    expect(rcOf(() => parse(with_(0, '0025')))).toBe(RC.TYPE); // symmetric cipher: not implemented here
    expect(rcOf(() => parse(with_(0, '0003')))).toBe(RC.TYPE);
    expect(rcOf(() => parse(with_(2, '0010')))).toBe(RC.HASH); // nameAlg NULL
    expect(rcOf(() => parse(with_(2, '000d')))).toBe(RC.HASH); // SHA-512 is not implemented here
    expect(rcOf(() => parse(with_(4, '00030073')))).toBe(RC.RESERVED_BITS);
    expect(rcOf(() => parse(with_(4, '00130072')))).toBe(RC.RESERVED_BITS); // bit 20
    expect(rcOf(() => parse(with_(4, '000b0072')))).toBe(RC.SUCCESS); // bit 19 (x509sign) is not reserved
    expect(rcOf(() => parse(with_(10, '0026')))).toBe(RC.SYMMETRIC); // Camellia
    expect(rcOf(() => parse(with_(10, '000a')))).toBe(RC.SYMMETRIC); // XOR is no object symmetric
    expect(rcOf(() => parse(with_(12, '00c0')))).toBe(RC.VALUE); // AES-192
    expect(rcOf(() => parse(with_(14, '0042')))).toBe(RC.MODE); // CBC
    expect(rcOf(() => parse(with_(14, '0099')))).toBe(RC.MODE);
    expect(rcOf(() => parse(with_(16, '0018')))).toBe(RC.VALUE); // ECDSA is no RSA scheme
    expect(rcOf(() => parse(with_(18, '1000')))).toBe(RC.VALUE); // RSA-4096
    expect(rcOf(() => parse(with_(14, '0010', ECC_STORAGE)))).toBe(RC.SUCCESS); // mode NULL
    expect(rcOf(() => parse(with_(16, '0014000b', ECC_STORAGE)))).toBe(RC.SCHEME); // RSASSA is no ECC scheme
    expect(rcOf(() => parse(with_(16, '001c000b', ECC_STORAGE)))).toBe(RC.SCHEME); // ECSCHNORR
    expect(rcOf(() => parse(with_(18, '0004', ECC_STORAGE)))).toBe(RC.CURVE); // P-384
    expect(rcOf(() => parse(with_(20, '0099', ECC_STORAGE)))).toBe(RC.KDF);
    expect(rcOf(() => parse(with_(20, '00070010', ECC_STORAGE)))).toBe(RC.HASH); // MGF1 with NULL hash
  });

  it('enforces the buffer capacities of libtpms', () => {
    const rsa = (n: number) => RSA_STORAGE.slice(0, -4) + n.toString(16).padStart(4, '0') + '00'.repeat(n);
    expect(rcOf(() => parse(rsa(384)))).toBe(RC.SUCCESS);
    expect(rcOf(() => parse(rsa(385)))).toBe(RC.SIZE);
    const ecc = (n: number) =>
      ECC_STORAGE.slice(0, -8) + n.toString(16).padStart(4, '0') + '00'.repeat(n) + '0000';
    expect(rcOf(() => parse(ecc(80)))).toBe(RC.SUCCESS);
    expect(rcOf(() => parse(ecc(81)))).toBe(RC.SIZE);
    const policy = (n: number) =>
      RSA_STORAGE.slice(0, 16) + n.toString(16).padStart(4, '0') + '00'.repeat(n) + RSA_STORAGE.slice(20);
    expect(rcOf(() => parse(policy(64)))).toBe(RC.SUCCESS);
    expect(rcOf(() => parse(policy(65)))).toBe(RC.SIZE);
  });
});

describe('TPM2B_PUBLIC and TPM2B_SENSITIVE_CREATE', () => {
  it('round-trip', () => {
    const w = new TpmWriter();
    writePublic2b(w, parse(RSA_STORAGE));
    writeSensitiveCreate2b(w, { userAuth: fromHex('616263'), data: fromHex('01') });
    const r = new TpmReader(w.finish());
    expect(hex(publicAreaBytes(readPublic2b(r)))).toBe(RSA_STORAGE);
    expect(readSensitiveCreate2b(r)).toEqual({ userAuth: fromHex('616263'), data: fromHex('01') });
    expect(r.remaining).toBe(0);
  });

  it('a size of 0 or one that does not match the content is TPM_RC_SIZE; running short is INSUFFICIENT', () => {
    const body = RSA_STORAGE;
    const len = body.length / 2;
    const sized = (n: number, extra = '') =>
      new TpmReader(fromHex(n.toString(16).padStart(4, '0') + body + extra));
    expect(rcOf(() => readPublic2b(new TpmReader(fromHex('0000'))))).toBe(RC.SIZE);
    expect(rcOf(() => readPublic2b(sized(len + 1, '00')))).toBe(RC.SIZE);
    expect(rcOf(() => readPublic2b(sized(len - 1)))).toBe(RC.SIZE);
    expect(rcOf(() => readPublic2b(new TpmReader(fromHex('001a' + body.slice(0, 20)))))).toBe(
      RC.INSUFFICIENT,
    );
    expect(rcOf(() => readSensitiveCreate2b(new TpmReader(fromHex('0000'))))).toBe(RC.SIZE);
    expect(rcOf(() => readSensitiveCreate2b(new TpmReader(fromHex('000500010500000000'))))).toBe(RC.SUCCESS);
    expect(rcOf(() => readSensitiveCreate2b(new TpmReader(fromHex('00060001050000'))))).toBe(RC.SIZE);
    expect(rcOf(() => readSensitiveCreate2b(new TpmReader(fromHex('0004' + '0041' + '00'.repeat(70)))))).toBe(
      RC.SIZE, // userAuth larger than TPM2B_AUTH
    );
    expect(
      rcOf(() => readSensitiveCreate2b(new TpmReader(fromHex('0084' + '0000' + '0081' + '00'.repeat(129))))),
    ).toBe(
      RC.SIZE, // data larger than MAX_SYM_DATA (128)
    );
  });
});

describe('names', () => {
  it('Name = nameAlg || H(TPMT_PUBLIC); QN = nameAlg || H(parent QN || Name)', () => {
    const pub = fromHex(RSA_STORAGE);
    const name = objectName(ALG.SHA256, pub);
    expect(hex(name)).toBe('000b' + createHash('sha256').update(pub).digest('hex'));
    expect(hex(objectName(ALG.SHA1, pub))).toBe('0004' + createHash('sha1').update(pub).digest('hex'));
    expect(hex(handleName(0x40000001))).toBe('40000001');
    expect(hex(qualifiedName(ALG.SHA384, handleName(0x4000000b), name))).toBe(
      '000c' + createHash('sha384').update(fromHex('4000000b')).update(name).digest('hex'),
    );
  });
});

describe('createChecks (CreateChecks / PublicAttributesValidation / SchemeChecks)', () => {
  const A = {
    fixedTPM: 0x2,
    fixedParent: 0x10,
    sdo: 0x20,
    userWithAuth: 0x40,
    encDup: 0x800,
    restricted: 0x10000,
    decrypt: 0x20000,
    sign: 0x40000,
  };
  const base = A.fixedTPM | A.fixedParent | A.sdo | A.userWithAuth;
  const rsa = (attrs: number, more: Partial<PublicArea> = {}): PublicArea =>
    ({
      ...parse(RSA_STORAGE),
      objectAttributes: attrs,
      ...more,
    }) as PublicArea;
  const noSym = { symmetric: { algorithm: ALG.NULL, keyBits: 0, mode: 0 } };
  const check = (p: PublicArea, dataSize = 0, parent?: PublicArea) =>
    rcOf(() => createChecks(p, dataSize, parent));

  // Each expectation is the code swtpm 0.7.1 returned (less the parameter number) for such a template.
  it('accepts the usual storage and signing keys', () => {
    expect(check(rsa(base | A.restricted | A.decrypt))).toBe(RC.SUCCESS);
    expect(check(rsa(base | A.restricted | A.decrypt), 3)).toBe(RC.SUCCESS); // data with a primary: additional DRBG input
    expect(check(rsa(base | A.sign, { ...noSym, scheme: { scheme: ALG.RSASSA, hashAlg: ALG.SHA256 } }))).toBe(
      0,
    );
    expect(
      check(
        rsa(base | A.sign | A.restricted, { ...noSym, scheme: { scheme: ALG.RSAPSS, hashAlg: ALG.SHA1 } }),
      ),
    ).toBe(0);
    expect(check(rsa(base | A.sign, noSym))).toBe(0); // unrestricted signing key with the NULL scheme
    expect(
      check(rsa(base | A.decrypt, { ...noSym, scheme: { scheme: ALG.OAEP, hashAlg: ALG.SHA256 } })),
    ).toBe(0);
    expect(check(rsa(base | A.decrypt | A.sign, noSym))).toBe(0);
    expect(check(rsa((base & ~(A.fixedTPM | A.fixedParent)) | A.encDup | A.restricted | A.decrypt))).toBe(0);
    const ecdh = parse(ECC_SIGN);
    expect(
      check({
        ...ecdh,
        objectAttributes: base | A.decrypt,
        scheme: { scheme: ALG.ECDH, hashAlg: ALG.SHA256 },
      }),
    ).toBe(0);
  });

  it('refuses inconsistent attributes with TPM_RC_ATTRIBUTES', () => {
    expect(check(rsa((base & ~A.sdo) | A.restricted | A.decrypt))).toBe(RC.ATTRIBUTES);
    expect(check(rsa((base & ~A.sdo) | A.restricted | A.decrypt), 4)).toBe(RC.ATTRIBUTES);
    expect(check(rsa((base & ~A.fixedParent) | A.restricted | A.decrypt))).toBe(RC.ATTRIBUTES);
    expect(check(rsa((base & ~A.fixedTPM) | A.restricted | A.decrypt))).toBe(RC.ATTRIBUTES);
    expect(check(rsa(base | A.restricted | A.decrypt | A.sign))).toBe(RC.ATTRIBUTES);
    expect(check(rsa(base | A.restricted))).toBe(RC.ATTRIBUTES);
    expect(check(rsa(base, noSym))).toBe(RC.ATTRIBUTES);
    expect(check(rsa(base | A.encDup | A.restricted | A.decrypt))).toBe(RC.ATTRIBUTES);
  });

  it('refuses wrong schemes, symmetric definitions and KDFs', () => {
    expect(
      check(rsa(base | A.restricted | A.decrypt, { scheme: { scheme: ALG.OAEP, hashAlg: ALG.SHA256 } })),
    ).toBe(RC.SCHEME);
    expect(check(rsa(base | A.restricted | A.decrypt, noSym))).toBe(RC.SYMMETRIC);
    expect(check(rsa(base | A.sign | A.restricted, noSym))).toBe(RC.SCHEME);
    expect(check(rsa(base | A.sign, { ...noSym, scheme: { scheme: ALG.OAEP, hashAlg: ALG.SHA256 } }))).toBe(
      RC.SCHEME,
    );
    expect(check(rsa(base | A.sign, { ...noSym, scheme: { scheme: ALG.RSAES, hashAlg: ALG.NULL } }))).toBe(
      RC.SCHEME,
    );
    expect(
      check(rsa(base | A.decrypt, { ...noSym, scheme: { scheme: ALG.RSASSA, hashAlg: ALG.SHA256 } })),
    ).toBe(RC.SCHEME);
    expect(
      check(
        rsa(base | A.sign | A.decrypt, { ...noSym, scheme: { scheme: ALG.RSASSA, hashAlg: ALG.SHA256 } }),
      ),
    ).toBe(RC.SCHEME);
    expect(check(rsa(base | A.sign, { scheme: { scheme: ALG.RSASSA, hashAlg: ALG.SHA256 } }))).toBe(
      RC.SYMMETRIC,
    );
    expect(check(rsa(base | A.sign | A.decrypt))).toBe(RC.SYMMETRIC);
    const ecc = parse(ECC_STORAGE);
    expect(check({ ...ecc, kdf: { scheme: ALG.MGF1, hashAlg: ALG.SHA256 } } as PublicArea)).toBe(RC.KDF);
    const sign = parse(ECC_SIGN);
    expect(check({ ...sign, objectAttributes: base | A.decrypt })).toBe(RC.SCHEME); // ECDSA on a decryption key
    expect(
      check({
        ...sign,
        objectAttributes: base | A.sign | A.restricted,
        symmetric: parse(ECC_STORAGE).symmetric,
      }),
    ).toBe(
      RC.SYMMETRIC, // tpm2_createprimary -G ecc256:ecdsa-sha256 -a '...|restricted|sign' on swtpm: 0x2d6
    );
  });

  it('checks the authPolicy size against nameAlg', () => {
    expect(check(rsa(base | A.restricted | A.decrypt, { authPolicy: new Uint8Array(32) }))).toBe(RC.SUCCESS);
    expect(check(rsa(base | A.restricted | A.decrypt, { authPolicy: new Uint8Array(20) }))).toBe(RC.SIZE);
  });

  it('applies the parent rules for ordinary objects', () => {
    const parent = rsa(base | A.restricted | A.decrypt);
    const child = rsa(base | A.restricted | A.decrypt);
    expect(check(child, 0, parent)).toBe(RC.SUCCESS);
    expect(check(child, 1, parent)).toBe(RC.ATTRIBUTES); // data while the TPM generates the key
    expect(check({ ...child, nameAlg: ALG.SHA1 }, 0, parent)).toBe(RC.HASH);
    expect(
      check({ ...child, symmetric: { algorithm: ALG.AES, keyBits: 256, mode: ALG.CFB } }, 0, parent),
    ).toBe(RC.SYMMETRIC);
    const duplicable = rsa((base & ~(A.fixedTPM | A.fixedParent)) | A.restricted | A.decrypt);
    expect(check(child, 0, duplicable)).toBe(RC.ATTRIBUTES); // fixedTPM under a duplicable parent
    expect(
      check({ ...duplicable, objectAttributes: duplicable.objectAttributes | A.encDup }, 0, duplicable),
    ).toBe(
      RC.ATTRIBUTES, // encryptedDuplication must follow a duplicable parent
    );
  });
});
