// NV commands, checked against swtpm 0.7.1 / libtpms 0.9.2. Every expected code and byte string below was
// observed from swtpm for the same command (python over TCP, or tpm2-tools 5.4 through a recording proxy).
// One swtpm behaviour this engine does not model: the first authorization of a DA-protected entity after
// TPM2_Startup answers TPM_RC_RETRY (0x922, libtpms CheckLockedOut with USE_DA_USED); the swtpm codes
// cited here are those of the commands that followed.
import { describe, expect, it } from 'vitest';
import { buildCommand, parseResponse, pwSession } from '../build';
import { CC, RH, ST, SU } from '../constants';
import { Tpm2Engine } from '../engine';
import { fromHex, hex, TpmReader, TpmWriter } from '../marshal';
import { marshalNvPublic2b, nvName, TPMA_NV, unmarshalNvPublic2b, type NvPublic } from '../nv-public';
import { RC } from '../rc';
import { nvStartup } from './nv';

const OWNER = RH.OWNER;
const PLATFORM = RH.PLATFORM;
const SHA256 = 0x000b;
/** ownerread|authread|ownerwrite|authwrite, tpm2_nvdefine's default for an owner index. */
const RW = 0x00060006;
const COUNTER = 0x00060016;

function started(seed: string | number = 'nv'): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed });
  expect(tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) })).rc).toBe(RC.SUCCESS);
  return tpm;
}

interface PubSpec {
  index: number;
  attrs?: number;
  size?: number;
  nameAlg?: number;
  policy?: Uint8Array;
}

function pubBytes(w: TpmWriter, p: PubSpec): void {
  marshalNvPublic2b(w, {
    nvIndex: p.index,
    nameAlg: p.nameAlg ?? SHA256,
    attributes: p.attrs ?? RW,
    authPolicy: p.policy ?? new Uint8Array(0),
    dataSize: p.size ?? 32,
  });
}

function define(
  tpm: Tpm2Engine,
  p: PubSpec & { auth?: Uint8Array | string; authHandle?: number; password?: string },
): number {
  const auth = typeof p.auth === 'string' ? new TextEncoder().encode(p.auth) : (p.auth ?? new Uint8Array(0));
  return tpm.execute(
    buildCommand({
      code: CC.NV_DefineSpace,
      handles: [p.authHandle ?? OWNER],
      sessions: [pwSession(p.password ?? '')],
      params: (w) => {
        w.tpm2b(auth);
        pubBytes(w, p);
      },
    }),
  ).rc;
}

function undefine(tpm: Tpm2Engine, index: number, authHandle: number = OWNER, password = '') {
  return tpm.execute(
    buildCommand({
      code: CC.NV_UndefineSpace,
      handles: [authHandle, index],
      sessions: [pwSession(password)],
    }),
  );
}

function readPublic(tpm: Tpm2Engine, index: number) {
  return tpm.execute(buildCommand({ code: CC.NV_ReadPublic, handles: [index] }));
}

function write(
  tpm: Tpm2Engine,
  index: number,
  data: Uint8Array | string,
  o: { offset?: number; auth?: number; pw?: string } = {},
) {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return tpm.execute(
    buildCommand({
      code: CC.NV_Write,
      handles: [o.auth ?? index, index],
      sessions: [pwSession(o.pw ?? '')],
      params: (w) => w.tpm2b(bytes).u16(o.offset ?? 0),
    }),
  );
}

function read(
  tpm: Tpm2Engine,
  index: number,
  size: number,
  o: { offset?: number; auth?: number; pw?: string } = {},
) {
  return tpm.execute(
    buildCommand({
      code: CC.NV_Read,
      handles: [o.auth ?? index, index],
      sessions: [pwSession(o.pw ?? '')],
      params: (w) => w.u16(size).u16(o.offset ?? 0),
    }),
  );
}

function increment(tpm: Tpm2Engine, index: number, o: { auth?: number; pw?: string } = {}) {
  return tpm.execute(
    buildCommand({
      code: CC.NV_Increment,
      handles: [o.auth ?? index, index],
      sessions: [pwSession(o.pw ?? '')],
    }),
  );
}

/** The TPM2B_MAX_NV_BUFFER of a successful NV_Read. */
function readData(response: Uint8Array): string {
  const p = parseResponse(response);
  expect(p.rc).toBe(RC.SUCCESS);
  p.body.u32(); // parameterSize
  return hex(p.body.tpm2b(1024));
}

/** A password-session success response with no parameters, as swtpm sends it. */
const OK_NO_PARAMS = '80020000001300000000000000000000010000';

