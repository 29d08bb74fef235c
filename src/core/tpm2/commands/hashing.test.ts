// Hash, HashSequenceStart, SequenceUpdate, SequenceComplete and EventSequenceComplete. Response codes,
// ticket shapes and the ticket-safety rules were observed from swtpm 0.7.1 (libtpms 0.9.2) with the same
// command bytes; ticket digests depend on the hierarchy proofs, so they are recomputed here from the
// engine's proofs with node:crypto.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCommand, parseResponse, pwSession, type SessionSpec } from '../build';
import { ALG, CC, RH, ST, SU } from '../constants';
import { Tpm2Engine } from '../engine';
import { fromHex, hex } from '../marshal';
import { RC } from '../rc';

const NODE_NAME: Record<number, string> = {
  [ALG.SHA1]: 'sha1',
  [ALG.SHA256]: 'sha256',
  [ALG.SHA384]: 'sha384',
};
const SIZE: Record<number, number> = { [ALG.SHA1]: 20, [ALG.SHA256]: 32, [ALG.SHA384]: 48 };
const enc = (s: string) => new TextEncoder().encode(s);

function h(alg: number, ...parts: Uint8Array[]): Uint8Array {
  const x = createHash(NODE_NAME[alg]!);
  for (const p of parts) x.update(p);
  return new Uint8Array(x.digest());
}

function started(seed = 'hash'): Tpm2Engine {
  const tpm = new Tpm2Engine({ seed });
  expect(tpm.execute(buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) })).rc).toBe(0);
  return tpm;
}

interface Ticket {
  tag: number;
  hierarchy: number;
  digest: string;
}

/** The expected hashcheck ticket digest: HMAC-SHA512(proof, TPM_ST_HASHCHECK || hashAlg || digest). */
function expectedTicket(tpm: Tpm2Engine, hierarchy: number, alg: number, d: Uint8Array): string {
  const m = createHmac('sha512', tpm.ctx.hierarchyProof(hierarchy));
  m.update(Uint8Array.of(ST.HASHCHECK >> 8, ST.HASHCHECK & 0xff, alg >> 8, alg & 0xff));
  m.update(d);
  return m.digest('hex');
}

function hashCmd(data: Uint8Array, alg: number, hierarchy: number): Uint8Array {
  return buildCommand({ code: CC.Hash, params: (w) => w.tpm2b(data).u16(alg).u32(hierarchy) });
}

function hashOf(tpm: Tpm2Engine, data: Uint8Array, alg: number, hierarchy: number = RH.NULL) {
  const res = tpm.execute(hashCmd(data, alg, hierarchy));
  expect(res.rc).toBe(0);
  const r = parseResponse(res.response).body;
  const outHash = hex(r.tpm2b(64));
  const ticket: Ticket = { tag: r.u16(), hierarchy: r.u32(), digest: hex(r.tpm2b(64)) };
  expect(r.remaining).toBe(0);
  return { outHash, ticket };
}

function startSeq(tpm: Tpm2Engine, alg: number, auth = new Uint8Array(0)): { rc: number; handle: number } {
  const res = tpm.execute(
    buildCommand({ code: CC.HashSequenceStart, params: (w) => w.tpm2b(auth).u16(alg) }),
  );
  if (res.rc !== 0) return { rc: res.rc, handle: 0 };
  const r = parseResponse(res.response).body;
  return { rc: 0, handle: r.u32() };
}

function updateCmd(handle: number, data: Uint8Array, session: SessionSpec = pwSession()): Uint8Array {
  return buildCommand({
    code: CC.SequenceUpdate,
    handles: [handle],
    sessions: [session],
    params: (w) => w.tpm2b(data),
  });
}

function completeCmd(handle: number, data: Uint8Array, hierarchy: number, session = pwSession()): Uint8Array {
  return buildCommand({
    code: CC.SequenceComplete,
    handles: [handle],
    sessions: [session],
    params: (w) => w.tpm2b(data).u32(hierarchy),
  });
}

function complete(
  tpm: Tpm2Engine,
  handle: number,
  data: Uint8Array,
  hierarchy: number,
  session = pwSession(),
) {
  const res = tpm.execute(completeCmd(handle, data, hierarchy, session));
  expect(res.rc).toBe(0);
  const r = parseResponse(res.response).body;
  r.u32(); // parameterSize
  const result = hex(r.tpm2b(64));
  const ticket: Ticket = { tag: r.u16(), hierarchy: r.u32(), digest: hex(r.tpm2b(64)) };
  return { result, ticket };
}

