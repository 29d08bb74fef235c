// The swtpm device against the real thing. Every hex string marked "observed" was read from swtpm 0.7.1 /
// libtpms 0.9.2 (`swtpm socket --tpm2 --flags not-need-init --tpmstate dir=...`) for the same requests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getBlob } from '../tpm2/blob';
import { buildCommand, parseResponse, pwSession } from '../tpm2/build';
import { CAP, CC } from '../tpm2/constants';
import { digest, hashByName } from '../tpm2/hash';
import { fromHex, hex } from '../tpm2/marshal';
import { RC } from '../tpm2/rc';
import { PCR_BANKS } from '../tpm2/state';
import { Tpm2Engine } from '../tpm2/engine';
import { MemoryStateStore, STATE_FILE, SwtpmDevice } from './device';
import {
  BLOB_TYPE,
  CMD,
  ctrlRequest,
  ctrlResponse,
  PTM_INIT_FLAG_DELETE_VOLATILE,
  PTM_STATE_FLAG_DECRYPTED,
} from './ioctl';
import { wrapMigrationBlob } from './nvstore';

const ctl = (dev: SwtpmDevice, req: Uint8Array | string): string =>
  hex(dev.handleControl(typeof req === 'string' ? fromHex(req) : req));
const run = (dev: SwtpmDevice, cmd: Uint8Array | string): Uint8Array =>
  dev.handleCommand(typeof cmd === 'string' ? fromHex(cmd) : cmd).response;
const rcOf = (response: Uint8Array): number => parseResponse(response).rc;

const STARTUP_CLEAR = '80010000000c000001440000';
const STARTUP_STATE = '80010000000c000001440001';
const GET_RANDOM_8 = '80010000000c0000017b0008';
const READ_CLOCK = '80010000000a00000181';
const getRandom = (n: number) => buildCommand({ code: CC.GetRandom, params: (w) => w.u16(n) });
const hashSequenceStart = () =>
  buildCommand({ code: CC.HashSequenceStart, params: (w) => w.tpm2b(new Uint8Array(0)).u16(0x000b) });
const pcrExtend = (pcr: number, byte: number) =>
  buildCommand({
    code: CC.PCR_Extend,
    handles: [pcr],
    sessions: [pwSession()],
    params: (w) => w.u32(1).u16(0x000b).bytes(new Uint8Array(32).fill(byte)),
  });
const pcrReadAll = () =>
  buildCommand({ code: CC.PCR_Read, params: (w) => w.u32(1).u16(0x000b).u8(3).u8(0xff).u8(0xff).u8(0xff) });

function device(seed: string | number = 'dev', store = new MemoryStateStore()): SwtpmDevice {
  return new SwtpmDevice({ seed, store });
}

function started(seed: string | number = 'dev'): SwtpmDevice {
  const dev = device(seed);
  expect(hex(run(dev, STARTUP_CLEAR))).toBe('80010000000a00000000');
  return dev;
}

function hashSequence(dev: SwtpmDevice, data: Uint8Array): string[] {
  return [
    ctl(dev, ctrlRequest.bare(CMD.HASH_START)),
    ctl(dev, ctrlRequest.hashData(data)),
    ctl(dev, ctrlRequest.bare(CMD.HASH_END)),
  ];
}

const ascii = (s: string) => new TextEncoder().encode(s);

