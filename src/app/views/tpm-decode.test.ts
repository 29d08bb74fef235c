import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createPrimaryEcc, getRandom, nvRead, pcrExtendSha256 } from '../../core/guest/workload-commands';
import { buildCommand, pwSession } from '../../core/tpm2/build';
import { ALG, CC, RH, SU } from '../../core/tpm2/constants';
import { Tpm2Engine } from '../../core/tpm2/engine';
import { fromHex } from '../../core/tpm2/marshal';
import { OBJECT_ATTR } from '../../core/tpm2/public-area';
import { RC, rcParam, rcSession } from '../../core/tpm2/rc';
import {
  commandCodeOf,
  decodeCommand,
  decodeResponse,
  decodeResponseCode,
  OBJECT_ATTRIBUTE_BITS,
  walkNodes,
  type DecodedMessage,
  type DecodedNode,
} from './tpm-decode';

function startedTpm(): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed: 'decoder' });
  tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) }));
  return tpm;
}

const find = (m: DecodedMessage, label: string): DecodedNode | undefined =>
  walkNodes(m.nodes).find((x) => x.node.label === label)?.node;

/** Top-level nodes tile the message in order; children stay inside their parent. */
function checkShape(m: DecodedMessage, bytes: Uint8Array) {
  let at = 0;
  for (const n of m.nodes) {
    expect(n.start).toBe(at);
    expect(n.end).toBeGreaterThanOrEqual(n.start);
    at = n.end;
  }
  expect(at).toBe(bytes.length);
  const inside = (parent: DecodedNode) => {
    for (const c of parent.children) {
      expect(c.start).toBeGreaterThanOrEqual(parent.start);
      expect(c.end).toBeLessThanOrEqual(parent.end);
      inside(c);
    }
  };
  m.nodes.forEach(inside);
}