function eventCompleteCmd(pcr: number, handle: number, data: Uint8Array): Uint8Array {
  return buildCommand({
    code: CC.EventSequenceComplete,
    handles: [pcr, handle],
    sessions: [pwSession(), pwSession()],
    params: (w) => w.tpm2b(data),
  });
}

function readPcr(tpm: Tpm2Engine, alg: number, pcr: number): string {
  const sel = [0, 0, 0];
  sel[pcr >> 3] = 1 << (pcr & 7);
  const res = tpm.execute(
    buildCommand({ code: CC.PCR_Read, params: (w) => w.u32(1).u16(alg).u8(3).bytes(Uint8Array.from(sel)) }),
  );
  const r = parseResponse(res.response).body;
  r.u32();
  r.u32();
  r.u16();
  r.bytes(r.u8());
  r.u32();
  return hex(r.tpm2b(64));
}

const NULL_TICKET: Ticket = { tag: ST.HASHCHECK, hierarchy: RH.NULL, digest: '' };

describe('Hash', () => {
  it('gives the known answers for sha1, sha256 and sha384', () => {
    const tpm = started();
    const abc = enc('abc');
    expect(hashOf(tpm, abc, ALG.SHA1).outHash).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(hashOf(tpm, abc, ALG.SHA256).outHash).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashOf(tpm, abc, ALG.SHA384).outHash).toBe(
      'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
    );
    expect(hashOf(tpm, new Uint8Array(0), ALG.SHA256).outHash).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(hashOf(tpm, new Uint8Array(1024).fill(0x5a), ALG.SHA1).outHash).toBe(
      hex(h(ALG.SHA1, new Uint8Array(1024).fill(0x5a))),
    );
  });

  it('returns the NULL ticket for TPM_RH_NULL', () => {
    const tpm = started();
    expect(hashOf(tpm, enc('abc'), ALG.SHA256, RH.NULL).ticket).toEqual(NULL_TICKET);
    // Byte for byte as swtpm 0.7.1 answers.
    expect(hex(tpm.execute(hashCmd(enc('abc'), ALG.SHA256, RH.NULL)).response)).toBe(
      '800100000034000000000020ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad8024400000070000',
    );
  });

  it('tickets owner, endorsement and platform hashes with an HMAC-SHA512 over the proof', () => {
    const tpm = started();
    for (const [hier, alg, data] of [
      [RH.OWNER, ALG.SHA256, enc('abc')],
      [RH.ENDORSEMENT, ALG.SHA1, enc('ab')], // shorter than TPM_GENERATED_VALUE: still ticketed by Hash
      [RH.PLATFORM, ALG.SHA384, new Uint8Array(0)],
    ] as const) {
      const { outHash, ticket } = hashOf(tpm, data, alg, hier);
      // swtpm's tickets carry a 64-octet digest (CONTEXT_INTEGRITY_HASH_ALG is SHA-512 in libtpms 0.9).
      expect(ticket).toEqual({
        tag: ST.HASHCHECK,
        hierarchy: hier,
        digest: expectedTicket(tpm, hier, alg, fromHex(outHash)),
      });
      expect(ticket.digest).toHaveLength(128);
    }
    // Different hierarchies key the ticket differently.
    const owner = hashOf(tpm, enc('abc'), ALG.SHA256, RH.OWNER).ticket.digest;
    const endorsement = hashOf(tpm, enc('abc'), ALG.SHA256, RH.ENDORSEMENT).ticket.digest;
    expect(owner).not.toBe(endorsement);
  });

  it('does not ticket data that starts with TPM_GENERATED_VALUE', () => {
    const tpm = started();
    // Observed from swtpm 0.7.1: ff544347 and ff54434700 get the NULL ticket, ff5443 a real one.
    expect(hashOf(tpm, fromHex('ff544347'), ALG.SHA256, RH.OWNER).ticket).toEqual(NULL_TICKET);
    expect(hashOf(tpm, fromHex('ff54434700'), ALG.SHA384, RH.OWNER).ticket).toEqual(NULL_TICKET);
    expect(hashOf(tpm, fromHex('ff5443'), ALG.SHA256, RH.OWNER).ticket.hierarchy).toBe(RH.OWNER);
  });

  it('answers bad parameters like swtpm', () => {
    const tpm = started();
    const abc = enc('abc');
    // Observed from swtpm 0.7.1.
    expect(tpm.execute(hashCmd(abc, ALG.SHA256, RH.LOCKOUT)).rc).toBe(0x3c4);
    expect(tpm.execute(hashCmd(abc, ALG.SHA256, 0x40000002)).rc).toBe(0x3c4);
    expect(tpm.execute(hashCmd(abc, ALG.NULL, RH.NULL)).rc).toBe(0x2c3);
    expect(tpm.execute(hashCmd(abc, 0x0099, RH.NULL)).rc).toBe(0x2c3);
    expect(tpm.execute(hashCmd(new Uint8Array(1025), ALG.SHA256, RH.NULL)).rc).toBe(0x1d5);
    expect(tpm.execute(buildCommand({ code: CC.Hash, params: fromHex('0003616263000b') })).rc).toBe(0x3da);
    // libtpms has SHA-512 (swtpm answers it); this engine does not.
    expect(tpm.execute(hashCmd(abc, ALG.SHA512, RH.NULL)).rc).toBe(0x2c3);
  });

  it('costs more for more data', () => {
    const tpm = started();
    const small = tpm.execute(hashCmd(new Uint8Array(1), ALG.SHA256, RH.NULL)).durationNs;
    const large = tpm.execute(hashCmd(new Uint8Array(1024), ALG.SHA256, RH.NULL)).durationNs;
    expect(large).toBeGreaterThan(small);
  });
});