describe('control channel layouts (observed from swtpm 0.7.1)', () => {
  it('GET_CAPABILITY, GET_CONFIG, SET_BUFFERSIZE and GET_TPMESTABLISHED answer byte for byte', () => {
    const dev = device();
    expect(ctl(dev, '00000001')).toBe('000000000000ffff');
    expect(ctl(dev, '0000000f')).toBe('0000000000000000');
    expect(ctl(dev, '00000011 00000000')).toBe('000000000000100000000af800001000');
    expect(ctl(dev, '00000004')).toBe('0000000000000000');
    // Setting the buffer size needs a stopped TPM; it is clamped to [2808, 4096].
    expect(ctl(dev, '00000011 00000b00')).toBe('0000000a');
    expect(ctl(dev, '0000000e')).toBe('00000000');
    expect(ctl(dev, '00000011 00000064')).toBe('0000000000000af800000af800001000');
    expect(ctl(dev, '00000011 00002710')).toBe('000000000000100000000af800001000');
    expect(ctl(dev, '00000004')).toBe('0000000a');
  });

  it('the established bit: set by HASH_START, reset only from locality 3 or 4', () => {
    const dev = started();
    hashSequence(dev, ascii('x'));
    expect(ctl(dev, '00000004')).toBe('0000000001000000');
    expect(ctl(dev, '0000000b 00')).toBe('0000003d');
    expect(ctl(dev, '0000000b 05')).toBe('0000003d');
    expect(ctl(dev, '00000004')).toBe('0000000001000000');
    expect(ctl(dev, '0000000b 04')).toBe('00000000');
    expect(ctl(dev, '00000004')).toBe('0000000000000000');
    hashSequence(dev, ascii('x'));
    expect(ctl(dev, '0000000b 03')).toBe('00000000');
    // The reset borrows the locality; the locality of TPM commands does not change.
    expect(dev.locality).toBe(0);
  });

  it('SET_LOCALITY accepts 0–4, unknown commands and LOCK_STORAGE are TPM_BAD_ORDINAL', () => {
    const dev = device();
    expect(ctl(dev, '00000005 05')).toBe('0000003d');
    expect(ctl(dev, '00000005 04')).toBe('00000000');
    expect(dev.locality).toBe(4);
    expect(ctl(dev, '00000005 00')).toBe('00000000');
    expect(ctl(dev, '00000013')).toBe('0000000a');
    expect(ctl(dev, '00000000')).toBe('0000000a');
    expect(ctl(dev, '000000ff')).toBe('0000000a');
    expect(ctl(dev, '00000009')).toBe('00000000'); // CANCEL_TPM_CMD
  });

  it('checks request lengths like ctrlchannel.c', () => {
    const dev = device();
    expect(ctl(dev, '0000000e 00')).toBe('00000003'); // STOP with a byte too many
    expect(dev.isRunning).toBe(true);
    expect(ctl(dev, '00000001 00')).toBe('000000000000ffff'); // GET_CAPABILITY ignores extra bytes
    expect(ctl(dev, '00000011 0000')).toBe('00000003'); // SET_BUFFERSIZE short
    expect(ctl(dev, '00000002 00000000 00000000')).toBe('00000003'); // INIT too long
    // Incomplete requests get no answer: swtpm waits, then drops the connection.
    expect(ctl(dev, '00000002 0000')).toBe('');
    expect(ctl(dev, '0000')).toBe('');
  });

  it('SET_DATAFD: TPM_IOERROR on a TCP server, accepted once when QEMU passes the data socket', () => {
    expect(ctl(device(), '00000010')).toBe('0000001f');
    const qemu = new SwtpmDevice({ seed: 1, dataChannel: 'datafd' });
    expect(ctl(qemu, '00000010')).toBe('00000000');
    expect(ctl(qemu, '00000010')).toBe('0000001f');
  });

  it('GET_INFO returns libtpms 0.9.2 information, from an offset, NUL-terminated', () => {
    const dev = device();
    const spec = '{"TPMSpecification":{"family":"2.0","level":0,"revision":164}}';
    expect(ctl(dev, ctrlRequest.getInfo(1))).toBe(`000000000000003f0000003f${hex(ascii(spec))}00`);
    expect(ctl(dev, ctrlRequest.getInfo(1, 5))).toBe(
      `000000000000003f0000003a${hex(ascii(spec.slice(5)))}00`,
    );
    expect(ctl(dev, ctrlRequest.getInfo(1, 62))).toBe('00000003');
    expect(ctl(dev, ctrlRequest.getInfo(8))).toBe(`0000000000000003000000037b7d00`);
    const all = ctrlResponse.info(dev.handleControl(ctrlRequest.getInfo(7)));
    expect(all.totLength).toBe(0xe2);
    expect(all.text).toBe(
      '{"TPMSpecification":{"family":"2.0","level":0,"revision":164},' +
        '"TPMAttributes":{"manufacturer":"id:00001014","version":"id:20191023","model":"swtpm"},' +
        '"TPMFeatures":{"RSAKeySizes":[1024,2048,3072],"CamelliaKeySizes":[128,256]}}',
    );
  });

  it('commands that need the TPM answer TPM_BAD_ORDINAL while it is stopped', () => {
    const dev = device();
    expect(ctl(dev, '0000000e')).toBe('00000000');
    for (const cmd of [
      CMD.GET_TPMESTABLISHED,
      CMD.STORE_VOLATILE,
      CMD.HASH_START,
      CMD.HASH_END,
      CMD.CANCEL_TPM_CMD,
    ]) {
      expect(ctl(dev, ctrlRequest.bare(cmd))).toBe('0000000a');
    }
    expect(ctl(dev, ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 1))).toBe('0000000a');
    expect(ctl(dev, ctrlRequest.hashData(ascii('abc')))).toBe('0000000a');
    // ... and the data channel answers TPM_RC_FAILURE.
    expect(hex(run(dev, STARTUP_CLEAR))).toBe('80010000000a00000101');
    expect(dev.handleCommand(fromHex(STARTUP_CLEAR)).durationNs).toBe(0);
  });

  it('SHUTDOWN ends the process: nothing answers afterwards', () => {
    const dev = started();
    expect(ctl(dev, '00000003')).toBe('00000000');
    expect(dev.terminated).toBe(true);
    expect(ctl(dev, '00000001')).toBe('');
    expect(run(dev, GET_RANDOM_8).length).toBe(0);
  });
});

