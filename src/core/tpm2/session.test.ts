// HMAC sessions end to end: a client written here with node:crypto (KDFa, cpHash/rpHash, HMACs, AES-CFB)
// drives the engine, so every HMAC the engine checks or returns is computed independently of session.ts.
// Codes marked "observed" were read from swtpm 0.7.1 / libtpms 0.9.2 for the same bytes.
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyBlob, getBlob, parseBlob } from './blob';
import { buildCommand, parseResponse, pwSession, type SessionSpec } from './build';
import { CC, RH, SU } from './constants';
import { Tpm2Engine } from './engine';
import { TpmWriter } from './marshal';
import { RC } from './rc';

const ALG_SHA256 = 0x000b;
const ALG_NULL = 0x0010;
const AES128_CFB = (w: TpmWriter) => w.u16(0x0006).u16(128).u16(0x0043);
const NO_SYM = (w: TpmWriter) => w.u16(ALG_NULL);
const CONTINUE = 0x01;
const DECRYPT = 0x20;
const ENCRYPT = 0x40;

const INDEX = 0x01500016;
const COUNTER = 0x01500017;
const INDEX_AUTH = Buffer.from('idxpass');
/** authwrite | authread (DA-protected), and ownerwrite|ownerread counter. */
const INDEX_ATTRS = 0x00040004;
const COUNTER_ATTRS = 0x00020012;

const b = (...parts: Uint8Array[]) => Buffer.concat(parts);
const u32 = (v: number) => Buffer.from([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
const u16 = (v: number) => Buffer.from([(v >>> 8) & 0xff, v & 0xff]);
const sha256 = (...parts: Uint8Array[]) =>
  createHash('sha256')
    .update(b(...parts))
    .digest();
const hmac256 = (key: Uint8Array, ...parts: Uint8Array[]) =>
  createHmac('sha256', key)
    .update(b(...parts))
    .digest();

/** KDFa with SHA-256 (SP 800-108 counter mode), written out here. */
function kdfa(key: Uint8Array, label: string, u: Uint8Array, v: Uint8Array, bits: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 1, n = 0; n < bits / 8; i++, n += 32) {
    out.push(hmac256(key, u32(i), Buffer.from(label + '\0'), u, v, u32(bits)));
  }
  return b(...out).subarray(0, bits / 8);
}

function cfb(
  key: Uint8Array,
  nonceNewer: Uint8Array,
  nonceOlder: Uint8Array,
  data: Uint8Array,
  enc: boolean,
) {
  const m = kdfa(key, 'CFB', nonceNewer, nonceOlder, 128 + 128);
  const c = (enc ? createCipheriv : createDecipheriv)('aes-128-cfb', m.subarray(0, 16), m.subarray(16, 32));
  return b(c.update(data), c.final());
}

/** Name of an NV index: sha256 || H(TPMS_NV_PUBLIC). */
function nvName(index: number, attrs: number, size: number): Buffer {
  return b(u16(ALG_SHA256), sha256(u32(index), u16(ALG_SHA256), u32(attrs), u16(0), u16(size)));
}

function started(seed = 'sessions'): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed });
  expect(tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) })).rc).toBe(0);
  return tpm;
}

function run(tpm: Tpm2Engine, bytes: Uint8Array) {
  const response = tpm.execute(bytes).response;
  return { response, ...parseResponse(response) };
}

function defineNv(tpm: Tpm2Engine, index: number, attrs: number, size: number, auth = Buffer.alloc(0)) {
  const r = run(
    tpm,
    buildCommand({
      code: CC.NV_DefineSpace,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => w.tpm2b(auth).u16(14).u32(index).u16(ALG_SHA256).u32(attrs).u16(0).u16(size),
    }),
  );
  expect(r.rc).toBe(0);
}

interface ClientSession {
  handle: number;
  nonceTPM: Buffer;
  sessionKey: Buffer;
}