describe('hash sequences', () => {
  it('start/update/complete equals the one-shot Hash, ticket included', () => {
    const tpm = started();
    const part1 = enc('The quick brown fox ');
    const part2 = new Uint8Array(1024).fill(0x61);
    const part3 = enc('jumps over the lazy dog');
    const whole = new Uint8Array([...part1, ...part2, ...part3]);
    for (const alg of [ALG.SHA1, ALG.SHA256, ALG.SHA384]) {
      const { rc, handle } = startSeq(tpm, alg);
      expect(rc).toBe(0);
      expect(handle).toBe(0x80000000);
      expect(tpm.execute(updateCmd(handle, part1)).rc).toBe(0);
      expect(tpm.execute(updateCmd(handle, part2)).rc).toBe(0);
      const { result, ticket } = complete(tpm, handle, part3, RH.OWNER);
      expect(result).toBe(hex(h(alg, whole)));
      expect(result).toHaveLength(SIZE[alg]! * 2);
      expect(ticket).toEqual({
        tag: ST.HASHCHECK,
        hierarchy: RH.OWNER,
        digest: expectedTicket(tpm, RH.OWNER, alg, h(alg, whole)),
      });
    }
    // Same data, one buffer: Hash and a sequence agree on the ticket.
    const { handle } = startSeq(tpm, ALG.SHA256);
    const seq = complete(tpm, handle, enc('abcd'), RH.OWNER);
    const oneShot = hashOf(tpm, enc('abcd'), ALG.SHA256, RH.OWNER);
    expect(seq).toEqual({ result: oneShot.outHash, ticket: oneShot.ticket });
  });

  it('judges ticket safety by the first block, where a short block is unsafe', () => {
    const tpm = started();
    const run = (blocks: string[], last: string, hierarchy: number = RH.OWNER) => {
      const { handle } = startSeq(tpm, ALG.SHA256);
      for (const b of blocks) expect(tpm.execute(updateCmd(handle, fromHex(b))).rc).toBe(0);
      return complete(tpm, handle, fromHex(last), hierarchy).ticket;
    };
    // Observed from swtpm 0.7.1 for each of these sequences.
    expect(run(['61626364'], '').hierarchy).toBe(RH.OWNER);
    expect(run([], '61626364').hierarchy).toBe(RH.OWNER);
    expect(run([], '616263')).toEqual(NULL_TICKET); // unlike TPM2_Hash
    expect(run(['6162'], '6364')).toEqual(NULL_TICKET);
    expect(run([''], '61626364')).toEqual(NULL_TICKET); // an empty first update is the first block
    expect(run(['ff544347'], '')).toEqual(NULL_TICKET);
    expect(run([], 'ff54434711')).toEqual(NULL_TICKET);
    expect(run(['61626364', 'ff544347'], '').hierarchy).toBe(RH.OWNER); // only the first block counts
    expect(run(['61626364'], '', RH.NULL)).toEqual(NULL_TICKET);
  });

  it('occupies transient slots: a fourth is TPM_RC_OBJECT_MEMORY, completion frees the slot', () => {
    const tpm = started();
    expect([0, 1, 2].map(() => startSeq(tpm, ALG.SHA256).handle)).toEqual([
      0x80000000, 0x80000001, 0x80000002,
    ]);
    // Observed from swtpm 0.7.1: 0x902.
    expect(startSeq(tpm, ALG.SHA1).rc).toBe(RC.OBJECT_MEMORY);
    expect(startSeq(tpm, ALG.NULL).rc).toBe(RC.OBJECT_MEMORY);
    complete(tpm, 0x80000001, new Uint8Array(0), RH.NULL);
    expect(startSeq(tpm, ALG.SHA1).handle).toBe(0x80000001);
    // The completed sequence is gone: a later use is TPM_RC_REFERENCE_H0 (observed 0x910).
    complete(tpm, 0x80000000, new Uint8Array(0), RH.NULL);
    expect(tpm.execute(updateCmd(0x80000000, new Uint8Array(0))).rc).toBe(0x910);
  });

  it('checks the sequence authValue (DA-exempt: TPM_RC_BAD_AUTH), trailing zeros ignored', () => {
    const tpm = started();
    const { handle } = startSeq(tpm, ALG.SHA256, enc('pw'));
    // Observed from swtpm 0.7.1: 0x9a2 for a wrong password on a sequence.
    expect(tpm.execute(updateCmd(handle, enc('x'), pwSession('bad'))).rc).toBe(0x9a2);
    expect(tpm.execute(updateCmd(handle, enc('x'), pwSession(''))).rc).toBe(0x9a2);
    expect(tpm.execute(updateCmd(handle, enc('ab'), pwSession('pw'))).rc).toBe(0);
    expect(tpm.execute(updateCmd(handle, enc('cd'), pwSession(Uint8Array.of(0x70, 0x77, 0, 0)))).rc).toBe(0);
    const res = tpm.execute(completeCmd(handle, new Uint8Array(0), RH.NULL, pwSession('pw')));
    expect(res.rc).toBe(0);
    expect(hex(parseResponse(res.response).body.bytes(38)).slice(12)).toBe(hex(h(ALG.SHA256, enc('abcd'))));
  });

  it('answers bad parameters and handles like swtpm', () => {
    const tpm = started();
    // Observed from swtpm 0.7.1.
    expect(startSeq(tpm, 0x0099).rc).toBe(0x2c3);
    expect(startSeq(tpm, 0x0012).rc).toBe(0x2c3);
    expect(startSeq(tpm, ALG.SHA256, new Uint8Array(65)).rc).toBe(0x1d5);
    const { handle } = startSeq(tpm, ALG.SHA256, new Uint8Array(64).fill(0x61));
    expect(handle).toBe(0x80000000);
    const pw = pwSession('a'.repeat(64));
    expect(tpm.execute(updateCmd(handle, new Uint8Array(1025), pw)).rc).toBe(0x1d5);
    expect(tpm.execute(updateCmd(handle, new Uint8Array(1024), pw)).rc).toBe(0);
    expect(tpm.execute(completeCmd(handle, new Uint8Array(0), RH.LOCKOUT, pw)).rc).toBe(0x2c4);
    expect(tpm.execute(completeCmd(handle, new Uint8Array(1025), RH.OWNER, pw)).rc).toBe(0x1d5);
    const truncated = buildCommand({
      code: CC.SequenceComplete,
      handles: [handle],
      sessions: [pw],
      params: fromHex('0000 4000'),
    });
    expect(tpm.execute(truncated).rc).toBe(0x2da);
    // Handles: beyond the three transient slots, a permanent or NV handle → TPM_RC_VALUE + H1; a
    // persistent handle that does not exist → TPM_RC_HANDLE + H1.
    expect(tpm.execute(updateCmd(0x80000005, new Uint8Array(0))).rc).toBe(0x184);
    expect(tpm.execute(updateCmd(RH.OWNER, new Uint8Array(0))).rc).toBe(0x184);
    expect(tpm.execute(updateCmd(0x01000000, new Uint8Array(0))).rc).toBe(0x184);
    expect(tpm.execute(updateCmd(0x81000000, new Uint8Array(0))).rc).toBe(0x18b);
    expect(tpm.execute(updateCmd(0x80000001, new Uint8Array(0))).rc).toBe(0x910);
    // With every slot taken, a persistent handle cannot even be loaded: 0x902.
    startSeq(tpm, ALG.SHA1);
    startSeq(tpm, ALG.SHA1);
    expect(tpm.execute(updateCmd(0x81000000, new Uint8Array(0))).rc).toBe(RC.OBJECT_MEMORY);
    // The sequence was not consumed by the refused commands.
    expect(complete(tpm, handle, new Uint8Array(0), RH.NULL, pw).result).toBe(
      hex(h(ALG.SHA256, new Uint8Array(1024))),
    );
  });

  it('refuses a loaded object that is not a sequence with TPM_RC_MODE, numbered as libtpms does', () => {
    const tpm = started();
    // A key in slot 0 (what CreatePrimary leaves there); only its handle and authValue matter here.
    tpm.ctx.vol.objects.push({
      handle: 0x80000000,
      hierarchy: RH.OWNER,
      publicArea: fromHex('0023000b00030472'),
      name: new Uint8Array(0),
      qualifiedName: new Uint8Array(0),
      authValue: new Uint8Array(0),
      sensitive: new Uint8Array(0),
    });
    const ev = startSeq(tpm, ALG.NULL).handle;
    // Observed from swtpm 0.7.1 with an ECC storage primary: 0x1c9, 0x189, 0x289.
    expect(tpm.execute(updateCmd(0x80000000, enc('a'))).rc).toBe(0x1c9);
    expect(tpm.execute(completeCmd(0x80000000, enc('a'), RH.NULL)).rc).toBe(0x189);
    expect(tpm.execute(eventCompleteCmd(0, 0x80000000, new Uint8Array(0))).rc).toBe(0x289);
    // ...and a sequence of the other kind likewise.
    expect(tpm.execute(completeCmd(ev, enc('a'), RH.NULL)).rc).toBe(0x189);
    const hs = startSeq(tpm, ALG.SHA256).handle;
    expect(tpm.execute(eventCompleteCmd(0, hs, new Uint8Array(0))).rc).toBe(0x289);
    // The sequence check comes before the locality check.
    expect(tpm.execute(eventCompleteCmd(17, hs, new Uint8Array(0))).rc).toBe(0x289);
  });
});