describe('data channel', () => {
  it('commands larger than the buffer size are TPM_RC_COMMAND_SIZE after the tag check', () => {
    // Observed from swtpm 0.7.1 after SET_BUFFERSIZE 0xaf8 (2808): a 2808-byte GetRandom padded with zeros
    // is parsed (TPM_RC_SIZE for the left-over bytes), 2809 bytes are TPM_RC_COMMAND_SIZE, a bad tag
    // still wins, and an unknown command code does not get that far.
    const padded = (n: number, code: number = CC.GetRandom, tag = 0x8001) => {
      const b = new Uint8Array(n);
      const v = new DataView(b.buffer);
      v.setUint16(0, tag);
      v.setUint32(2, n);
      v.setUint32(6, code);
      v.setUint16(10, 8);
      return b;
    };
    const dev = device();
    expect(hex(run(dev, padded(4097)))).toBe('80010000000a00000142');
    ctl(dev, '0000000e');
    ctl(dev, '00000011 00000af8');
    expect(ctl(dev, '00000002 00000000')).toBe('00000000');
    expect(hex(run(dev, STARTUP_CLEAR))).toBe('80010000000a00000000');
    expect(hex(run(dev, padded(2808)))).toBe('80010000000a00000095');
    expect(hex(run(dev, padded(2809)))).toBe('80010000000a00000142');
    expect(hex(run(dev, padded(3000, CC.GetRandom, 0x8003)))).toBe('80010000000a00000084');
    expect(hex(run(dev, padded(3000, 0x1ff)))).toBe('80010000000a00000142');
    // The buffer size survives CMD_INIT, as libtpms' static does.
    expect(ctl(dev, '00000011 00000000')).toBe('0000000000000af800000af800001000');
  });

  it("the vTPM proxy's SET_LOCALITY command is refused with TPM_RC_FAILURE", () => {
    const dev = started();
    expect(hex(run(dev, '80010000000b2000100003'))).toBe('80010000000a00000101');
    expect(dev.locality).toBe(0);
  });

  it('a TCG send-command prefix sets the locality for good and wraps the response', () => {
    const dev = started();
    // Observed: 00000014 <GetRandom response> 00000000, and a plain PCR_Extend of PCR 17 (localities 2–4)
    // then succeeds, because the prefix's locality 3 stays.
    const cmd = fromHex(GET_RANDOM_8);
    const prefixed = Uint8Array.from([0, 0, 0, 8, 3, 0, 0, 0, cmd.length, ...cmd]);
    const out = run(dev, prefixed);
    expect(hex(out.subarray(0, 4))).toBe('00000014');
    expect(hex(out.subarray(4, 10))).toBe('800100000014');
    expect(hex(out.subarray(out.length - 4))).toBe('00000000');
    expect(dev.locality).toBe(3);
    expect(rcOf(run(dev, pcrExtend(17, 0x22)))).toBe(RC.SUCCESS);
  });

  it('a fresh device answers like a fresh engine with the same seed', () => {
    const dev = started('same');
    const engine = new Tpm2Engine({ seed: 'same' });
    engine.execute(fromHex(STARTUP_CLEAR));
    for (const cmd of [GET_RANDOM_8, READ_CLOCK, GET_RANDOM_8]) {
      const a = engine.execute(fromHex(cmd));
      const b = dev.handleCommand(fromHex(cmd));
      expect(rcOf(b.response)).toBe(RC.SUCCESS);
      expect(hex(b.response)).toBe(hex(a.response));
      expect(b.durationNs).toBe(a.durationNs);
    }
  });

  it('without not-need-init the TPM waits for CMD_INIT; startup-clear sends TPM2_Startup (observed)', () => {
    const store = new MemoryStateStore();
    const dev = new SwtpmDevice({ seed: 1, store, notNeedInit: false });
    expect(hex(run(dev, GET_RANDOM_8))).toBe('80010000000a00000101');
    expect(ctl(dev, '00000004')).toBe('0000000a');
    expect(ctl(dev, ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 1))).toBe('0000000a');
    expect(store.names()).toEqual([]);
    expect(ctl(dev, '00000002 00000000')).toBe('00000000');
    expect(store.names()).toEqual([STATE_FILE.permanent]);
    expect(hex(run(dev, GET_RANDOM_8))).toBe('80010000000a00000100');

    const auto = new SwtpmDevice({ seed: 1, startupClear: true });
    expect(rcOf(run(auto, GET_RANDOM_8))).toBe(RC.SUCCESS);
    expect(hex(run(auto, STARTUP_CLEAR))).toBe('80010000000a00000100');
  });
});