describe('decodeCommand', () => {
  it('reads the keygen workload’s CreatePrimary: header, owner handle, password session, parameters', () => {
    const bytes = createPrimaryEcc();
    const m = decodeCommand(bytes);
    expect(m.summary).toBe(`TPM2_CreatePrimary command, ${bytes.length} bytes`);
    expect(m.hasProblems).toBe(false);
    expect(m.nodes.map((n) => n.label)).toEqual(['header', 'handles', 'authorization area', 'parameters']);
    expect(find(m, 'tag')?.value).toBe('TPM_ST_SESSIONS (0x8002)');
    expect(find(m, 'commandCode')?.value).toBe('TPM2_CreatePrimary (0x00000131)');
    expect(find(m, 'handle 1')).toMatchObject({ value: 'TPM_RH_OWNER (0x40000001)', start: 10, end: 14 });
    expect(find(m, 'sessionHandle')?.value).toBe('TPM_RS_PW (0x40000009)');
    expect(find(m, 'sessionAttributes')?.value).toBe('0x01 (continueSession)');
    expect(find(m, 'type')?.value).toBe('TPM_ALG_ECC (0x0023)');
    expect(find(m, 'nameAlg')?.value).toBe('TPM_ALG_SHA256 (0x000b)');
    expect(find(m, 'objectAttributes')?.value).toBe(
      '0x00030072 (fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, decrypt)',
    );
    expect(find(m, 'pcrSelections')?.value).toBe('0 entries');
    expect(find(m, 'curveID')?.value).toBe('TPM_ECC_NIST_P256 (0x0003)');
    expect(find(m, 'symmetric')?.children.map((c) => c.value)).toEqual([
      'TPM_ALG_AES (0x0006)',
      '128 (0x0080)',
      'TPM_ALG_CFB (0x0043)',
    ]);
    expect(find(m, 'scheme')?.value).toBe('TPM_ALG_NULL (0x0010)');
    checkShape(m, bytes);
  });

  it('reads PCR_Extend’s digest list and GetRandom’s count', () => {
    const extend = decodeCommand(pcrExtendSha256(16, new Uint8Array(32).fill(0xab)));
    expect(find(extend, 'handle 1')?.value).toBe('PCR 16 (0x00000010)');
    expect(find(extend, 'hashAlg')?.value).toBe('TPM_ALG_SHA256 (0x000b)');
    expect(find(extend, 'digest')?.value).toBe('32 bytes: ab ab ab ab ab ab ab ab …');
    const random = decodeCommand(getRandom(32));
    expect(find(random, 'bytesRequested')?.value).toBe('32 (0x0020)');
    expect(random.nodes.map((n) => n.label)).toEqual(['header', 'parameters']);
  });

  it('reads an RSA template (the 2017 scenario’s key) and NV_Read’s handles and parameters', () => {
    const rsa = buildCommand({
      code: CC.CreatePrimary,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => {
        w.u16(4).u16(0).u16(0);
        const fill = w.sizeField(2);
        w.u16(ALG.RSA).u16(ALG.SHA256).u32(0x00030072).u16(0);
        w.u16(ALG.AES).u16(128).u16(ALG.CFB).u16(ALG.NULL).u16(2048).u32(0).u16(0);
        fill();
        w.u16(0).u32(0);
      },
    });
    const m = decodeCommand(rsa);
    expect(m.hasProblems).toBe(false);
    expect(find(m, 'type')?.value).toBe('TPM_ALG_RSA (0x0001)');
    expect(find(m, 'keyBits')?.value).toBe('128 (0x0080)'); // the AES key of the symmetric, first
    expect(find(m, 'exponent')?.value).toBe('0 (the default, 65537)');
    expect(
      walkNodes(m.nodes)
        .filter((x) => x.node.label === 'keyBits')
        .map((x) => x.node.value),
    ).toEqual(['128 (0x0080)', '2048 (0x0800)']);
    const read = decodeCommand(nvRead(0x01500000, 8));
    expect(find(read, 'handle 2')?.value).toBe('NV index 0x01500000');
    const params = read.nodes.find((n) => n.label === 'parameters');
    expect(params?.children.map((c) => `${c.label} = ${c.value}`)).toEqual([
      'size = 8 (0x0008)',
      'offset = 0 (0x0000)',
    ]);
  });

  it('marks a command cut short: the field that does not fit is truncated, the rest missing', () => {
    const full = createPrimaryEcc();
    const m = decodeCommand(full.subarray(0, 12));
    expect(m.hasProblems).toBe(true);
    expect(find(m, 'commandSize')?.problem).toBe(`says ${full.length} bytes; 12 are here`);
    expect(find(m, 'handle 1')).toMatchObject({
      start: 10,
      end: 12,
      problem: 'truncated: needs 4 bytes, 2 left',
    });
    expect(find(m, 'authorizationSize')?.problem).toBe('missing: the bytes end before this field');
    checkShape(m, full.subarray(0, 12));
  });

  it('marks bytes after commandSize and an unknown command code', () => {
    const m = decodeCommand(fromHex('8001 0000000c 0000017b 0008 ffff'));
    expect(m.nodes.at(-1)).toMatchObject({ label: 'after commandSize', start: 12, end: 14 });
    const unknown = decodeCommand(fromHex('8001 0000000e 000001ff 01020304'));
    expect(find(unknown, 'commandCode')?.value).toBe('0x000001ff (unknown command)');
    expect(unknown.nodes[1]?.value).toBe('4 bytes (layout of this command unknown)');
  });

  it('infers the handle count of an unknown command from the authorization size', () => {
    const bytes = buildCommand({
      code: 0x20000001,
      handles: [0x80000001],
      sessions: [{ handle: 0x40000009 }],
    });
    const m = decodeCommand(bytes);
    expect(find(m, 'handles')?.value).toBe('1 (inferred from the sizes)');
    expect(find(m, 'sessionHandle')?.value).toBe('TPM_RS_PW (0x40000009)');
  });

  it('gives the command code for the response decoder', () => {
    expect(commandCodeOf(createPrimaryEcc())).toBe(CC.CreatePrimary);
    expect(commandCodeOf(new Uint8Array(9))).toBeNull();
    expect(commandCodeOf(null)).toBeNull();
  });
});

