// The real tpm2-tools 5.4 against `tislab tpm-server`, through the TSS's swtpm TCTI
// (-T swtpm:host=127.0.0.1,port=P: one connection per command, SET_LOCALITY on the control channel).
// scripts/ensure-test-tools.mjs installs the tools before `npm run test:unit`.
//
// Every expectation was checked by running the same tool against swtpm 0.7.1 / libtpms 0.9.2 by hand
// ("observed"); values that come from the TPM's seeds (keys, names, HMACs) differ by design.
//
// tpm2-tools 5.4 authorizes hierarchies, NV indices and PCR events with an HMAC session it starts
// itself, even for an empty password (tpm2_auth_util_from_optarg): an unbound, unsalted SHA-256 session
// without parameter encryption, flushed after the command. `-c file` saves the object with ContextSave
// and later tools load it with ContextLoad.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ctrlRequest, SwtpmDevice } from '../core/swtpm';
import { fromHex, hex } from '../core/tpm2/marshal';
import type { TpmServer } from './tpm-server';
import { ctrlOnce, startOnFreePort } from './tpm-test-utils';

const SEED = 'tpm2-tools';
const TOOL_TIMEOUT_MS = 15_000;

interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

let server: TpmServer;
let dir: string;

beforeEach(async () => {
  server = await startOnFreePort({ seed: SEED });
  dir = mkdtempSync(join(tmpdir(), 'tislab-tpm2-tools-'));
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function tool(name: string, ...args: string[]): Promise<ToolResult> {
  const tcti = `swtpm:host=127.0.0.1,port=${server.port}`;
  return new Promise((resolve) => {
    execFile(
      name,
      ['-T', tcti, ...args],
      { cwd: dir, timeout: TOOL_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a tool that must succeed; its stdout. */
async function ok(name: string, ...args: string[]): Promise<string> {
  const r = await tool(name, ...args);
  expect(r, `${name} ${args.join(' ')}`).toMatchObject({ code: 0 });
  return r.stdout;
}

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  parts.forEach((p) => h.update(p));
  return new Uint8Array(h.digest());
};

describe('tpm2-tools 5.4 against tislab tpm-server', () => {
  it('tpm2_startup and tpm2_getrandom: the bytes a device with the same seed gives', async () => {
    await ok('tpm2_startup', '-c');
    // A second Startup is TPM_RC_INITIALIZE, which tpm2_startup accepts (observed: exit 0 on swtpm too).
    await ok('tpm2_startup', '-c');
    const random = await ok('tpm2_getrandom', '8', '--hex');
    const dev = new SwtpmDevice({ seed: SEED });
    dev.handleCommand(fromHex('80010000000c000001440000'));
    const expected = dev.handleCommand(fromHex('80010000000c0000017b0008')).response.subarray(12);
    expect(random).toBe(hex(expected));
  });

  it('tpm2_pcrextend, tpm2_pcrread and tpm2_pcrreset on PCR 16', async () => {
    await ok('tpm2_startup', '-c');
    const digest = sha256(new TextEncoder().encode('tislab'));
    await ok('tpm2_pcrextend', `16:sha256=${hex(digest)}`);
    const expected = hex(sha256(new Uint8Array(32), digest)).toUpperCase();
    expect(await ok('tpm2_pcrread', 'sha256:16')).toBe(`  sha256:\n    16: 0x${expected}\n`);
    await ok('tpm2_pcrreset', '16');
    expect(await ok('tpm2_pcrread', 'sha256:16')).toBe(`  sha256:\n    16: 0x${'0'.repeat(64)}\n`);
  });

  it('tpm2_hash: the digest, and a hash-check ticket from the owner hierarchy', async () => {
    await ok('tpm2_startup', '-c');
    const data = new TextEncoder().encode('hello from tislab');
    writeFileSync(join(dir, 'data'), data);
    const out = await ok('tpm2_hash', '-g', 'sha256', '--hex', '-t', 'ticket', 'data');
    expect(out).toBe(hex(sha256(data)));
    const ticket = readFileSync(join(dir, 'ticket'));
    // TPMT_TK_HASHCHECK: TPM_ST_HASHCHECK, TPM_RH_OWNER, a 64-byte HMAC (observed layout, 72 bytes).
    expect(ticket.length).toBe(72);
    expect(hex(ticket.subarray(0, 8))).toBe('8024400000010040');
  });

  it('tpm2_getcap: algorithms, commands, fixed properties and PCR banks', async () => {
    await ok('tpm2_startup', '-c');
    const algs = await ok('tpm2_getcap', 'algorithms');
    expect(algs).toMatch(
      /^sha256:\n {2}value: {6}0xB\n {2}asymmetric: 0\n {2}symmetric: {2}0\n {2}hash: {7}1\n/m,
    );
    expect(algs).toMatch(/^rsa:\n {2}value: {6}0x1\n {2}asymmetric: 1\n/m);
    expect(algs).toMatch(/^ecc:\n {2}value: {6}0x23\n {2}asymmetric: 1\n/m);
    const cmds = await ok('tpm2_getcap', 'commands');
    for (const cc of [
      'TPM2_CC_CreatePrimary',
      'TPM2_CC_PCR_Extend',
      'TPM2_CC_GetRandom',
      'TPM2_CC_NV_Read',
    ]) {
      expect(cmds).toMatch(new RegExp(`^${cc}:\\n`, 'm'));
    }
    expect(cmds).toMatch(/^TPM2_CC_GetRandom:\n {2}value: 0x17B\n {2}commandIndex: 0x17b\n/m);
    const fixed = await ok('tpm2_getcap', 'properties-fixed');
    expect(fixed).toContain('TPM2_PT_FAMILY_INDICATOR:\n  raw: 0x322E3000\n  value: "2.0"\n');
    expect(fixed).toContain('TPM2_PT_REVISION:\n  raw: 0xA4\n  value: 1.64\n');
    const pcrs = await ok('tpm2_getcap', 'pcrs');
    const all = Array.from({ length: 24 }, (_, i) => i).join(', ');
    expect(pcrs).toMatch(/^selected-pcrs:\n/);
    expect(pcrs).toContain(`  - sha256: [ ${all} ]\n`);
    expect(pcrs).toContain(`  - sha1: [ ${all} ]\n`);
  });

  it('tpm2_createprimary -c (ECC and RSA), tpm2_readpublic -c of the saved context, tpm2_flushcontext -t', async () => {
    await ok('tpm2_startup', '-c');
    const attrs =
      'attributes:\n  value: fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt\n';
    const created = await ok('tpm2_createprimary', '-C', 'o', '-G', 'ecc256', '-c', 'ecc.ctx');
    expect(created).toMatch(/^name-alg:\n {2}value: sha256\n {2}raw: 0xb\n/);
    expect(created).toContain('curve-id:\n  value: NIST p256\n  raw: 0x3\n');
    // The tool leaves the primary loaded (observed on swtpm too) and saved its context with ContextSave.
    expect(await ok('tpm2_getcap', 'handles-transient')).toBe('- 0x80000000\n');
    // tpm2-tools' context file: magic, version 1, then the TPMS_CONTEXT fields hierarchy (owner),
    // savedHandle 0x80000000 and sequence 1; the blob starts with a 64-octet integrity HMAC at 0x20 (the
    // layout of the file from swtpm, observed).
    const file = readFileSync(join(dir, 'ecc.ctx'));
    expect(hex(file.subarray(0, 24))).toBe('badcc0de000000014000000180000000' + '0000000000000001');
    expect(hex(file.subarray(32, 34))).toBe('0040');

    const ecc = await ok('tpm2_readpublic', '-c', 'ecc.ctx'); // ContextLoad into the next slot
    expect(ecc).toMatch(/^name: 000b[0-9a-f]{64}\n/);
    expect(ecc).toContain('type:\n  value: ecc\n  raw: 0x23\n');
    expect(ecc).toMatch(/^x: [0-9a-f]{64}\ny: [0-9a-f]{64}\n/m);
    expect(ecc).toContain(attrs);
    // The loaded context is the same key as the primary it was saved from.
    expect(await ok('tpm2_getcap', 'handles-transient')).toBe('- 0x80000000\n- 0x80000001\n');
    expect(await ok('tpm2_readpublic', '-c', '0x80000000')).toBe(ecc);
    await ok('tpm2_flushcontext', '-t');
    expect(await ok('tpm2_getcap', 'handles-transient')).toBe('');

    await ok('tpm2_createprimary', '-C', 'o', '-G', 'rsa2048', '-c', 'rsa.ctx');
    const rsa = await ok('tpm2_readpublic', '-c', 'rsa.ctx');
    expect(rsa).toContain('type:\n  value: rsa\n  raw: 0x1\n');
    expect(rsa).toContain('exponent: 65537\nbits: 2048\n');
    expect(rsa).toMatch(/^rsa: [0-9a-f]{512}\n?$/m);
    expect(rsa).toContain(
      'sym-alg:\n  value: aes\n  raw: 0x6\nsym-mode:\n  value: cfb\n  raw: 0x43\nsym-keybits: 128',
    );
    expect(rsa).toContain(attrs);
    // A third load fills the last slot; a fourth is TPM_RC_OBJECT_MEMORY (observed from swtpm: 0x902).
    await ok('tpm2_readpublic', '-c', 'ecc.ctx');
    const full = await tool('tpm2_readpublic', '-c', 'rsa.ctx');
    expect(full.code).not.toBe(0);
    expect(full.stderr).toContain('Esys_ContextLoad(0x902)');

    await ok('tpm2_flushcontext', '-t');
    expect(await ok('tpm2_getcap', 'handles-transient')).toBe('');
    // Observed from swtpm 0.7.1 as well: a flushed handle is TPM_RC_REFERENCE_H0 (0x910).
    const again = await tool('tpm2_flushcontext', '0x80000000');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('Esys_TR_FromTPMPublic(0x910)');
    // The tools flush their HMAC sessions: none is left loaded.
    expect(await ok('tpm2_getcap', 'properties-variable')).toContain('TPM2_PT_HR_LOADED: 0x0\n');
  });

  it('a saved context does not load after a TPM Reset (TPM_RC_INTEGRITY, observed from swtpm 0.7.1)', async () => {
    await ok('tpm2_startup', '-c');
    await ok('tpm2_createprimary', '-C', 'o', '-G', 'ecc256', '-c', 'ecc.ctx');
    expect(hex(await ctrlOnce(server.ctrlPort, ctrlRequest.init(0)))).toBe('00000000'); // power cycle
    await ok('tpm2_startup', '-c');
    const r = await tool('tpm2_readpublic', '-c', 'ecc.ctx');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Esys_ContextLoad(0x1DF)');
  });

  it('tpm2_nvdefine, nvwrite, nvread, nvincrement, nvreadpublic and nvundefine', async () => {
    await ok('tpm2_startup', '-c');
    const attributes = 'ownerwrite|authwrite|ownerread|authread';
    expect(await ok('tpm2_nvdefine', '0x1500016', '-C', 'o', '-s', '32', '-a', attributes)).toBe(
      'nv-index: 0x1500016\n',
    );
    await ok('tpm2_nvdefine', '0x1500017', '-C', 'o', '-s', '8', '-a', `${attributes}|nt=counter`);
    writeFileSync(join(dir, 'data'), 'tislab nv');
    await ok('tpm2_nvwrite', '0x1500016', '-C', 'o', '-i', 'data');
    expect(await ok('tpm2_nvread', '0x1500016', '-C', 'o', '-s', '9')).toBe('tislab nv');
    // The index is also readable with its own (empty) authValue.
    expect(await ok('tpm2_nvread', '0x1500016', '-C', '0x1500016', '-s', '6')).toBe('tislab');
    const counter = async () =>
      hex(new TextEncoder().encode(await ok('tpm2_nvread', '0x1500017', '-C', 'o', '-s', '8')));
    await ok('tpm2_nvincrement', '0x1500017', '-C', 'o');
    expect(await counter()).toBe('0000000000000001');
    await ok('tpm2_nvincrement', '0x1500017', '-C', 'o');
    expect(await counter()).toBe('0000000000000002');

    expect(await ok('tpm2_getcap', 'handles-nv-index')).toBe('- 0x1500016\n- 0x1500017\n');
    const pub = await ok('tpm2_nvreadpublic');
    // An NV name hashes the public area only: observed from swtpm 0.7.1 for the same definitions.
    expect(pub).toMatch(
      /^0x1500016:\n {2}name: 000be2d663da4fcf077ab479514b7c4db4191b9931cf9551f0b70af9193ff27599ca\n/,
    );
    expect(pub).toContain('name: 000be9dd9c554930d3afef33c1d827c17ff1c0d509a1f800445f21a30addde918233\n');
    expect(pub).toContain('  hash algorithm:\n    friendly: sha256\n    value: 0xB\n');
    expect(pub).toContain(
      '    friendly: ownerwrite|authwrite|ownerread|authread|written\n    value: 0x20060006\n  size: 32\n',
    );
    expect(pub).toContain('    friendly: ownerwrite|authwrite|nt=0x1|ownerread|authread|written\n');
    expect(pub).toMatch(/value: 0x20060016\n {2}size: 8\n/);

    await ok('tpm2_nvundefine', '0x1500016', '-C', 'o');
    expect(await ok('tpm2_getcap', 'handles-nv-index')).toBe('- 0x1500017\n');
  });

  it('NV authorization through HMAC sessions: index password, wrong password (codes as swtpm)', async () => {
    await ok('tpm2_startup', '-c');
    await ok('tpm2_nvdefine', '0x1500030', '-C', 'o', '-s', '8', '-p', 'idxpass', '-a', 'authread|authwrite');
    writeFileSync(join(dir, 'data'), '12345678');
    await ok('tpm2_nvwrite', '0x1500030', '-C', '0x1500030', '-P', 'idxpass', '-i', 'data');
    expect(await ok('tpm2_nvread', '0x1500030', '-C', '0x1500030', '-P', 'idxpass')).toBe('12345678');
    // Observed from swtpm 0.7.1: a DA-protected index 0x98e, the owner (DA-exempt) 0x9a2, and an owner
    // read of an index without OWNERREAD 0x149.
    const wrong = await tool('tpm2_nvread', '0x1500030', '-C', '0x1500030', '-P', 'wrong');
    expect(wrong.stderr).toContain('Esys_NV_Read(0x98E)');
    const owner = await tool('tpm2_nvdefine', '0x1500031', '-C', 'o', '-P', 'wrong', '-s', '8');
    expect(owner.stderr).toContain('Esys_NV_DefineSpace(0x9A2)');
    const noOwnerRead = await tool('tpm2_nvread', '0x1500030', '-C', 'o');
    expect(noOwnerRead.stderr).toContain('Esys_NV_Read(0x149)');
  });

  it('tpm2_pcrevent: the event digests in every bank, extended into the PCR', async () => {
    await ok('tpm2_startup', '-c');
    const data = new TextEncoder().encode('hi\n');
    writeFileSync(join(dir, 'data'), data);
    const digests = (alg: string) => createHash(alg).update(data).digest('hex');
    // The same digests as swtpm 0.7.1 prints for this file (swtpm also lists its sha512 bank, a bank this
    // engine does not allocate).
    expect(await ok('tpm2_pcrevent', '16', 'data')).toBe(
      `sha1: ${digests('sha1')}\nsha256: ${digests('sha256')}\nsha384: ${digests('sha384')}\n`,
    );
    const expected = hex(sha256(new Uint8Array(32), fromHex(digests('sha256')))).toUpperCase();
    expect(await ok('tpm2_pcrread', 'sha256:16')).toBe(`  sha256:\n    16: 0x${expected}\n`);
  });

  it('tpm2_shutdown saves the state: after CMD_INIT, tpm2_startup resumes with PCR 4 kept, PCR 16 reset', async () => {
    await ok('tpm2_startup', '-c');
    const digest = sha256(new TextEncoder().encode('resume'));
    await ok('tpm2_pcrextend', `4:sha256=${hex(digest)}`, `16:sha256=${hex(digest)}`);
    await ok('tpm2_shutdown'); // TPM2_Shutdown(STATE)
    expect(hex(await ctrlOnce(server.ctrlPort, ctrlRequest.init(0)))).toBe('00000000'); // power cycle
    await ok('tpm2_startup'); // TPM2_Startup(STATE): TPM Resume
    const extended = hex(sha256(new Uint8Array(32), digest)).toUpperCase();
    // Observed from swtpm 0.7.1: PCR 4 is restored, PCR 16 (debug) is not saved.
    expect(await ok('tpm2_pcrread', 'sha256:4,16')).toBe(
      `  sha256:\n    4 : 0x${extended}\n    16: 0x${'0'.repeat(64)}\n`,
    );
  });

  it('tpm2_selftest, tpm2_gettestresult and tpm2_readclock', async () => {
    await ok('tpm2_startup', '-c');
    await ok('tpm2_selftest', '-f');
    expect(await ok('tpm2_gettestresult')).toBe('status:   success\n');
    const clock = await ok('tpm2_readclock');
    // Observed from a fresh swtpm 0.7.1 after tpm2_startup -c: reset_count 1, restart_count 0.
    expect(clock).toMatch(
      /^time: \d+\nclock_info:\n {2}clock: \d+\n {2}reset_count: 1\n {2}restart_count: 0\n {2}safe: yes\n$/,
    );
  });

  it('the swtpm TCTI sets the locality over the control channel on every connection', async () => {
    await ok('tpm2_startup', '-c');
    expect(server.device.locality).toBe(0);
    expect(hex(await ctrlOnce(server.ctrlPort, ctrlRequest.setLocality(3)))).toBe('00000000');
    await ok('tpm2_getrandom', '4', '--hex');
    expect(server.device.locality).toBe(0);
  });
});