describe('power cycles and state files', () => {
  it('STORE_VOLATILE then CMD_INIT resumes without Startup; DELETE_VOLATILE removes the file', () => {
    const store = new MemoryStateStore();
    const dev = device('cycle', store);
    run(dev, STARTUP_CLEAR);
    run(dev, GET_RANDOM_8);
    expect(ctl(dev, '0000000a')).toBe('00000000');
    // Observed file layout: 02 01 000a 0000 <totlen> then TLV(TAG_DATA).
    const file = store.load(STATE_FILE.volatile)!;
    expect(hex(file.subarray(0, 6))).toBe('0201000a0000');
    expect(new DataView(file.buffer).getUint32(6)).toBe(file.length);
    expect(hex(file.subarray(10, 12))).toBe('0001');
    expect(ctl(dev, '00000002 00000000')).toBe('00000000');
    const first = hex(run(dev, GET_RANDOM_8));
    expect(rcOf(fromHex(first))).toBe(RC.SUCCESS);
    expect(store.names()).toContain(STATE_FILE.volatile);
    // Observed: INIT with DELETE_VOLATILE resumes from the same snapshot (the same random bytes again) ...
    expect(ctl(dev, '00000002 00000001')).toBe('00000000');
    expect(hex(run(dev, GET_RANDOM_8))).toBe(first);
    expect(store.names()).toEqual([STATE_FILE.permanent]);
    // ... and the next INIT finds no volatile state: the TPM needs TPM2_Startup.
    expect(ctl(dev, '00000002 00000000')).toBe('00000000');
    expect(hex(run(dev, GET_RANDOM_8))).toBe('80010000000a00000100');
  });

  it('a restarted swtpm on the same state directory keeps NV and resumes a stored volatile state', () => {
    const store = new MemoryStateStore();
    const a = device('restart', store);
    run(a, STARTUP_CLEAR);
    hashSequence(a, ascii('x'));
    run(a, GET_RANDOM_8);
    ctl(a, '0000000a');
    const expected = run(a, GET_RANDOM_8);
    ctl(a, '00000003');
    const b = device('restart', store);
    expect(hex(run(b, GET_RANDOM_8))).toBe(hex(expected));
    expect(b.engine.ctx.perm.resetCount).toBe(a.engine.ctx.perm.resetCount);
    // The established bit came back with the volatile state.
    expect(ctl(b, '00000004')).toBe('0000000001000000');
    // Without the volatile file a restart needs TPM2_Startup, and the established bit is clear.
    store.delete(STATE_FILE.volatile);
    const c = device('restart', store);
    expect(hex(run(c, GET_RANDOM_8))).toBe('80010000000a00000100');
    expect(ctl(c, '00000004')).toBe('0000000000000000');
  });

  it('CMD_STOP loses the volatile state; the next CMD_INIT needs Startup', () => {
    const dev = started();
    ctl(dev, '0000000e');
    expect(ctl(dev, '00000002 00000000')).toBe('00000000');
    expect(hex(run(dev, GET_RANDOM_8))).toBe('80010000000a00000100');
    expect(hex(run(dev, STARTUP_CLEAR))).toBe('80010000000a00000000');
  });

  it('a damaged tpm2-00.permall stops CMD_INIT, and a swtpm cannot start on it', () => {
    const store = new MemoryStateStore();
    const dev = device('damaged', store);
    const file = store.load(STATE_FILE.permanent)!;
    file[file.length - 1]! ^= 1;
    store.save(STATE_FILE.permanent, file);
    expect(ctl(dev, ctrlRequest.init(0))).toBe('00000101');
    expect(dev.isRunning).toBe(false);
    expect(dev.lastError).toMatch(/corrupt permanent-state blob/);
    expect(hex(run(dev, GET_RANDOM_8))).toBe('80010000000a00000101');
    expect(() => device('damaged', store)).toThrow(/could not initialize the TPM/);
  });

  it('NV changes reach tpm2-00.permall after the command that made them', () => {
    const store = new MemoryStateStore();
    const dev = device('nv', store);
    const before = hex(store.load(STATE_FILE.permanent)!);
    run(dev, STARTUP_CLEAR); // a TPM Reset increments resetCount
    expect(hex(store.load(STATE_FILE.permanent)!)).not.toBe(before);
    expect(hex(store.load(STATE_FILE.permanent)!.subarray(0, 6))).toBe('0201000a0000');
  });
});

describe('DRTM: HASH_START / HASH_DATA / HASH_END', () => {
  it('after Startup: PCRs 17–22 reset, PCR 17 extended with the digest, a restart counted (observed)', () => {
    const dev = started();
    run(dev, pcrExtend(16, 0x11));
    run(dev, pcrExtend(23, 0x11));
    const ctx = dev.engine.ctx;
    const pcr16 = hex(ctx.vol.pcrs.sha256[16]!);
    const pcr23 = hex(ctx.vol.pcrs.sha256[23]!);
    const counter = ctx.vol.pcrUpdateCounter;
    const restarts = ctx.vol.restartCount;
    expect(hashSequence(dev, ascii('hello'))).toEqual(['00000000', '00000000', '00000000']);
    expect(hex(ctx.vol.pcrs.sha256[17]!)).toBe(
      '9851312028952521510e8eaab5be94e7dc24b5fc292b2e9781173cf11ffa9878',
    );
    expect(hex(ctx.vol.pcrs.sha1[17]!)).toBe('00629997206c7d587b4ed79aabc3db58c32e1492');
    expect(hex(ctx.vol.pcrs.sha256[18]!)).toBe('00'.repeat(32));
    expect(hex(ctx.vol.pcrs.sha384[22]!)).toBe('00'.repeat(48));
    expect(hex(ctx.vol.pcrs.sha256[16]!)).toBe(pcr16);
    expect(hex(ctx.vol.pcrs.sha256[23]!)).toBe(pcr23);
    expect(ctx.vol.restartCount).toBe(restarts + 1);
    // One PCRExtend per bank: swtpm (four banks) counted +4; this engine has three.
    expect(ctx.vol.pcrUpdateCounter).toBe(counter + PCR_BANKS.length);
    const clock = parseResponse(run(dev, READ_CLOCK));
    clock.body.u64();
    clock.body.u64();
    clock.body.u32();
    expect(clock.body.u32()).toBe(restarts + 1);
  });

  it('hashes data of any size in one HASH_DATA (observed with 10000 bytes)', () => {
    const dev = started();
    hashSequence(dev, new Uint8Array(10000).fill(0x7a));
    expect(hex(dev.engine.ctx.vol.pcrs.sha256[17]!)).toBe(
      'c1eed6cedfeb0f6c0d98decb14a827efbd264e9a7e2037f9a8606bc52befd500',
    );
  });

  it('before Startup it is an H-CRTM: PCR 0 = 0…04 extended, kept by Startup(CLEAR), Startup(STATE) refused', () => {
    const dev = device();
    expect(run(dev, '80010000000c000001450001').length).toBe(10); // Shutdown before Startup: refused
    hashSequence(dev, ascii('hello'));
    expect(ctl(dev, '00000004')).toBe('0000000001000000');
    expect(hex(run(dev, STARTUP_STATE))).toBe('80010000000a000001c4');
    expect(hex(run(dev, STARTUP_CLEAR))).toBe('80010000000a00000000');
    expect(hex(dev.engine.ctx.vol.pcrs.sha256[0]!)).toBe(
      'c482c76841b9ad3783707f1c96d1bca7a0ff87d0191726d6cd84d04f5b2208f6',
    );
    const sha1 = hashByName('sha1');
    const expected = digest(sha1, Uint8Array.from([...new Uint8Array(19), 4]), digest(sha1, ascii('hello')));
    expect(hex(dev.engine.ctx.vol.pcrs.sha1[0]!)).toBe(hex(expected));
  });

  it('any TPM command ends the sequence; HASH_DATA/END without HASH_START do nothing', () => {
    const dev = started();
    const before = hex(dev.engine.ctx.vol.pcrs.sha256[17]!);
    ctl(dev, ctrlRequest.bare(CMD.HASH_START));
    ctl(dev, ctrlRequest.hashData(ascii('y')));
    run(dev, GET_RANDOM_8);
    expect(ctl(dev, ctrlRequest.bare(CMD.HASH_END))).toBe('00000000');
    expect(hex(dev.engine.ctx.vol.pcrs.sha256[17]!)).toBe(before);
    expect(ctl(dev, ctrlRequest.hashData(ascii('abc')))).toBe('00000000');
    expect(ctl(dev, ctrlRequest.bare(CMD.HASH_END))).toBe('00000000');
    expect(hex(dev.engine.ctx.vol.pcrs.sha256[17]!)).toBe(before);
  });

  it('HASH_START with every object slot taken flushes the lowest transient handle (observed)', () => {
    const dev = started();
    for (let i = 0; i < 3; i++) expect(rcOf(run(dev, hashSequenceStart()))).toBe(RC.SUCCESS);
    expect(rcOf(run(dev, hashSequenceStart()))).toBe(RC.OBJECT_MEMORY);
    hashSequence(dev, ascii('x'));
    const handles = run(
      dev,
      buildCommand({ code: CC.GetCapability, params: (w) => w.u32(CAP.HANDLES).u32(0x80000000).u32(10) }),
    );
    expect(hex(handles)).toBe('80010000001b000000000000000001000000028000000180000002');
  });
});