function startSession(
  tpm: Tpm2Engine,
  opts: { bind?: number; bindAuth?: Buffer; sym?: (w: TpmWriter) => void; nonce?: Buffer } = {},
): ClientSession {
  const nonceCaller = opts.nonce ?? Buffer.alloc(16, 0x11);
  const r = run(
    tpm,
    buildCommand({
      code: CC.StartAuthSession,
      handles: [RH.NULL, opts.bind ?? RH.NULL],
      params: (w) => {
        w.tpm2b(nonceCaller).u16(0).u8(0);
        (opts.sym ?? NO_SYM)(w);
        w.u16(ALG_SHA256);
      },
    }),
  );
  expect(r.rc).toBe(0);
  const handle = r.body.u32();
  const nonceTPM = Buffer.from(r.body.tpm2b(64));
  expect(nonceTPM.length).toBe(nonceCaller.length); // libtpms: nonceTPM as long as nonceCaller
  const sessionKey =
    opts.bind === undefined
      ? Buffer.alloc(0)
      : kdfa(opts.bindAuth ?? Buffer.alloc(0), 'ATH', nonceTPM, nonceCaller, 256);
  return { handle, nonceTPM, sessionKey };
}

interface SessionCall {
  code: number;
  handles: number[];
  names: Buffer[];
  params: Buffer;
  /** HMAC key: sessionKey || authValue (unless bound to the entity). */
  key: Buffer;
  attributes: number;
  nonceCaller: Buffer;
}

/** Sends one command with one HMAC session; checks the response HMAC and rolls the nonce. */
function callWith(tpm: Tpm2Engine, s: ClientSession, c: SessionCall) {
  const cp = sha256(u32(c.code), ...c.names, c.params);
  const hmac = hmac256(c.key, cp, c.nonceCaller, s.nonceTPM, Buffer.from([c.attributes]));
  const session: SessionSpec = { handle: s.handle, nonce: c.nonceCaller, attributes: c.attributes, hmac };
  const r = run(
    tpm,
    buildCommand({ code: c.code, handles: c.handles, sessions: [session], params: c.params }),
  );
  if (r.rc !== 0) return { rc: r.rc, params: Buffer.alloc(0) };
  const params = Buffer.from(r.body.bytes(r.body.u32()));
  const nonceTPM = Buffer.from(r.body.tpm2b(64));
  const attributes = r.body.u8();
  const rhmac = Buffer.from(r.body.tpm2b(64));
  expect(r.body.remaining).toBe(0);
  expect(attributes).toBe(c.attributes);
  expect(nonceTPM.equals(s.nonceTPM)).toBe(false); // a new nonceTPM in every response
  const rp = sha256(u32(0), u32(c.code), params);
  expect(rhmac.toString('hex')).toBe(
    hmac256(c.key, rp, nonceTPM, c.nonceCaller, Buffer.from([c.attributes])).toString('hex'),
  );
  s.nonceTPM = nonceTPM;
  return { rc: 0, params };
}

function handlesOf(tpm: Tpm2Engine, first: number): number[] {
  const r = run(
    tpm,
    buildCommand({ code: CC.GetCapability, params: (w) => w.u32(1).u32(first).u32(16) }),
  ).body;
  r.u8();
  r.u32();
  return Array.from({ length: r.u32() }, () => r.u32());
}