describe('NV round trip', () => {
  it('define, read public, write, read and undefine answer swtpm byte for byte', () => {
    const tpm = started();
    const I = 0x01000001;
    expect(
      hex(
        tpm.execute(
          buildCommand({
            code: CC.NV_DefineSpace,
            handles: [OWNER],
            sessions: [pwSession()],
            params: (w) => {
              w.u16(0);
              pubBytes(w, { index: I });
            },
          }),
        ).response,
      ),
    ).toBe(OK_NO_PARAMS);
    expect(hex(readPublic(tpm, I).response)).toBe(
      '80010000003e00000000000e01000001000b00060006000000200022000b' +
        '4eb66fadbd34409b81bd551c1d04592cc80c43177f346cd46e7095bdc4c140a3',
    );
    expect(hex(write(tpm, I, 'abcd', { offset: 4 }).response)).toBe(OK_NO_PARAMS);
    // The first write erases the whole index to 0xff before writing (libtpms' erased NV).
    expect(hex(read(tpm, I, 16).response)).toBe(
      '80020000002500000000000000120010ffffffff61626364ffffffffffffffff0000010000',
    );
    // TPMA_NV_WRITTEN is now set, which changes the Name.
    expect(hex(readPublic(tpm, I).response)).toBe(
      '80010000003e00000000000e01000001000b20060006000000200022000b' +
        'cc8e45ed0fb14512f1dbbfe56eed467fcd07ae07bb76ec1ae17b5981ab05ee4f',
    );
    expect(hex(undefine(tpm, I).response)).toBe(OK_NO_PARAMS);
    expect(readPublic(tpm, I).rc).toBe(0x18b);
    expect(tpm.ctx.perm.nvIndices).toEqual([]);
  });

  it('an empty write at the end of the index marks it written', () => {
    const tpm = started();
    const I = 0x01000020;
    expect(define(tpm, { index: I, attrs: 0x00040004, size: 16, auth: 'pw' })).toBe(RC.SUCCESS);
    expect(write(tpm, I, '', { offset: 16, pw: 'pw' }).rc).toBe(RC.SUCCESS);
    expect(hex(readPublic(tpm, I).response)).toBe(
      '80010000003e00000000000e01000020000b20040004000000100022000b' +
        '6435654628c0b0dbea3a39fb1e827209ba734d28922d10bedf78de72acb2bb5a',
    );
    expect(readData(read(tpm, I, 16, { pw: 'pw' }).response)).toBe('ff'.repeat(16));
    expect(hex(read(tpm, I, 0, { offset: 16, pw: 'pw' }).response)).toBe(
      '800200000015' + '00000000' + '00000002' + '0000' + '0000010000',
    );
  });

  it('an ORDERLY index is erased to zeros by its first write (its data lives in RAM)', () => {
    const tpm = started();
    expect(define(tpm, { index: 0x01000040, attrs: 0x04060006, size: 16 })).toBe(RC.SUCCESS);
    expect(write(tpm, 0x01000040, 'ab', { offset: 2, auth: OWNER }).rc).toBe(RC.SUCCESS);
    expect(readData(read(tpm, 0x01000040, 16, { auth: OWNER }).response)).toBe('00006162' + '00'.repeat(12));
  });

  it('a platform index is defined and deleted with platform authorization', () => {
    const tpm = started();
    const I = 0x0100001d;
    expect(define(tpm, { index: I, attrs: 0x40060006, authHandle: PLATFORM })).toBe(RC.SUCCESS);
    expect(undefine(tpm, I).rc).toBe(RC.NV_AUTHORIZATION); // 0x149: the owner cannot delete it
    expect(undefine(tpm, I, PLATFORM).rc).toBe(RC.SUCCESS);
    // The platform may delete an owner index too.
    expect(define(tpm, { index: I })).toBe(RC.SUCCESS);
    expect(undefine(tpm, I, PLATFORM).rc).toBe(RC.SUCCESS);
  });

  it('keeps indices sorted by handle and reports them in GetCapability(HANDLES)', () => {
    const tpm = started();
    for (const i of [0x01000005, 0x01000001, 0x01ffffff, 0x01000003])
      expect(define(tpm, { index: i })).toBe(0);
    expect(tpm.ctx.perm.nvIndices.map((n) => n.handle)).toEqual([
      0x01000001, 0x01000003, 0x01000005, 0x01ffffff,
    ]);
    const r = tpm.execute(
      buildCommand({ code: CC.GetCapability, params: (w) => w.u32(1).u32(0x01000000).u32(10) }),
    );
    expect(hex(r.response).slice(20)).toBe('00000000010000000401000001010000030100000501ffffff');
  });
});