describe('state blobs over the control channel', () => {
  it('GET_STATEBLOB: 16-byte header with totlength = length, swtpm wrapping, offsets (observed layout)', () => {
    const dev = started();
    const whole = ctrlResponse.stateBlob(dev.handleControl(ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 1)));
    expect(whole.result).toBe(0);
    expect(whole.stateFlags).toBe(0);
    expect(whole.totLength).toBe(whole.length);
    expect(whole.data.length).toBe(whole.length);
    const v = new DataView(whole.data.buffer);
    // 02 01 000a 0004 <totlen> | 0004 <len> | 0001 <len> | libtpms blob
    expect(hex(whole.data.subarray(0, 6))).toBe('0201000a0004');
    expect(v.getUint32(6)).toBe(whole.length);
    expect(v.getUint16(10)).toBe(4);
    expect(v.getUint32(12)).toBe(whole.length - 16);
    expect(v.getUint16(16)).toBe(1);
    expect(v.getUint32(18)).toBe(whole.length - 22);
    expect(hex(whole.data.subarray(22))).toBe(hex(getBlob(dev.engine.ctx, 'permanent')));
    const tail = ctrlResponse.stateBlob(
      dev.handleControl(ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 1, 16)),
    );
    expect(tail.totLength).toBe(whole.length - 16);
    expect(hex(tail.data)).toBe(hex(whole.data.subarray(16)));
    expect(ctl(dev, ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 0, whole.length))).toBe('00'.repeat(16));
  });

  it('a TPM 2.0 has no save-state blob: TPM_RETRY and no data, also after Shutdown(STATE) (observed)', () => {
    const dev = started();
    expect(ctl(dev, ctrlRequest.getStateBlob(BLOB_TYPE.SAVESTATE, 1))).toBe(`00000800${'00'.repeat(12)}`);
    run(dev, '80010000000c000001450001');
    expect(ctl(dev, ctrlRequest.getStateBlob(BLOB_TYPE.SAVESTATE, 0))).toBe(`00000800${'00'.repeat(12)}`);
    expect(ctl(dev, ctrlRequest.getStateBlob(4, 1))).toBe(`00000800${'00'.repeat(12)}`);
  });

  it('GET_STATEBLOB VOLATILE deletes tpm2-00.volatilestate', () => {
    const store = new MemoryStateStore();
    const dev = device('vol', store);
    run(dev, STARTUP_CLEAR);
    ctl(dev, '0000000a');
    expect(store.names()).toContain(STATE_FILE.volatile);
    const r = ctrlResponse.stateBlob(dev.handleControl(ctrlRequest.getStateBlob(BLOB_TYPE.VOLATILE, 1)));
    expect(r.result).toBe(0);
    expect(store.names()).toEqual([STATE_FILE.permanent]);
  });

  it('SET_STATEBLOB needs a stopped TPM', () => {
    const dev = started();
    const blob = ctrlResponse.stateBlob(
      dev.handleControl(ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 1)),
    ).data;
    expect(ctl(dev, ctrlRequest.setStateBlob(BLOB_TYPE.PERMANENT, 0, blob))).toBe('0000000a');
  });

  it("refuses damaged swtpm wrappings with swtpm's codes (observed)", () => {
    const src = started('src');
    const good = ctrlResponse.stateBlob(
      src.handleControl(ctrlRequest.getStateBlob(BLOB_TYPE.PERMANENT, 1)),
    ).data;
    const mod = (at: number, value: number) => {
      const b = good.slice();
      b[at] = value;
      return b;
    };
    const dev = device('dst');
    ctl(dev, '0000000e');
    const set = (blob: Uint8Array, type: number = BLOB_TYPE.PERMANENT, flags = 0) =>
      ctl(dev, ctrlRequest.setStateBlob(type, flags, blob));
    expect(set(good.subarray(0, good.length - 1))).toBe('00000003'); // totlen mismatch
    expect(set(Uint8Array.from([...good, 0]))).toBe('00000003');
    expect(set(mod(1, 3))).toBe('0000002e'); // min_version 3: TPM_BAD_VERSION
    expect(set(mod(3, 12))).toBe('0000002b'); // hdrsize 12: TPM_BAD_DATASIZE
    expect(set(mod(11, 9))).toBe('00000009'); // no TAG_MIGRATION_DATA record: TPM_FAIL
    expect(set(mod(17, 9))).toBe('00000009'); // no TAG_DATA record
    expect(set(mod(5, 6))).toBe('0000000d'); // migration-encrypted without a key: TPM_KEYNOTFOUND
    expect(set(good, BLOB_TYPE.PERMANENT, 2)).toBe('0000000d'); // state-encrypted without a key
    expect(set(good, BLOB_TYPE.SAVESTATE)).toBe('00000034'); // TPM_BAD_TYPE
    expect(set(good, 4)).toBe('00000003');
    expect(set(good, 0)).toBe('00000003');
    expect(set(good.subarray(0, 10))).toBe('00000003');
    expect(set(good.subarray(0, 5))).toBe('00000003');
    expect(set(new Uint8Array(0))).toBe('00000000');
  });

  it('refuses damaged, cut, padded and foreign-version engine blobs and keeps the TPM as it was', () => {
    const src = started('src');
    run(src, GET_RANDOM_8);
    const fetch = (type: number) =>
      ctrlResponse.stateBlob(src.handleControl(ctrlRequest.getStateBlob(type, PTM_STATE_FLAG_DECRYPTED)))
        .data;
    const perm = fetch(BLOB_TYPE.PERMANENT);
    const vol = fetch(BLOB_TYPE.VOLATILE);
    const inner = vol.subarray(22);
    const version2 = inner.slice();
    new DataView(version2.buffer).setUint16(4, 2);
    const flipped = inner.slice();
    flipped[100]! ^= 1;
    const cases: [string, Uint8Array, string][] = [
      // Observed from swtpm 0.7.1 with the same damage to libtpms blobs: a cut blob is
      // TPM_RC_INSUFFICIENT, a damaged volatile blob TPM_RC_HASH, an unknown version TPM_RC_BAD_VERSION.
      ['cut', inner.subarray(0, inner.length - 10), '0000009a'],
      ['empty record', new Uint8Array(0), '0000009a'],
      ['flipped byte', flipped, '00000083'],
      ['foreign version', version2, '0000002e'],
      ['padded', Uint8Array.from([...inner, 0, 0, 0, 0]), '00000095'],
      ['wrong type', perm.subarray(22), '0000001e'],
    ];
    const dst = device('dst');
    run(dst, STARTUP_CLEAR);
    const randomBefore = hex(run(dst, GET_RANDOM_8));
    const twin = device('dst');
    run(twin, STARTUP_CLEAR);
    run(twin, GET_RANDOM_8);
    ctl(dst, ctrlRequest.bare(CMD.STORE_VOLATILE));
    ctl(twin, ctrlRequest.bare(CMD.STORE_VOLATILE));
    expect(ctl(dst, '0000000e')).toBe('00000000');
    for (const [name, blob, code] of cases) {
      expect([
        name,
        ctl(dst, ctrlRequest.setStateBlob(BLOB_TYPE.VOLATILE, 0, wrapMigrationBlob(blob))),
      ]).toEqual([name, code]);
      expect(dst.lastError).toBeTruthy();
    }
    // Nothing was applied: the destination comes back from its own files exactly like its twin.
    expect(ctl(dst, ctrlRequest.init(0))).toBe('00000000');
    expect(hex(run(dst, GET_RANDOM_8))).toBe(hex(run(twin, GET_RANDOM_8)));
    expect(randomBefore).not.toBe('');
  });

  it('a refused blob drops the blobs set before it (observed: CMD_INIT then needs Startup)', () => {
    const src = started('src');
    const fetch = (type: number) =>
      ctrlResponse.stateBlob(src.handleControl(ctrlRequest.getStateBlob(type, PTM_STATE_FLAG_DECRYPTED)))
        .data;
    const perm = fetch(BLOB_TYPE.PERMANENT);
    const vol = fetch(BLOB_TYPE.VOLATILE);
    const dst = device('dst');
    ctl(dst, '0000000e');
    expect(ctl(dst, ctrlRequest.setStateBlob(BLOB_TYPE.VOLATILE, 0, vol))).toBe('00000000');
    expect(ctl(dst, ctrlRequest.setStateBlob(BLOB_TYPE.PERMANENT, 0, perm.subarray(0, 30)))).toBe('00000003');
    expect(
      ctl(dst, ctrlRequest.setStateBlob(BLOB_TYPE.PERMANENT, 0, wrapMigrationBlob(new Uint8Array(3)))),
    ).toBe('0000009a');
    expect(ctl(dst, ctrlRequest.init(PTM_INIT_FLAG_DELETE_VOLATILE))).toBe('00000000');
    expect(hex(run(dst, GET_RANDOM_8))).toBe('80010000000a00000100');
  });
});