describe('TPM2_StartAuthSession', () => {
  it('starts HMAC sessions in the lowest free slot; the fourth is TPM_RC_SESSION_MEMORY', () => {
    const tpm = started();
    const handles = [1, 2, 3].map(() => startSession(tpm).handle);
    expect(handles).toEqual([0x02000000, 0x02000001, 0x02000002]);
    expect(handlesOf(tpm, 0x02000000)).toEqual(handles);
    // Observed from swtpm 0.7.1: 0x903 with three sessions loaded.
    const fourth = buildCommand({
      code: CC.StartAuthSession,
      handles: [RH.NULL, RH.NULL],
      params: (w) => w.tpm2b(Buffer.alloc(16, 1)).u16(0).u8(0).u16(ALG_NULL).u16(ALG_SHA256),
    });
    expect(tpm.execute(fourth).rc).toBe(RC.SESSION_MEMORY);
    const flush = (h: number) =>
      tpm.execute(buildCommand({ code: CC.FlushContext, params: (w) => w.u32(h) })).rc;
    expect(flush(0x02000001)).toBe(0);
    expect(flush(0x02000001)).toBe(0x1cb); // TPM_RC_HANDLE + P1: no longer loaded
    expect(handlesOf(tpm, 0x02000000)).toEqual([0x02000000, 0x02000002]);
    expect(startSession(tpm).handle).toBe(0x02000001);
  });

  it('refuses bad parameters and handles with the codes swtpm answers', () => {
    const tpm = started();
    const sas = (o: { nonce?: number; salt?: number; sym?: number[]; bind?: number; key?: number }) =>
      tpm.execute(
        buildCommand({
          code: CC.StartAuthSession,
          handles: [o.key ?? RH.NULL, o.bind ?? RH.NULL],
          params: (w) => {
            w.tpm2b(Buffer.alloc(o.nonce ?? 16, 1))
              .tpm2b(Buffer.alloc(o.salt ?? 0, 2))
              .u8(0);
            for (const v of o.sym ?? [ALG_NULL]) w.u16(v);
            w.u16(ALG_SHA256);
          },
        }),
      ).rc;
    // All observed from swtpm 0.7.1.
    expect(sas({ nonce: 8 })).toBe(0x1d5); // nonceCaller shorter than 16: TPM_RC_SIZE + P1
    expect(sas({ nonce: 33 })).toBe(0x1d5); // longer than the sha256 digest
    expect(sas({ salt: 4 })).toBe(0x2c4); // a salt without tpmKey: TPM_RC_VALUE + P2
    expect(sas({ sym: [0x0006, 128, 0x0044] })).toBe(0x4c9); // AES-ECB: TPM_RC_MODE + P4
    expect(sas({ sym: [0x0006, 192, 0x0043] })).toBe(0x4c4); // AES-192: TPM_RC_VALUE + P4
    expect(sas({ bind: 0x01000001 })).toBe(0x28b); // undefined NV index: TPM_RC_HANDLE + H2
    expect(sas({ bind: 0x80000000 })).toBe(0x911); // empty object slot: TPM_RC_REFERENCE_H1
    expect(sas({ bind: RH.PW })).toBe(0x284); // not an entity: TPM_RC_VALUE + H2
    expect(sas({ key: 0x80000000 })).toBe(0x910); // empty object slot: TPM_RC_REFERENCE_H0
    expect(handlesOf(tpm, 0x02000000)).toEqual([]);
  });
});