describe('NV_DefineSpace checks', () => {
  // Each line: the attributes / sizes sent and the code swtpm 0.7.1 answered.
  const I = 0x01000011;
  const cases: Array<[string, Parameters<typeof define>[1], number]> = [
    ['no read authorization', { index: I, attrs: 0x00000006 }, 0x2c2],
    ['no write authorization', { index: I, attrs: 0x00060000 }, 0x2c2],
    ['counter of 32 bytes', { index: I, attrs: COUNTER, size: 32 }, 0x2d5],
    ['counter with CLEAR_STCLEAR', { index: I, attrs: 0x08060016, size: 8 }, 0x2c2],
    ['ordinary of 2049 bytes', { index: I, size: 2049 }, 0x2d5],
    ['PLATFORMCREATE under the owner', { index: I, attrs: 0x40060006 }, 0x182],
    ['platform without PLATFORMCREATE', { index: I, authHandle: PLATFORM }, 0x182],
    ['authPolicy of 20 bytes for sha256', { index: I, policy: new Uint8Array(20) }, 0x2d5],
    ['authPolicy of 65 bytes', { index: I, policy: new Uint8Array(65) }, 0x2d5],
    ['authValue of 33 bytes for sha256', { index: I, auth: new Uint8Array(33).fill(1) }, 0x1d5],
    ['authValue of 65 bytes', { index: I, auth: new Uint8Array(65).fill(1) }, 0x1d5],
    ['WRITTEN set', { index: I, attrs: 0x20060006 }, 0x2c2],
    ['WRITELOCKED set', { index: I, attrs: 0x00060806 }, 0x2c2],
    ['READLOCKED set', { index: I, attrs: 0x10060006 }, 0x2c2],
    ['reserved bit 8', { index: I, attrs: 0x00060106 }, 0x2e1],
    ['reserved bit 20', { index: I, attrs: 0x00160006 }, 0x2e1],
    ['reserved bit 24', { index: I, attrs: 0x01060006 }, 0x2e1],
    ['nameAlg TPM_ALG_NULL', { index: I, nameAlg: 0x0010 }, 0x2c3],
    ['nameAlg 0x99', { index: I, nameAlg: 0x0099 }, 0x2c3],
    ['nameAlg SM3', { index: I, nameAlg: 0x0012 }, 0x2c3],
    ['index 0x02000000', { index: 0x02000000 }, 0x2c4],
    ['index 0x00ffffff', { index: 0x00ffffff }, 0x2c4],
    ['POLICY_DELETE under the owner', { index: I, attrs: 0x00060406 }, 0x2c2],
    ['CLEAR_STCLEAR with WRITEDEFINE', { index: I, attrs: 0x08062006 }, 0x2c2],
    ['WRITEALL on 1025 bytes', { index: I, attrs: 0x00061006, size: 1025 }, 0x2d5],
    ['TPM_NT 3', { index: I, attrs: 0x00060036, size: 8 }, 0x2c2],
    ['TPM_NT 5', { index: I, attrs: 0x00060056, size: 8 }, 0x2c2],
    ['PIN fail without NO_DA', { index: I, attrs: 0x00040082, size: 8 }, 0x2c2],
    ['PIN pass with AUTHWRITE', { index: I, attrs: 0x00060096, size: 8 }, 0x2c2],
    ['extend of 20 bytes for sha256', { index: I, attrs: 0x00060046, size: 20 }, 0x2d5],
    ['bits of 4 bytes', { index: I, attrs: 0x00060026, size: 4 }, 0x2d5],
    ['ORDERLY of 2048 bytes (RAM)', { index: I, attrs: 0x04060006, size: 2048 }, RC.NV_SPACE],
    ['wrong owner password (DA exempt)', { index: I, password: 'x' }, 0x9a2],
  ];
  it.each(cases)('%s', (_name, spec, code) => {
    const tpm = started();
    const before = structuredClone(tpm.ctx.perm);
    expect(define(tpm, spec)).toBe(code);
    expect(tpm.ctx.perm).toEqual(before);
  });

  const accepted: Array<[string, Parameters<typeof define>[1]]> = [
    ['ordinary of 2048 bytes', { index: I, size: 2048 }],
    ['ordinary of 0 bytes', { index: I, size: 0 }],
    [
      'authValue of 34 bytes whose last 2 are zero',
      { index: I, auth: new Uint8Array([...new Uint8Array(32).fill(1), 0, 0]) },
    ],
    ['index 0x01ffffff', { index: 0x01ffffff }],
    ['POLICY_DELETE by the platform', { index: I, attrs: 0x40060406, authHandle: PLATFORM }],
    ['WRITEALL on 1024 bytes', { index: I, attrs: 0x00061006, size: 1024 }],
    ['PIN pass of 8 bytes', { index: I, attrs: 0x00040092, size: 8 }],
    ['PIN fail with NO_DA', { index: I, attrs: 0x02040082, size: 8 }],
    ['extend of 32 bytes for sha256', { index: I, attrs: 0x00060046, size: 32 }],
    ['bits of 8 bytes', { index: I, attrs: 0x00060026, size: 8 }],
    ['ORDERLY of 500 bytes', { index: I, attrs: 0x04060006, size: 500 }],
  ];
  it.each(accepted)('accepts %s', (_name, spec) => {
    const tpm = started();
    expect(define(tpm, spec)).toBe(RC.SUCCESS);
    expect(tpm.ctx.perm.nvIndices.map((n) => n.handle)).toEqual([spec.index]);
  });

  it('stores the authValue without its trailing zeros', () => {
    const tpm = started();
    expect(define(tpm, { index: I, auth: new Uint8Array([7, 0, 7, 0, 0]) })).toBe(RC.SUCCESS);
    expect(hex(tpm.ctx.findNv(I)!.authValue)).toBe('070007');
  });

  it('refuses an index that exists (TPM_RC_NV_DEFINED, 0x14c) after the attribute checks', () => {
    const tpm = started();
    expect(define(tpm, { index: I })).toBe(RC.SUCCESS);
    expect(define(tpm, { index: I })).toBe(0x14c);
    expect(define(tpm, { index: I, attrs: 0x00060000 })).toBe(0x2c2);
  });

  it('refuses malformed TPM2B_NV_PUBLIC and auth parameters with swtpm codes', () => {
    const tpm = started();
    const pub = new TpmWriter();
    pubBytes(pub, { index: I });
    const p = pub.finish();
    const send = (params: Uint8Array) =>
      tpm.execute(
        buildCommand({ code: CC.NV_DefineSpace, handles: [OWNER], sessions: [pwSession()], params }),
      ).rc;
    const withSize = (size: number, body: Uint8Array) =>
      new Uint8Array([0, 0, size >> 8, size & 0xff, ...body]);
    expect(send(fromHex('0000 0000'))).toBe(0x2d5); // size 0
    expect(send(withSize(p.length - 1, new Uint8Array([...p.subarray(2), 0])))).toBe(0x2d5); // size one more than the structure
    expect(send(withSize(p.length - 3, p.subarray(2)))).toBe(0x2d5); // size one short of the structure
    expect(send(new Uint8Array([0, 0, ...p.subarray(0, p.length - 1)]))).toBe(0x2da); // truncated
    expect(send(new Uint8Array(0))).toBe(0x1da);
    expect(send(fromHex('0005 6162'))).toBe(0x1da);
    expect(tpm.ctx.perm.nvIndices).toEqual([]);
  });
});