// ---- QEMU's migration sequence ---------------------------------------------------------------------

interface Blobs {
  flags: number;
  data: Uint8Array;
}

/** tpm_emulator_pre_save → tpm_emulator_get_state_blobs. */
function qemuPreSave(src: SwtpmDevice): Blobs[] {
  return [BLOB_TYPE.PERMANENT, BLOB_TYPE.VOLATILE, BLOB_TYPE.SAVESTATE].map((type) => {
    const r = ctrlResponse.stateBlob(
      src.handleControl(ctrlRequest.getStateBlob(type, PTM_STATE_FLAG_DECRYPTED, 0)),
    );
    // QEMU: the result must be 0 or have bit 0x800 set, and totlength must equal length.
    expect(r.result === 0 || (r.result & 0x800) !== 0).toBe(true);
    expect(r.totLength).toBe(r.length);
    return { flags: r.stateFlags, data: r.data };
  });
}

/** tpm_emulator_post_load: CMD_STOP, SET_STATEBLOB for non-empty blobs, CMD_INIT(DELETE_VOLATILE). */
function qemuPostLoad(dst: SwtpmDevice, blobs: Blobs[]): void {
  expect(ctl(dst, ctrlRequest.bare(CMD.STOP))).toBe('00000000');
  blobs.forEach((b, i) => {
    if (b.data.length === 0) return;
    expect(ctl(dst, ctrlRequest.setStateBlob(i + 1, b.flags, b.data))).toBe('00000000');
  });
  expect(ctl(dst, ctrlRequest.init(PTM_INIT_FLAG_DELETE_VOLATILE))).toBe('00000000');
}