describe('HMAC session authorization', () => {
  it('as tpm2-tools uses it: unbound, unsalted, empty key; continueSession clear flushes', () => {
    const tpm = started();
    defineNv(tpm, COUNTER, COUNTER_ATTRS, 8);
    const s = startSession(tpm);
    const names = [u32(RH.OWNER), nvName(COUNTER, COUNTER_ATTRS, 8)];
    const inc = (attributes: number, nonce: number) =>
      callWith(tpm, s, {
        code: CC.NV_Increment,
        handles: [RH.OWNER, COUNTER],
        names,
        params: Buffer.alloc(0),
        key: Buffer.alloc(0),
        attributes,
        nonceCaller: Buffer.alloc(32, nonce),
      });
    expect(inc(CONTINUE, 0x21).rc).toBe(0);
    names[1] = nvName(COUNTER, COUNTER_ATTRS | 0x20000000, 8); // TPMA_NV_WRITTEN changes the Name
    expect(inc(CONTINUE, 0x22).rc).toBe(0); // the rolled nonceTPM
    expect(inc(0, 0x23).rc).toBe(0);
    expect(handlesOf(tpm, 0x02000000)).toEqual([]);
    // The flushed session is not loaded any more: TPM_RC_REFERENCE_S0.
    expect(inc(CONTINUE, 0x24).rc).toBe(RC.REFERENCE_S0);
    const read = run(
      tpm,
      buildCommand({
        code: CC.NV_Read,
        handles: [RH.OWNER, COUNTER],
        sessions: [pwSession()],
        params: (w) => w.u16(8).u16(0),
      }),
    ).body;
    read.u32();
    expect(Buffer.from(read.tpm2b(8)).toString('hex')).toBe('0000000000000003');
  });

  it('a wrong HMAC: BAD_AUTH for the owner, AUTH_FAIL for a DA-protected index; the nonce does not roll', () => {
    const tpm = started();
    defineNv(tpm, INDEX, INDEX_ATTRS, 16, INDEX_AUTH);
    const s = startSession(tpm);
    const write = (key: Buffer, handle: number, names: Buffer[]) =>
      callWith(tpm, s, {
        code: CC.NV_Write,
        handles: [handle, INDEX],
        names,
        params: b(u16(2), Buffer.from('hi'), u16(0)),
        key,
        attributes: CONTINUE,
        nonceCaller: Buffer.alloc(16, 0x31),
      }).rc;
    const indexName = nvName(INDEX, INDEX_ATTRS, 16);
    // The index's authValue belongs in the key (the session is not bound to it): without it, 0x98e.
    expect(write(Buffer.alloc(0), INDEX, [indexName, indexName])).toBe(0x98e);
    expect(write(Buffer.from('other'), INDEX, [indexName, indexName])).toBe(0x98e);
    // The same session, still loaded, with the right key and the unchanged nonceTPM.
    expect(write(INDEX_AUTH, INDEX, [indexName, indexName])).toBe(0);
    // Owner: no DA consequence (owner authorization of an index without OWNERWRITE is refused later).
    const ownerCall = callWith(tpm, s, {
      code: CC.NV_Increment,
      handles: [RH.OWNER, INDEX],
      names: [u32(RH.OWNER), nvName(INDEX, INDEX_ATTRS | 0x20000000, 16)],
      params: Buffer.alloc(0),
      key: Buffer.from('not the owner auth'),
      attributes: CONTINUE,
      nonceCaller: Buffer.alloc(16, 0x32),
    });
    expect(ownerCall.rc).toBe(0x9a2);
  });

  it('known answer: a session bound to an index, AES-128-CFB on NV_Write data and NV_Read output', () => {
    const tpm = started();
    defineNv(tpm, INDEX, INDEX_ATTRS, 16, INDEX_AUTH);
    const s = startSession(tpm, { bind: INDEX, bindAuth: INDEX_AUTH, sym: AES128_CFB });
    expect(s.sessionKey.length).toBe(32);
    const secret = Buffer.from('secret data!');
    // Bound to the index: the HMAC key is the session key alone; the CFB key adds the authValue.
    const nonce1 = Buffer.alloc(32, 0x41);
    const encrypted = cfb(b(s.sessionKey, INDEX_AUTH), nonce1, s.nonceTPM, secret, true);
    expect(encrypted.equals(secret)).toBe(false);
    const name = nvName(INDEX, INDEX_ATTRS, 16);
    const w = callWith(tpm, s, {
      code: CC.NV_Write,
      handles: [INDEX, INDEX],
      names: [name, name],
      params: b(u16(encrypted.length), encrypted, u16(0)),
      key: s.sessionKey,
      attributes: CONTINUE | DECRYPT,
      nonceCaller: nonce1,
    });
    expect(w.rc).toBe(0);

    // The index holds the plaintext: read it with a password session.
    const plain = run(
      tpm,
      buildCommand({
        code: CC.NV_Read,
        handles: [INDEX, INDEX],
        sessions: [pwSession('idxpass')],
        params: (x) => x.u16(secret.length).u16(0),
      }),
    ).body;
    plain.u32();
    expect(Buffer.from(plain.tpm2b(16)).toString()).toBe('secret data!');

    // NV_Read with encrypt: the response data is CFB-encrypted with nonceTPM (new) then nonceCaller.
    // The write set TPMA_NV_WRITTEN, which changed the index's Name: the session is no longer bound to
    // it (IsSessionBindEntity compares Names), so the authValue now goes into the HMAC key too.
    const written = nvName(INDEX, INDEX_ATTRS | 0x20000000, 16);
    const nonce2 = Buffer.alloc(20, 0x42);
    const r = callWith(tpm, s, {
      code: CC.NV_Read,
      handles: [INDEX, INDEX],
      names: [written, written],
      params: b(u16(secret.length), u16(0)),
      key: b(s.sessionKey, INDEX_AUTH),
      attributes: CONTINUE | ENCRYPT,
      nonceCaller: nonce2,
    });
    expect(r.rc).toBe(0);
    const size = r.params.readUInt16BE(0);
    const ciphertext = r.params.subarray(2, 2 + size);
    expect(ciphertext.equals(secret)).toBe(false);
    expect(cfb(b(s.sessionKey, INDEX_AUTH), s.nonceTPM, nonce2, ciphertext, false).toString()).toBe(
      'secret data!',
    );
  });

  it('a session only for encryption (no handle to authorize), and attribute errors', () => {
    const tpm = started();
    const s = startSession(tpm, { sym: AES128_CFB });
    const getRandom = (attributes: number) =>
      callWith(tpm, s, {
        code: CC.GetRandom,
        handles: [],
        names: [],
        params: u16(8),
        key: Buffer.alloc(0),
        attributes,
        nonceCaller: Buffer.alloc(16, 0x51),
      });
    const r = getRandom(CONTINUE | ENCRYPT);
    expect(r.rc).toBe(0);
    expect(r.params.length).toBe(10);
    // Neither authorizing nor encrypting: TPM_RC_ATTRIBUTES + session 1.
    expect(getRandom(CONTINUE).rc).toBe(0x982);
    // GetRandom's first parameter is no TPM2B: it cannot be decrypted.
    expect(getRandom(CONTINUE | DECRYPT).rc).toBe(0x982);
    // A session without a symmetric algorithm cannot encrypt: TPM_RC_SYMMETRIC + session 1.
    const plain = startSession(tpm);
    const e = callWith(tpm, plain, {
      code: CC.GetRandom,
      handles: [],
      names: [],
      params: u16(8),
      key: Buffer.alloc(0),
      attributes: CONTINUE | ENCRYPT,
      nonceCaller: Buffer.alloc(16, 0x52),
    });
    expect(e.rc).toBe(0x996);
  });

  it('a session survives a state migration: the next command still verifies', () => {
    const tpm = started();
    defineNv(tpm, COUNTER, COUNTER_ATTRS, 8);
    const s = startSession(tpm, { bind: RH.OWNER, sym: AES128_CFB });
    const dest = new Tpm2Engine({ seed: 'elsewhere' });
    applyBlob(dest.ctx, parseBlob('permanent', getBlob(tpm.ctx, 'permanent')));
    applyBlob(dest.ctx, parseBlob('volatile', getBlob(tpm.ctx, 'volatile')));
    const r = callWith(dest, s, {
      code: CC.NV_Increment,
      handles: [RH.OWNER, COUNTER],
      names: [u32(RH.OWNER), nvName(COUNTER, COUNTER_ATTRS, 8)],
      params: Buffer.alloc(0),
      key: s.sessionKey, // bound to the owner: no authValue in the key
      attributes: CONTINUE,
      nonceCaller: Buffer.alloc(16, 0x61),
    });
    expect(r.rc).toBe(0);
  });
});