describe('NV space (observed from swtpm 0.7.1 on an empty NV)', () => {
  function fill(tpm: Tpm2Engine, first: number, spec: Omit<PubSpec, 'index'>): number {
    let n = 0;
    while (define(tpm, { ...spec, index: first + n }) === RC.SUCCESS) n++;
    return n;
  }
  function largest(tpm: Tpm2Engine, index: number, attrs = RW): number {
    let best = -1;
    for (let size = 0; size <= 2048; size++) {
      const rc = define(tpm, { index, attrs, size });
      if (rc !== RC.SUCCESS) {
        expect(rc).toBe(RC.NV_SPACE);
        break;
      }
      undefine(tpm, index);
      best = size;
    }
    return best;
  }

  it('holds 68 indices of 2048 bytes and then one of at most 1900', () => {
    const tpm = started();
    expect(fill(tpm, 0x01100000, { size: 2048 })).toBe(68);
    expect(define(tpm, { index: 0x01200000, size: 2048 })).toBe(0x14b);
    expect(largest(tpm, 0x01200000)).toBe(1900);
  });

  it('holds 997 empty indices, or 955 counters (counters need no counter reserve)', () => {
    expect(fill(started(), 0x01100000, { size: 0 })).toBe(997);
    const tpm = started();
    expect(fill(tpm, 0x01100000, { attrs: COUNTER, size: 8 })).toBe(955);
    expect(define(tpm, { index: 0x01200000, size: 0 })).toBe(RC.NV_SPACE);
  });

  it('gives ORDERLY indices 512 bytes of RAM, 12 of them per index', () => {
    const tpm = started();
    expect(largest(tpm, 0x01100000, 0x04060006)).toBe(500);
    expect(define(tpm, { index: 0x01100001, attrs: 0x04060006, size: 100 })).toBe(RC.SUCCESS);
    expect(largest(tpm, 0x01100002, 0x04060006)).toBe(388);
    expect(fill(tpm, 0x01300000, { attrs: 0x04060016, size: 8 })).toBe(20);
  });

  it('frees the space of an undefined index', () => {
    const tpm = started();
    expect(fill(tpm, 0x01100000, { size: 2048 })).toBe(68);
    expect(undefine(tpm, 0x01100007).rc).toBe(RC.SUCCESS);
    expect(define(tpm, { index: 0x01200000, size: 2048 })).toBe(RC.SUCCESS);
  });
});

describe('NV_UndefineSpace checks', () => {
  it('answers swtpm codes', () => {
    const tpm = started();
    const I = 0x01000016;
    expect(define(tpm, { index: I, attrs: 0x40060406, authHandle: PLATFORM })).toBe(RC.SUCCESS);
    expect(undefine(tpm, I, PLATFORM).rc).toBe(0x282); // POLICY_DELETE needs NV_UndefineSpaceSpecial
    expect(undefine(tpm, 0x01000999).rc).toBe(0x28b);
    expect(undefine(tpm, 0x81000000).rc).toBe(0x284);
    expect(
      tpm.execute(
        buildCommand({ code: CC.NV_UndefineSpace, handles: [RH.ENDORSEMENT, I], sessions: [pwSession()] }),
      ).rc,
    ).toBe(0x184);
    expect(tpm.execute(buildCommand({ code: CC.NV_UndefineSpace, handles: [OWNER, I] })).rc).toBe(
      RC.AUTH_MISSING,
    );
    expect(tpm.ctx.perm.nvIndices.map((n) => n.handle)).toEqual([I]);
  });
});

describe('NV_ReadPublic', () => {
  it('refuses handles that are not defined NV indices', () => {
    const tpm = started();
    expect(readPublic(tpm, 0x01000999).rc).toBe(0x18b);
    expect(readPublic(tpm, 0x81000000).rc).toBe(0x184);
    expect(readPublic(tpm, OWNER).rc).toBe(0x184);
    expect(define(tpm, { index: 0x01000001 })).toBe(RC.SUCCESS);
    // A password session with no handle to authorize.
    const r = tpm.execute(
      buildCommand({ code: CC.NV_ReadPublic, handles: [0x01000001], sessions: [pwSession()] }),
    );
    expect(r.rc).toBe(0x98b);
  });

  it('returns the public area and a Name that matches nvName', () => {
    const tpm = started();
    expect(
      define(tpm, {
        index: 0x01000002,
        nameAlg: 0x0004,
        attrs: 0x000a0002,
        size: 64,
        policy: new Uint8Array(20).fill(9),
      }),
    ).toBe(0);
    const body = parseResponse(readPublic(tpm, 0x01000002).response).body;
    const pub: NvPublic = unmarshalNvPublic2b(body);
    expect(pub).toEqual({
      nvIndex: 0x01000002,
      nameAlg: 4,
      attributes: 0x000a0002,
      authPolicy: new Uint8Array(20).fill(9),
      dataSize: 64,
    });
    const name = body.tpm2b(64);
    expect(hex(name)).toBe(hex(nvName(pub)));
    expect(name.length).toBe(22);
    expect(body.remaining).toBe(0);
  });
});