describe("QEMU's migration sequence", () => {
  it('the destination answers the next commands byte for byte like the source', () => {
    const src = device('migrate');
    run(src, STARTUP_CLEAR);
    expect(rcOf(run(src, pcrExtend(4, 0x42)))).toBe(RC.SUCCESS);
    run(src, getRandom(20));
    run(src, hashSequenceStart());
    ctl(src, ctrlRequest.setLocality(2));
    const blobs = qemuPreSave(src);
    expect(blobs.map((b) => b.data.length > 0)).toEqual([true, true, false]);

    const dst = device('migrate'); // same configuration, its own (empty) state directory
    qemuPostLoad(dst, blobs);
    ctl(dst, ctrlRequest.setLocality(2)); // QEMU sets the locality before the next command
    const next = [
      getRandom(32),
      fromHex(READ_CLOCK),
      pcrReadAll(),
      pcrExtend(17, 0x01), // allowed from locality 2
      pcrReadAll(),
      buildCommand({ code: CC.GetCapability, params: (w) => w.u32(CAP.HANDLES).u32(0x80000000).u32(8) }),
      getRandom(64),
    ];
    for (const cmd of next) {
      const a = src.handleCommand(cmd);
      const b = dst.handleCommand(cmd);
      expect(rcOf(a.response)).toBe(RC.SUCCESS);
      expect(hex(b.response)).toBe(hex(a.response));
      expect(b.durationNs).toBe(a.durationNs);
    }
    expect(hex(getBlob(dst.engine.ctx, 'volatile'))).toBe(hex(getBlob(src.engine.ctx, 'volatile')));
    expect(dst.store.load(STATE_FILE.volatile)).toBeUndefined();
  });

  it('migrates a TPM that has not seen TPM2_Startup yet, and one after Shutdown(STATE)', () => {
    const fresh = device('m2');
    const dst = device('other');
    qemuPostLoad(dst, qemuPreSave(fresh));
    expect(hex(run(dst, GET_RANDOM_8))).toBe('80010000000a00000100');
    expect(hex(run(dst, STARTUP_CLEAR))).toBe(hex(run(fresh, STARTUP_CLEAR)));

    run(fresh, pcrExtend(5, 0x05));
    run(fresh, '80010000000c000001450001');
    ctl(fresh, ctrlRequest.init(0)); // power cycle
    const dst2 = device('other');
    qemuPostLoad(dst2, qemuPreSave(fresh));
    expect(hex(run(dst2, STARTUP_STATE))).toBe(hex(run(fresh, STARTUP_STATE)));
    expect(hex(run(dst2, pcrReadAll()))).toBe(hex(run(fresh, pcrReadAll())));
  });

  it('a DRTM sequence in progress and a pending H-CRTM travel with the volatile state (observed)', () => {
    // Observed from swtpm 0.7.1: HASH_START, HASH_DATA "hel", migrate, HASH_DATA "lo", HASH_END gives the
    // PCR 17 of "hello"; an H-CRTM before the migration still refuses Startup(STATE) and keeps PCR 0.
    const src = started('drtm');
    ctl(src, ctrlRequest.bare(CMD.HASH_START));
    ctl(src, ctrlRequest.hashData(ascii('hel')));
    const dst = device('drtm');
    qemuPostLoad(dst, qemuPreSave(src));
    for (const dev of [src, dst]) {
      ctl(dev, ctrlRequest.hashData(ascii('lo')));
      ctl(dev, ctrlRequest.bare(CMD.HASH_END));
    }
    const pcr17 = '9851312028952521510e8eaab5be94e7dc24b5fc292b2e9781173cf11ffa9878';
    expect(hex(dst.engine.ctx.vol.pcrs.sha256[17]!)).toBe(pcr17);
    expect(hex(src.engine.ctx.vol.pcrs.sha256[17]!)).toBe(pcr17);

    const early = device('hcrtm');
    hashSequence(early, ascii('hello'));
    const dst2 = device('hcrtm');
    qemuPostLoad(dst2, qemuPreSave(early));
    expect(hex(run(dst2, STARTUP_STATE))).toBe('80010000000a000001c4');
    expect(hex(run(dst2, STARTUP_CLEAR))).toBe('80010000000a00000000');
    expect(hex(dst2.engine.ctx.vol.pcrs.sha256[0]!)).toBe(
      'c482c76841b9ad3783707f1c96d1bca7a0ff87d0191726d6cd84d04f5b2208f6',
    );
  });

  type Op =
    | { kind: 'tpm'; cmd: Uint8Array; advanceNs: number }
    | { kind: 'ctrl'; req: Uint8Array }
    | { kind: 'drtm'; data: Uint8Array }
    | { kind: 'drtmOpen'; data: Uint8Array };

  const tpmOp = fc
    .oneof(
      fc.integer({ min: 0, max: 70 }).map((n) => getRandom(n)),
      fc
        .uint8Array({ maxLength: 16 })
        .map((d) => buildCommand({ code: CC.StirRandom, params: (w) => w.tpm2b(d) })),
      fc.constant(fromHex(READ_CLOCK)),
      fc
        .record({ pcr: fc.integer({ min: 0, max: 23 }), b: fc.integer({ min: 0, max: 255 }) })
        .map(({ pcr, b }) => pcrExtend(pcr, b)),
      fc.constant(pcrReadAll()),
      fc.constant(hashSequenceStart()),
      fc
        .integer({ min: 0, max: 3 })
        .map((i) => buildCommand({ code: CC.FlushContext, params: (w) => w.u32(0x80000000 + i) })),
      fc.constant(
        buildCommand({ code: CC.GetCapability, params: (w) => w.u32(CAP.HANDLES).u32(0x80000000).u32(8) }),
      ),
      fc.constantFrom(
        fromHex(STARTUP_CLEAR),
        fromHex(STARTUP_STATE),
        fromHex('80010000000c000001450000'),
        fromHex('80010000000c000001450001'),
      ),
    )
    .chain((cmd) =>
      fc.integer({ min: 0, max: 5_000_000 }).map((advanceNs): Op => ({ kind: 'tpm', cmd, advanceNs })),
    );
  const ctrlOp = fc.oneof(
    fc.integer({ min: 0, max: 5 }).map((l): Op => ({ kind: 'ctrl', req: ctrlRequest.setLocality(l) })),
    fc.constant<Op>({ kind: 'ctrl', req: ctrlRequest.bare(CMD.STORE_VOLATILE) }),
    fc.constantFrom(0, 1).map((f): Op => ({ kind: 'ctrl', req: ctrlRequest.init(f) })),
    fc.constant<Op>({ kind: 'ctrl', req: ctrlRequest.resetEstablished(4) }),
    fc.uint8Array({ maxLength: 40 }).map((data): Op => ({ kind: 'drtm', data })),
    fc.uint8Array({ maxLength: 40 }).map((data): Op => ({ kind: 'drtmOpen', data })),
    fc.uint8Array({ maxLength: 8 }).map((data): Op => ({ kind: 'ctrl', req: ctrlRequest.hashData(data) })),
    fc.constant<Op>({ kind: 'ctrl', req: ctrlRequest.bare(CMD.HASH_START) }),
    fc.constant<Op>({ kind: 'ctrl', req: ctrlRequest.bare(CMD.HASH_END) }),
  );

  function apply(dev: SwtpmDevice, op: Op, nowNs: number): string {
    switch (op.kind) {
      case 'tpm': {
        const r = dev.handleCommand(op.cmd, { nowNs });
        return `${hex(r.response)}/${r.durationNs}`;
      }
      case 'ctrl':
        return ctl(dev, op.req);
      case 'drtm':
        return hashSequence(dev, op.data).join();
      case 'drtmOpen':
        return ctl(dev, ctrlRequest.bare(CMD.HASH_START)) + ctl(dev, ctrlRequest.hashData(op.data));
    }
  }

  it('property: migrate at any point of a random session and the continuation is identical', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 2, arbitrary: tpmOp }, { weight: 1, arbitrary: ctrlOp }), {
          maxLength: 40,
        }),
        fc.nat(),
        fc.boolean(),
        (ops, cut, sameSeed) => {
          const at = ops.length === 0 ? 0 : cut % (ops.length + 1);
          const src = device('property');
          let t = 0;
          const step = (dev: SwtpmDevice, op: Op, now: number) => apply(dev, op, now);
          for (const op of ops.slice(0, at)) {
            if (op.kind === 'tpm') t += op.advanceNs;
            step(src, op, t);
          }
          const dst = device(sameSeed ? 'property' : 'a different seed');
          qemuPostLoad(dst, qemuPreSave(src));
          ctl(dst, ctrlRequest.setLocality(src.locality));
          for (const op of ops.slice(at)) {
            if (op.kind === 'tpm') t += op.advanceNs;
            expect(step(dst, op, t)).toBe(step(src, op, t));
          }
          expect(hex(getBlob(dst.engine.ctx, 'volatile'))).toBe(hex(getBlob(src.engine.ctx, 'volatile')));
          expect(hex(getBlob(dst.engine.ctx, 'permanent'))).toBe(hex(getBlob(src.engine.ctx, 'permanent')));
        },
      ),
      { numRuns: 150 },
    );
  });
});