describe('event sequences', () => {
  it('hash with every bank and extend the PCR in EventSequenceComplete', () => {
    const tpm = started();
    const { handle } = startSeq(tpm, ALG.NULL);
    expect(tpm.execute(updateCmd(handle, enc('a'))).rc).toBe(0);
    const res = tpm.execute(eventCompleteCmd(3, handle, enc('bc')));
    expect(res.rc).toBe(0);
    const r = parseResponse(res.response).body;
    r.u32();
    const n = r.u32();
    const digests = Array.from({ length: n }, () => {
      const alg = r.u16();
      return [alg, hex(r.bytes(SIZE[alg]!))];
    });
    expect(digests).toEqual([ALG.SHA1, ALG.SHA256, ALG.SHA384].map((a) => [a, hex(h(a, enc('abc')))]));
    for (const alg of [ALG.SHA1, ALG.SHA256, ALG.SHA384]) {
      expect(readPcr(tpm, alg, 3)).toBe(hex(h(alg, new Uint8Array(SIZE[alg]!), h(alg, enc('abc')))));
    }
    // Flushed on completion.
    expect(tpm.execute(updateCmd(handle, enc('a'))).rc).toBe(0x910);
  });

  it('checks the PCR locality, and with TPM_RH_NULL only hashes', () => {
    const tpm = started();
    const { handle } = startSeq(tpm, ALG.NULL);
    // Observed from swtpm 0.7.1: 0x907, and the sequence survives the refusal.
    expect(tpm.execute(eventCompleteCmd(17, handle, new Uint8Array(0))).rc).toBe(RC.LOCALITY);
    expect(tpm.execute(eventCompleteCmd(17, handle, new Uint8Array(0)), { locality: 2 }).rc).toBe(0);
    expect(readPcr(tpm, ALG.SHA256, 17)).toBe(
      hex(h(ALG.SHA256, new Uint8Array(32).fill(0xff), h(ALG.SHA256))),
    );
    const second = startSeq(tpm, ALG.NULL).handle;
    expect(tpm.execute(eventCompleteCmd(RH.NULL, second, enc('x'))).rc).toBe(0);
    expect(readPcr(tpm, ALG.SHA256, 0)).toBe('00'.repeat(32));
  });

  it('needs both authorizations', () => {
    const tpm = started();
    const { handle } = startSeq(tpm, ALG.NULL, enc('pw'));
    const cmd = (sessions: SessionSpec[]) =>
      buildCommand({
        code: CC.EventSequenceComplete,
        handles: [0, handle],
        sessions,
        params: (w) => w.u16(0),
      });
    // Observed from swtpm 0.7.1: one session is TPM_RC_AUTH_MISSING, a wrong sequence password 0xaa2.
    expect(tpm.execute(cmd([pwSession()])).rc).toBe(RC.AUTH_MISSING);
    expect(tpm.execute(cmd([pwSession(), pwSession('x')])).rc).toBe(0xaa2);
    expect(tpm.execute(cmd([pwSession('x'), pwSession('pw')])).rc).toBe(0x9a2);
    expect(tpm.execute(cmd([pwSession(), pwSession('pw')])).rc).toBe(0);
  });
});