describe('NV_Write and NV_Read authorization and ranges', () => {
  const AUTHRW = 0x01000020; // authread|authwrite, password 'pw'
  const OWNERONLY = 0x01000021; // ownerread|ownerwrite
  const NODA = 0x01000022; // authread|authwrite|no_da, password 'pw'
  const CTR = 0x01000023;
  const WRITEALL = 0x01000024;
  const PP = 0x01000025; // ppread|ppwrite
  const BITS = 0x01000026;
  const EXTEND = 0x01000027;

  function setup(): Tpm2Engine {
    const tpm = started();
    expect(define(tpm, { index: AUTHRW, attrs: 0x00040004, size: 16, auth: 'pw' })).toBe(0);
    expect(define(tpm, { index: OWNERONLY, attrs: 0x00020002, size: 16 })).toBe(0);
    expect(define(tpm, { index: NODA, attrs: 0x02040004, size: 16, auth: 'pw' })).toBe(0);
    expect(define(tpm, { index: CTR, attrs: COUNTER, size: 8 })).toBe(0);
    expect(define(tpm, { index: WRITEALL, attrs: 0x00061006, size: 16 })).toBe(0);
    expect(define(tpm, { index: PP, attrs: 0x00010001, size: 16 })).toBe(0);
    expect(define(tpm, { index: BITS, attrs: 0x00060026, size: 8 })).toBe(0);
    expect(define(tpm, { index: EXTEND, attrs: 0x00060046, size: 32 })).toBe(0);
    return tpm;
  }

  it('answers each refusal with the swtpm code and changes nothing', () => {
    const tpm = setup();
    const before = structuredClone(tpm.ctx.perm);
    const cases: Array<[string, () => number, number]> = [
      ['owner writes an index without OWNERWRITE', () => write(tpm, AUTHRW, 'ab', { auth: OWNER }).rc, 0x149],
      [
        'platform writes an index without PPWRITE',
        () => write(tpm, AUTHRW, 'ab', { auth: PLATFORM }).rc,
        0x149,
      ],
      ['index password without AUTHWRITE', () => write(tpm, OWNERONLY, 'ab').rc, RC.AUTH_UNAVAILABLE],
      ['index password without AUTHREAD', () => read(tpm, OWNERONLY, 2).rc, RC.AUTH_UNAVAILABLE],
      [
        'another index authorizes the write',
        () => write(tpm, OWNERONLY, 'ab', { auth: AUTHRW, pw: 'pw' }).rc,
        0x149,
      ],
      [
        'another NO_DA index authorizes',
        () => write(tpm, OWNERONLY, 'ab', { auth: NODA, pw: 'pw' }).rc,
        0x149,
      ],
      ['wrong password, DA protected', () => write(tpm, AUTHRW, 'ab', { pw: 'xx' }).rc, 0x98e],
      ['wrong password, NO_DA', () => write(tpm, NODA, 'ab', { pw: 'xx' }).rc, 0x9a2],
      ['wrong owner password', () => write(tpm, OWNERONLY, 'ab', { auth: OWNER, pw: 'q' }).rc, 0x9a2],
      ['NV_Write to a counter', () => write(tpm, CTR, 'ab', { auth: OWNER }).rc, 0x082],
      ['NV_Write to a bit field', () => write(tpm, BITS, 'ab', { auth: OWNER }).rc, 0x082],
      ['NV_Write to an extend index', () => write(tpm, EXTEND, 'ab', { auth: OWNER }).rc, 0x082],
      ['write offset past the end', () => write(tpm, AUTHRW, '', { offset: 17, pw: 'pw' }).rc, 0x2c4],
      [
        'write running past the end',
        () => write(tpm, AUTHRW, 'abc', { offset: 14, pw: 'pw' }).rc,
        RC.NV_RANGE,
      ],
      ['write of 1025 bytes', () => write(tpm, AUTHRW, new Uint8Array(1025), { pw: 'pw' }).rc, 0x1d5],
      [
        'WRITEALL with a short write',
        () => write(tpm, WRITEALL, 'a'.repeat(15), { auth: OWNER }).rc,
        RC.NV_RANGE,
      ],
      [
        'WRITEALL at an offset',
        () => write(tpm, WRITEALL, 'a'.repeat(15), { offset: 1, auth: OWNER }).rc,
        RC.NV_RANGE,
      ],
      ['owner writes a PP index', () => write(tpm, PP, 'ab', { auth: OWNER }).rc, 0x149],
      ['platform reads an owner-only index', () => read(tpm, OWNERONLY, 2, { auth: PLATFORM }).rc, 0x149],
      ['read of an unwritten index', () => read(tpm, OWNERONLY, 2, { auth: OWNER }).rc, RC.NV_UNINITIALIZED],
      [
        'read of 1025 from an unwritten index',
        () => read(tpm, OWNERONLY, 1025, { auth: OWNER }).rc,
        RC.NV_UNINITIALIZED,
      ],
      ['unwritten counter', () => read(tpm, CTR, 8, { auth: OWNER }).rc, RC.NV_UNINITIALIZED],
      ['NV_Increment of an ordinary index', () => increment(tpm, AUTHRW, { pw: 'pw' }).rc, 0x282],
      ['NV_Increment of a bit field', () => increment(tpm, BITS, { auth: OWNER }).rc, 0x282],
      ['authorization by an undefined index', () => write(tpm, AUTHRW, 'ab', { auth: 0x01000999 }).rc, 0x18b],
      [
        'authorization by the endorsement hierarchy',
        () => write(tpm, AUTHRW, 'ab', { auth: RH.ENDORSEMENT }).rc,
        0x184,
      ],
      [
        'authorization by a persistent handle',
        () => write(tpm, AUTHRW, 'ab', { auth: 0x81000000 }).rc,
        0x184,
      ],
      ['write to an undefined index', () => write(tpm, 0x01000999, 'ab', { auth: OWNER }).rc, 0x28b],
      ['write to a persistent handle', () => write(tpm, 0x81000000, 'ab', { auth: OWNER }).rc, 0x284],
    ];
    const got = cases.map(([name, run]) => [name, run()]);
    expect(got).toEqual(cases.map(([name, , code]) => [name, code]));
    expect(tpm.ctx.perm).toEqual(before);
  });

  it('checks read parameters only once the index is readable', () => {
    const tpm = setup();
    expect(write(tpm, AUTHRW, 'abcd', { pw: 'pw' }).rc).toBe(RC.SUCCESS);
    expect(read(tpm, AUTHRW, 1025, { pw: 'pw' }).rc).toBe(0x1c4);
    expect(read(tpm, AUTHRW, 0, { offset: 17, pw: 'pw' }).rc).toBe(0x2c4);
    expect(read(tpm, AUTHRW, 3, { offset: 14, pw: 'pw' }).rc).toBe(RC.NV_RANGE);
    expect(readData(read(tpm, AUTHRW, 6, { pw: 'pw' }).response)).toBe('61626364ffff');
  });

  it('lets WRITEALL and PP indices be written the allowed way', () => {
    const tpm = setup();
    expect(write(tpm, WRITEALL, 'a'.repeat(16), { auth: OWNER }).rc).toBe(RC.SUCCESS);
    expect(write(tpm, PP, 'ab', { auth: PLATFORM }).rc).toBe(RC.SUCCESS);
    expect(hex(read(tpm, PP, 4, { auth: PLATFORM }).response)).toBe(
      '800200000019' + '00000000' + '00000006' + '0004' + '6162ffff' + '0000010000',
    );
  });

  it('refuses malformed NV_Write and NV_Read parameter areas', () => {
    const tpm = setup();
    const sw = (code: number, params: string) =>
      tpm.execute(
        buildCommand({ code, handles: [OWNER, OWNERONLY], sessions: [pwSession()], params: fromHex(params) }),
      ).rc;
    expect(sw(CC.NV_Write, '0002 6162 0000 00')).toBe(RC.SIZE); // left-over byte
    expect(sw(CC.NV_Write, '0002 6162 00')).toBe(0x2da);
    expect(sw(CC.NV_Read, '0002 00')).toBe(0x2da);
    expect(
      tpm.execute(
        buildCommand({ code: CC.NV_Write, handles: [OWNER, OWNERONLY], params: fromHex('0002 6162 0000') }),
      ).rc,
    ).toBe(RC.AUTH_MISSING);
  });
});