describe('decodeResponse', () => {
  it('reads CreatePrimary’s response from the engine: handle, parameterSize, outPublic, session', () => {
    const tpm = startedTpm();
    const bytes = tpm.execute(createPrimaryEcc()).response;
    const m = decodeResponse(bytes, CC.CreatePrimary);
    expect(m.summary).toBe(`Response to TPM2_CreatePrimary: TPM_RC_SUCCESS, ${bytes.length} bytes`);
    expect(m.hasProblems).toBe(false);
    expect(m.nodes.map((n) => n.label)).toEqual(['header', 'handle', 'parameters', 'authorization area']);
    expect(find(m, 'handle')?.value).toBe('transient object 0x80000000');
    expect(find(m, 'outPublic')?.children.map((c) => c.label)).toEqual([
      'size',
      'type',
      'nameAlg',
      'objectAttributes',
      'authPolicy',
      'symmetric',
      'scheme',
      'curveID',
      'kdf',
      'unique.x',
      'unique.y',
    ]);
    expect(find(m, 'unique.x')?.value).toBe('32 bytes');
    expect(find(m, 'creationTicket')?.children[0]?.value).toBe('TPM_ST_CREATION (0x8021)');
    expect(find(m, 'session 1')).toBeDefined();
    checkShape(m, bytes);
  });

  it('reads GetRandom’s bytes and an error response’s code fields', () => {
    const tpm = startedTpm();
    const random = decodeResponse(tpm.execute(getRandom(8)).response, CC.GetRandom);
    expect(find(random, 'randomBytes')?.value).toBe('8 bytes');
    const error = decodeResponse(tpm.execute(fromHex('8001 0000000a 0000017b')).response, CC.GetRandom);
    expect(error.summary).toBe('Response to TPM2_GetRandom: TPM_RC_INSUFFICIENT (parameter 1), 10 bytes');
    const rc = find(error, 'responseCode');
    expect(rc?.children.map((c) => `${c.label} = ${c.value}`)).toEqual([
      'E (bits 5:0) = 26: error number: TPM_RC_INSUFFICIENT',
      'P (bit 6) = 1: the number is a parameter',
      'F (bit 7) = 1: format-one',
      'N (bits 11:8) = 1: parameter 1',
    ]);
    expect(rc?.children[0]).toMatchObject({ start: 8, end: 10 });
  });

  it('marks a response that lost a byte in the FIFO (the 2011 case): sizes no longer add up', () => {
    const tpm = startedTpm();
    const truth = tpm.execute(createPrimaryEcc()).response;
    const lost = new Uint8Array([...truth.subarray(0, 40), ...truth.subarray(41), 0xff]);
    const m = decodeResponse(lost, CC.CreatePrimary);
    expect(m.hasProblems).toBe(true);
    checkShape(m, lost);
  });
});

describe('OBJECT_ATTRIBUTE_BITS', () => {
  it('is the engine’s TPMA_OBJECT table', () => {
    expect(OBJECT_ATTRIBUTE_BITS).toEqual(OBJECT_ATTR);
  });
});

describe('decodeResponseCode', () => {
  it('names the format-zero fields of a warning (TPM_RC_RETRY)', () => {
    const d = decodeResponseCode(RC.RETRY);
    expect(d).toMatchObject({ name: 'TPM_RC_RETRY', format: 'format-0' });
    expect(d.fields.map((f) => [f.name, f.value])).toEqual([
      ['E', 0x22],
      ['F', 0],
      ['V', 1],
      ['T', 0],
      ['S', 1],
    ]);
  });

  it('names the session of a format-one code, success, and a TPM 1.2 code', () => {
    expect(decodeResponseCode(rcSession(RC.AUTH_FAIL, 1)).fields.at(-1)?.meaning).toBe('session 1');
    expect(decodeResponseCode(rcParam(RC.VALUE, 2)).name).toBe('TPM_RC_VALUE (parameter 2)');
    expect(decodeResponseCode(0)).toEqual({ rc: 0, name: 'TPM_RC_SUCCESS', format: 'success', fields: [] });
    expect(decodeResponseCode(0x1e).format).toBe('tpm12');
  });
});

describe('the decoder never throws (properties)', () => {
  const tpm = startedTpm();
  const samples = [createPrimaryEcc(), pcrExtendSha256(0, new Uint8Array(32)), getRandom(16)];
  const responses = samples.map((c) => ({ code: commandCodeOf(c), bytes: tpm.execute(c).response }));

  /** Real messages with bytes cut, flipped, inserted or dropped: the malformed inputs a cut makes. */
  const mutated = (bases: Uint8Array[]) =>
    fc
      .tuple(
        fc.constantFrom(...bases),
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('cut', 'flip', 'insert', 'drop')), {
          maxLength: 4,
        }),
      )
      .map(([base, edits]) => {
        let b = Array.from(base);
        for (const [at, v, op] of edits) {
          const i = b.length === 0 ? 0 : at % b.length;
          if (op === 'cut') b = b.slice(0, i);
          else if (op === 'flip' && b.length) b[i] = v;
          else if (op === 'insert') b.splice(i, 0, v);
          else b.splice(i, 1);
        }
        return new Uint8Array(b);
      });

  it('decodes any bytes as a command, tiling them, without the fallback', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated(samples)), (bytes) => {
        const m = decodeCommand(bytes);
        checkShape(m, bytes);
        expect(walkNodes(m.nodes).some((x) => x.node.problem?.startsWith('could not decode'))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes any bytes as a response to any command, tiling them, without the fallback', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated(responses.map((r) => r.bytes))),
        fc.constantFrom(
          null,
          CC.CreatePrimary,
          CC.GetRandom,
          CC.PCR_Extend,
          CC.PCR_Read,
          CC.ReadClock,
          CC.StartAuthSession,
          0x1ff,
        ),
        (bytes, code) => {
          const m = decodeResponse(bytes, code);
          checkShape(m, bytes);
          expect(walkNodes(m.nodes).some((x) => x.node.problem?.startsWith('could not decode'))).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