describe('NV counters', () => {
  it('start at 1, read as 8 big-endian bytes and set WRITTEN', () => {
    const tpm = started();
    const C = 0x01000023;
    expect(define(tpm, { index: C, attrs: COUNTER, size: 8 })).toBe(RC.SUCCESS);
    expect(hex(increment(tpm, C, { auth: OWNER }).response)).toBe(OK_NO_PARAMS);
    expect(hex(read(tpm, C, 8, { auth: OWNER }).response)).toBe(
      '80020000001d' + '00000000' + '0000000a' + '0008' + '0000000000000001' + '0000010000',
    );
    expect(readData(read(tpm, C, 4, { offset: 4, auth: OWNER }).response)).toBe('00000001');
    // authwrite is set, so the counter's own (empty) password increments it too.
    expect(increment(tpm, C).rc).toBe(RC.SUCCESS);
    expect(hex(readPublic(tpm, C).response)).toBe(
      '80010000003e00000000000e01000023000b20060016000000080022000b' +
        'e76129878a71b27d49bb3fe87207891297c774d36b9b3f90a7b451f0fc0b10a6',
    );
  });

  it('a new counter starts above the highest deleted one', () => {
    const tpm = started();
    const [C1, C2, C3, C4] = [0x01000023, 0x01000026, 0x01000027, 0x01000028];
    expect(define(tpm, { index: C1, attrs: COUNTER, size: 8 })).toBe(0);
    for (let i = 0; i < 6; i++) expect(increment(tpm, C1, { auth: OWNER }).rc).toBe(0);
    expect(readData(read(tpm, C1, 8, { auth: OWNER }).response)).toBe('0000000000000006');
    expect(undefine(tpm, C1).rc).toBe(0);
    expect(define(tpm, { index: C2, attrs: COUNTER, size: 8 })).toBe(0);
    expect(define(tpm, { index: C3, attrs: COUNTER, size: 8 })).toBe(0);
    expect(increment(tpm, C2, { auth: OWNER }).rc).toBe(0);
    expect(readData(read(tpm, C2, 8, { auth: OWNER }).response)).toBe('0000000000000007');
    expect(undefine(tpm, C2).rc).toBe(0);
    expect(increment(tpm, C3, { auth: OWNER }).rc).toBe(0);
    expect(readData(read(tpm, C3, 8, { auth: OWNER }).response)).toBe('0000000000000008');
    // Deleting a counter that was never incremented does not move the floor.
    expect(define(tpm, { index: C4, attrs: COUNTER, size: 8 })).toBe(0);
    expect(undefine(tpm, C4).rc).toBe(0);
    expect(tpm.ctx.perm.nvMaxCounter).toBe('7');
  });

  it('an index password without AUTHWRITE cannot increment', () => {
    const tpm = started();
    expect(define(tpm, { index: 0x01000030, attrs: 0x00060012, size: 8 })).toBe(0);
    expect(increment(tpm, 0x01000030).rc).toBe(RC.AUTH_UNAVAILABLE);
    expect(increment(tpm, 0x01000030, { auth: OWNER }).rc).toBe(RC.SUCCESS);
  });
});

describe('nvStartup', () => {
  // swtpm 0.7.1 for the same three indices, power-cycled through its control channel (CMD_INIT):
  // Shutdown(STATE)+Startup(CLEAR) left [CLEAR_STCLEAR, ORDERLY, ORDERLY counter] WRITTEN as [0, 1, 1];
  // Shutdown(CLEAR)+Startup(CLEAR) as [0, 0, 1] with the counter at 2; Startup(CLEAR) without a
  // Shutdown read the counter as 0x00000000000000ff.
  function attrsOf(tpm: Tpm2Engine, h: number): number {
    return tpm.ctx.findNv(h)!.attributes;
  }

  it('forgets CLEAR_STCLEAR data on Reset and Restart, ORDERLY data on Reset only, and never counters', () => {
    const tpm = started();
    const [CLR, ORD, CTR] = [0x01000050, 0x01000051, 0x01000052];
    expect(define(tpm, { index: CLR, attrs: 0x08060006, size: 4 })).toBe(0);
    expect(define(tpm, { index: ORD, attrs: 0x04060006, size: 4 })).toBe(0);
    expect(define(tpm, { index: CTR, attrs: 0x04060016, size: 8 })).toBe(0);
    const writeAll = () => {
      expect(write(tpm, CLR, 'abcd', { auth: OWNER }).rc).toBe(0);
      expect(write(tpm, ORD, 'abcd', { auth: OWNER }).rc).toBe(0);
      expect(increment(tpm, CTR, { auth: OWNER }).rc).toBe(0);
    };
    writeAll();
    nvStartup(tpm.ctx, 'resume', true);
    expect([CLR, ORD, CTR].map((h) => (attrsOf(tpm, h) & TPMA_NV.WRITTEN) !== 0)).toEqual([true, true, true]);
    nvStartup(tpm.ctx, 'restart', true);
    expect([CLR, ORD, CTR].map((h) => (attrsOf(tpm, h) & TPMA_NV.WRITTEN) !== 0)).toEqual([
      false,
      true,
      true,
    ]);
    expect(read(tpm, CLR, 4, { auth: OWNER }).rc).toBe(RC.NV_UNINITIALIZED);
    writeAll();
    nvStartup(tpm.ctx, 'reset', true);
    expect([CLR, ORD, CTR].map((h) => (attrsOf(tpm, h) & TPMA_NV.WRITTEN) !== 0)).toEqual([
      false,
      false,
      true,
    ]);
    expect(readData(read(tpm, CTR, 8, { auth: OWNER }).response)).toBe('0000000000000002');
    // After a shutdown that was not orderly an ORDERLY counter jumps past any value it may have lost.
    nvStartup(tpm.ctx, 'reset', false);
    expect(readData(read(tpm, CTR, 8, { auth: OWNER }).response)).toBe('00000000000000ff');
  });
});

describe('tpm2-tools 5.4 NV flow, recorded against swtpm 0.7.1', () => {
  // tpm2_nvdefine 0x1500016 -C o -s 32 -a "ownerread|ownerwrite|authread|authwrite" -p secret;
  // tpm2_nvwrite 0x1500016 -C 0x1500016 -P secret -i "hello nv world"; tpm2_nvwrite ... -C o --offset 16;
  // tpm2_nvread 0x1500016 -C 0x1500016 -P secret; tpm2_nvreadpublic; tpm2_nvdefine 0x1500017 -C o -s 8
  // -a "ownerread|ownerwrite|nt=counter"; tpm2_nvincrement (twice); tpm2_nvread 0x1500017 -C o;
  // tpm2_nvundefine both; tpm2_nvread 0x1500016 (fails). Only the NV commands are kept, each with
  // swtpm's answer; the one swtpm answered TPM_RC_RETRY (first DA use, resent by the tools) is dropped.
  const RECORDED: Array<[string, string]> = [
    [
      '8002000000730000012a40000001000000490200000000200c276700ea54c811a87591f8eca20f192cf8ac3de1de26d452be6cf1643574d901002015a189086d1597520ab9acf9cdcf149a41decd7cd972c8bb92b7d7d5fce5c48a0006736563726574000e01500016000b0006000600000020',
      '8002000000530000000000000000002057ac069d106ebfae0e337366fe7bb18281ebd5e24406820ac5d7297b6b33fab8010020463fbbf6855a60bbd4cd533b0787e0510ce1c0bc06cb17fa5e86e8239605d93f',
    ],
    [
      '80010000000e0000016901500016',
      '80010000003e00000000000e01500016000b00060006000000200022000b5efc224a5ca11f53db485095134d993aa8c24c69fdf17cdc1d38dfa3fec20c80',
    ],
    [
      '80020000007100000137015000160150001600000049020000000020ff3a0c4d2689800c47ea81a79ffd4fe731fdc4ea3404c363db2acbff9b11b094010020e44970ba0e1a0c0b1ee7f97a58b6470f12f066f7c86b078aae6aa41934f7f037000e68656c6c6f206e7620776f726c640000',
      '800200000053000000000000000000208acc1ceefe9e717e6a86976c17409b0737d8226961213ad69d66d6e365f1583e0100200a45d527a0aa187c8380d7976a19a920f60f96b1e22ac7b9e451846ae4aff596',
    ],
    [
      '80010000000e0000016901500016',
      '80010000003e00000000000e01500016000b20060006000000200022000be2d663da4fcf077ab479514b7c4db4191b9931cf9551f0b70af9193ff27599ca',
    ],
    [
      '800200000071000001374000000101500016000000490200000000201b8c8e4a757ec2c35470f4aae22094e60fc4b8ff4d9ecfe1b17cf58539a8307e010020382ec91f9eb6f2259e0beb8e34701fb9930201bb3d618d504481a4e711d2c37d000e68656c6c6f206e7620776f726c640010',
      '80020000005300000000000000000020b0eda93f4575867cdbf0782c47dd1a796b35359a2ece335f09e9a373e5fc8bca010020182cc3a507a982bbe86d15ed214f71f276c3ec57c6c83f481b84cda7a7879427',
    ],
    [
      '80010000000e0000016901500016',
      '80010000003e00000000000e01500016000b20060006000000200022000be2d663da4fcf077ab479514b7c4db4191b9931cf9551f0b70af9193ff27599ca',
    ],
    [
      '8002000000630000014e01500016015000160000004902000000002031d75052a0a380f29fd153ff1392af4c11937fcb4561028c1602b6ba4c749d2d0100204897a283ad0bd0f19a20332a35f875c9119207143b037cb7b028472205471af100200000',
      '8002000000750000000000000022002068656c6c6f206e7620776f726c64ffff68656c6c6f206e7620776f726c64ffff0020ffc0af0375a78ffb1f3a3fd5e68c2ddad78c0854c0a9c9ee5b38e7522b07afa20100201bbf7e24c3f690bf6937499aaad87ba0de5cda7d3e6296cb5a1731a6906c2761',
    ],
    [
      '80010000000e0000016901500016',
      '80010000003e00000000000e01500016000b20060006000000200022000be2d663da4fcf077ab479514b7c4db4191b9931cf9551f0b70af9193ff27599ca',
    ],
    [
      '80020000006d0000012a4000000100000049020000000020d12b73427a6dbc5872193dd9c266a688d24698f35e9930de7bb1b2b339acd9f70100207835bd87191a5c53258a164674fa5b9325a427bd1fcfb7f2ebc2712b83bdf8ad0000000e01500017000b0002001200000008',
      '80020000005300000000000000000020784ce6b2cd78548cc9ec2564746447b5aae0cbd3855ec46656b6a6e108d687fc010020c3b5e94f64f79ddbba266bdedbd75add783371449ab20274c8f29d0b143406f0',
    ],
    [
      '80010000000e0000016901500017',
      '80010000003e00000000000e01500017000b00020012000000080022000b02cf909fcfd59d34924c3f612bd8b2a126d17c58de730ea78bdb3449ce69ae55',
    ],
    [
      '80020000005f000001344000000101500017000000490200000000201646e9ae60c555bf943bbb6b1bfd35e799027fab036818f16a632a5e633916cd0100200c335febd51e0d4a8d675a68daff06d49b982b5d6ddeb0407272e8f84f1a9d87',
      '8002000000530000000000000000002086bd57dc440c96ef940cdb9c90e0924e5ddfc6a06c78d1abf095353712df5a6401002031c44d887bc53fc6554f1b2bf770b14f6466b50a3469915ef07fca92c8a00e7d',
    ],
    [
      '80010000000e0000016901500017',
      '80010000003e00000000000e01500017000b20020012000000080022000b1e5eca8ad1f80e92e7b9f9513f515c24c53b114144d188f5135a80f24e40a7e2',
    ],
    [
      '80020000005f000001344000000101500017000000490200000000202a7fe0432d5795cf553427de29bf4167df004a00653b340173fdea168b7d830f0100203ba12a8f85d6ae56c325bee6ef5254e0e41153378aded328b82d14965cc78d6b',
      '8002000000530000000000000000002049aaab56ccedd8a37be28527b4fa1d0415ca777b586528bdea5bb88b709efd20010020d70083f43872f7abc0904ad539d522210d4d7117845b72f7786c648897733d3b',
    ],
    [
      '80010000000e0000016901500017',
      '80010000003e00000000000e01500017000b20020012000000080022000b1e5eca8ad1f80e92e7b9f9513f515c24c53b114144d188f5135a80f24e40a7e2',
    ],
    [
      '8002000000630000014e400000010150001700000049020000000020ab0f34b84fc8c74183f1946a56af523e3ac282c80eb677cfb1184fa8980ca6ca010020a8ff73ed72da0efc8c0eb8ef875a072a21df7f3749171a5b386cfeea34281f8300080000',
      '80020000005d000000000000000a00080000000000000002002061c75ff8824a0555c3d3be45334d7f8859680df98eeeba0190fe92c557ca566e010020135707ea3d75636b59d5e6e22efdecf4a6a5685078caa7727c23cdac77f39b5a',
    ],
    [
      '80010000000e0000016901500017',
      '80010000003e00000000000e01500017000b20020012000000080022000b1e5eca8ad1f80e92e7b9f9513f515c24c53b114144d188f5135a80f24e40a7e2',
    ],
    [
      '80020000005f00000122400000010150001700000049020000000020c0139384761a51dfdfa1013896bd44311f0a9e264e31c072558847cdd87095f10100200246a542bc71caae0b70dd1428cc5c110948d2ed0758b54ca19cbfb816420530',
      '80020000005300000000000000000020f21ad748389a83882a43057fda36515776d8bbe60d9efd38b86946c01c89f8fa01002034ba2858c3b2dd27b2d9cccfb6a338c3d1519e97d2016a2c73ecfa3fe40a7fde',
    ],
    [
      '80010000000e0000016901500016',
      '80010000003e00000000000e01500016000b20060006000000200022000be2d663da4fcf077ab479514b7c4db4191b9931cf9551f0b70af9193ff27599ca',
    ],
    [
      '80020000005f0000012240000001015000160000004902000000002021e66c78c9b0ab0171c3c888f9ce04bfb60f5112bcd25eef7f594c6c66640dca01002044c50778e5653b7052f20904a1f66b96d341ecedc501378b0b11d1b8e9ab970a',
      '80020000005300000000000000000020d5910702138b791883dcc3f6559e5214923cb398cf0d376a141b784cbe7a28d9010020267cb0266b0bfbca1cea34e4a27b65a490834f3e4ee194c21c4f0d1281fd41ae',
    ],
    ['80010000000e0000016901500016', '80010000000a0000018b'],
  ];
  const HANDLE_COUNT = new Map<number, number>([
    [CC.NV_DefineSpace, 1],
    [CC.NV_UndefineSpace, 2],
    [CC.NV_ReadPublic, 1],
    [CC.NV_Write, 2],
    [CC.NV_Read, 2],
    [CC.NV_Increment, 2],
  ]);

  it('accepts the bytes the tools send and answers the same parameters', () => {
    // The tools authorize through an HMAC session whose nonces came from swtpm, so the handle and
    // parameter areas are replayed as recorded, each with a password session for the same entity.
    const tpm = started();
    for (const [cmdHex, rspHex] of RECORDED) {
      const r = new TpmReader(fromHex(cmdHex));
      const tag = r.u16();
      r.u32();
      const code = r.u32();
      const handles = Array.from({ length: HANDLE_COUNT.get(code)! }, () => r.u32());
      if (tag === ST.SESSIONS) r.bytes(r.u32());
      const params = r.bytes(r.remaining);
      const expected = parseResponse(fromHex(rspHex));
      const password = handles[0] === 0x01500016 ? 'secret' : '';
      const bytes =
        tag === ST.SESSIONS
          ? buildCommand({ code, handles, sessions: [pwSession(password)], params })
          : fromHex(cmdHex);
      const got = tpm.execute(bytes);
      const label = `${code.toString(16)} ${handles.map((h) => h.toString(16)).join(',')}`;
      expect([label, got.rc]).toEqual([label, expected.rc]);
      if (tag !== ST.SESSIONS || expected.rc !== RC.SUCCESS) {
        expect([label, hex(got.response)]).toEqual([label, rspHex]);
        continue;
      }
      const mine = parseResponse(got.response).body;
      expect([label, hex(mine.bytes(mine.u32()))]).toEqual([
        label,
        hex(expected.body.bytes(expected.body.u32())),
      ]);
    }
    expect(tpm.ctx.perm.nvIndices).toEqual([]);
    expect(tpm.ctx.perm.nvMaxCounter).toBe('2');
  });
});
