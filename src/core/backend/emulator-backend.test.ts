// The backend as QEMU's tpm_backend.c + tpm_emulator.c behave: one request at a time, SET_LOCALITY only
// on a change, the completion at the virtual time the cost model gives, the bottom half as its own event,
// and the same trace whether the TPM answers at once or late.
import { describe, expect, it, vi } from 'vitest';
import { Scheduler, TraceLog } from '../kernel';
import type { JsonValue, TraceEvent } from '../kernel';
import { SwtpmDevice } from '../swtpm';
import { CMD, ctrlRequest, PTM_CAP, u32be } from '../swtpm/ioctl';
import { buildCommand, parseResponse } from '../tpm2/build';
import { CC } from '../tpm2/constants';
import { RC } from '../tpm2/rc';
import type { BackendCmd, TpmFrontend } from '../tis/backend-port';
import { EmulatorBackend, isSelftestCommand } from './emulator-backend';
import type { EmulatorBackendConfig } from './emulator-backend';
import { InProcessTransport } from './transport';
import type { TpmCommandResult, TpmTransport } from './transport';

const HOP = 10_000;
const BH = 2_000;
const SEED = 'backend-test';
const getRandom = (n: number) => buildCommand({ code: CC.GetRandom, params: (w) => w.u16(n) });
const selfTest = () => buildCommand({ code: CC.SelfTest, params: (w) => w.u8(1) });

interface Completion {
  t: number;
  ret: number;
  locality: number;
  output: string;
  selftestDone: boolean;
  busyDuringCallback: boolean;
}

const hexOf = (b: Uint8Array | null) => (b ? Buffer.from(b).toString('hex') : '');
const newDevice = () => new SwtpmDevice({ seed: SEED, startupClear: true });

/** A TPM whose answers arrive after some host time, in order, like the TPM Worker's. */
class LateTransport implements TpmTransport {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(readonly device: SwtpmDevice) {}
  private later<T>(f: () => T): Promise<T> {
    const p = this.queue.then(() => new Promise<T>((res) => setTimeout(() => res(f()), 2)));
    this.queue = p;
    return p;
  }
  command(bytes: Uint8Array, nowNs?: number): Promise<TpmCommandResult> {
    return this.later(() => this.device.handleCommand(bytes, nowNs === undefined ? {} : { nowNs }));
  }
  control(bytes: Uint8Array): Promise<Uint8Array> {
    return this.later(() => this.device.handleControl(bytes));
  }
  close(): void {}
}

/** A transport answering from a function, for TPMs we do not have (TPM 1.2, missing capabilities). */
class ScriptedTransport implements TpmTransport {
  readonly controls: number[] = [];
  constructor(
    private readonly onCommand: (b: Uint8Array) => Uint8Array,
    private readonly caps = 0xffff,
  ) {}
  command(bytes: Uint8Array): Promise<TpmCommandResult> {
    return Promise.resolve({ response: this.onCommand(bytes), durationNs: 1000 });
  }
  control(bytes: Uint8Array): Promise<Uint8Array> {
    const cmd = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
    this.controls.push(cmd);
    if (cmd === CMD.GET_CAPABILITY)
      return Promise.resolve(Uint8Array.of(0, 0, 0, 0, 0, 0, this.caps >> 8, this.caps & 0xff));
    if (cmd === CMD.SET_BUFFERSIZE) return Promise.resolve(u32be(0, 4096, 2808, 4096));
    if (cmd === CMD.GET_TPMESTABLISHED) return Promise.resolve(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0));
    return Promise.resolve(u32be(0));
  }
  close(): void {}
}

function setup(transport: TpmTransport, extra: Partial<EmulatorBackendConfig> = {}) {
  const scheduler = new Scheduler();
  const trace = new TraceLog();
  const backend = new EmulatorBackend({
    scheduler,
    trace,
    transport,
    transportHopNs: HOP,
    bottomHalfDelayNs: BH,
    ...extra,
  });
  const completions: Completion[] = [];
  const frontend: TpmFrontend = {
    requestCompleted(cmd: BackendCmd, ret: number) {
      completions.push({
        t: scheduler.nowNs,
        ret,
        locality: cmd.locality,
        output: hexOf(cmd.output),
        selftestDone: cmd.selftestDone,
        busyDuringCallback: backend.isBusy,
      });
    },
  };
  backend.setFrontend(frontend);
  // What the TIS would do on TPM_GO, as a plain-data scheduler event.
  scheduler.on('test:go', (p) => {
    const { locality, hex } = p as { locality: number; hex: string };
    backend.deliverRequest(makeCmd(locality, Uint8Array.from(Buffer.from(hex, 'hex'))));
  });
  const go = (atNs: number, locality: number, command: Uint8Array) =>
    scheduler.scheduleAt(atNs, 'test:go', { locality, hex: hexOf(command) });
  return { scheduler, trace, backend, completions, go };
}

const makeCmd = (locality: number, input: Uint8Array): BackendCmd => ({
  locality,
  input,
  output: null,
  selftestDone: false,
});

const kinds = (trace: TraceLog) => trace.window().map((e) => e.kind);
const ctrlCalls = (spy: { mock: { calls: unknown[][] } }, cmd: number) =>
  spy.mock.calls.filter(([b]) => new DataView((b as Uint8Array).buffer).getUint32(0) === cmd).length;

describe('EmulatorBackend over an in-process swtpm', () => {
  it('completes a command at t + transport + cost-model duration, and runs the bottom half as a later, separate event', async () => {
    const device = newDevice();
    const twin = newDevice(); // the same TPM, to learn what the cost model charges
    twin.handleCommand(Uint8Array.of(0x80, 1, 0, 0, 0, 10, 0, 0, 1, 0x81));
    const expected = twin.handleCommand(getRandom(8));
    const { scheduler, backend, completions, go, trace } = setup(new InProcessTransport(device));
    await backend.init();
    const t = 1_000_000;
    go(t, 0, getRandom(8));
    // first command: SET_LOCALITY round trip (2 hops), command out (1 hop), TPM, response back (1 hop)
    const responseAt = t + 2 * HOP + HOP + expected.durationNs + HOP;
    scheduler.runUntil(responseAt - 1);
    expect(backend.phase).toBe('executing');
    expect(completions).toEqual([]);
    scheduler.runUntil(responseAt);
    expect(backend.responseWaitingForBottomHalf).toBe(true);
    expect(completions).toEqual([]); // the response is here, the bottom half has not run
    expect(scheduler.pending().map((e) => [e.timeNs, e.kind])).toEqual([
      [responseAt + BH, 'tpm0:tpm_backend_request_completed'],
    ]);
    scheduler.runUntilIdle();
    expect(completions).toEqual([
      {
        t: responseAt + BH,
        ret: 0,
        locality: 0,
        output: hexOf(expected.response),
        selftestDone: false,
        busyDuringCallback: true, // QEMU clears s->cmd only after request_completed returns
      },
    ]);
    expect(backend.isBusy).toBe(false);
    expect(kinds(trace).slice(-6)).toEqual([
      'tpm_backend_deliver_request',
      'tpm_emulator_handle_request',
      'tpm_emulator_set_locality',
      'tpm_emulator_unix_tx_bufs',
      'tpm_backend_worker_thread',
      'tpm_backend_request_completed',
    ]);
    expect(parseResponse(Uint8Array.from(Buffer.from(completions[0]!.output, 'hex'))).rc).toBe(RC.SUCCESS);
  });

  it('refuses a second request while one is in flight ("There is a TPM request pending") and keeps the first', async () => {
    const { scheduler, backend, completions, go, trace } = setup(new InProcessTransport(newDevice()));
    await backend.init();
    go(0, 0, getRandom(4));
    go(5_000, 0, getRandom(16));
    scheduler.runUntilIdle();
    expect(completions).toHaveLength(1);
    expect(completions[0]!.output.length).toBe((10 + 2 + 4) * 2); // the 4-byte GetRandom's answer
    const refused = trace.window().filter((e) => e.kind === 'tpm_backend_deliver_request');
    expect(refused.map((e) => e.data)).toEqual([
      { locality: 0, inLen: 12 },
      { locality: 0, inLen: 12, error: 'There is a TPM request pending' },
    ]);
  });

  it('sends CMD_SET_LOCALITY only when the locality changes', async () => {
    const device = newDevice();
    const spy = vi.spyOn(device, 'handleControl');
    const { scheduler, backend, go } = setup(new InProcessTransport(device));
    await backend.init();
    go(0, 3, getRandom(1));
    go(1_000_000, 3, getRandom(1));
    scheduler.runUntilIdle();
    expect(ctrlCalls(spy, CMD.SET_LOCALITY)).toBe(1);
    expect(device.locality).toBe(3);
    go(2_000_000, 1, getRandom(1));
    scheduler.runUntilIdle();
    expect(ctrlCalls(spy, CMD.SET_LOCALITY)).toBe(2);
    expect(device.locality).toBe(1);
  });

  it('sets selftestDone only for TPM_ORD_ContinueSelfTest with rc 0, as tpm_util_is_selftest (not for TPM2_SelfTest)', async () => {
    const { scheduler, backend, completions, go } = setup(new InProcessTransport(newDevice()));
    await backend.init();
    go(0, 0, selfTest());
    scheduler.runUntilIdle();
    expect(parseResponse(Uint8Array.from(Buffer.from(completions[0]!.output, 'hex'))).rc).toBe(RC.SUCCESS);
    expect(completions[0]!.selftestDone).toBe(false);

    // A TPM 1.2 answering TPM_ContinueSelfTest with TPM_SUCCESS (tag 0xc4).
    const continueSelfTest = Uint8Array.of(0, 0xc1, 0, 0, 0, 10, 0, 0, 0, 0x53);
    expect(isSelftestCommand(continueSelfTest)).toBe(true);
    const ok = Uint8Array.of(0, 0xc4, 0, 0, 0, 10, 0, 0, 0, 0);
    const s2 = setup(new ScriptedTransport(() => ok));
    await s2.backend.init();
    expect(s2.backend.getTpmVersion()).toBe(1);
    s2.go(0, 0, continueSelfTest);
    await s2.backend.run();
    expect(s2.completions[0]!.selftestDone).toBe(true);
  });

  it('cancels with CMD_CANCEL_TPM_CMD, or only traces when swtpm lacks the capability', async () => {
    const device = newDevice();
    const spy = vi.spyOn(device, 'handleControl');
    const { scheduler, backend, go, trace, completions } = setup(new InProcessTransport(device));
    await backend.init();
    go(0, 0, getRandom(8));
    scheduler.runUntil(2 * HOP + HOP + 1); // the TPM is executing
    backend.cancelCmd();
    expect(ctrlCalls(spy, CMD.CANCEL_TPM_CMD)).toBe(1);
    expect(trace.window().at(-1)).toMatchObject({ kind: 'tpm_emulator_cancel_cmd', data: { busy: true } });
    scheduler.runUntilIdle();
    expect(completions).toHaveLength(1);

    const noCancel = new ScriptedTransport(
      () => Uint8Array.of(0x80, 1, 0, 0, 0, 10, 0, 0, 0, 0),
      0xffff & ~PTM_CAP.CANCEL_TPM_CMD,
    );
    const s2 = setup(noCancel);
    await s2.backend.init();
    s2.backend.cancelCmd();
    expect(noCancel.controls).not.toContain(CMD.CANCEL_TPM_CMD);
    expect(kinds(s2.trace).at(-1)).toBe('tpm_emulator_cancel_cmd_not_supt');
  });

  it('waitCmdCompleted (tpm_backend_finish_sync) runs until the bottom half has delivered the response', async () => {
    const { scheduler, backend, go, completions } = setup(new InProcessTransport(newDevice()));
    await backend.init();
    go(0, 0, getRandom(8));
    scheduler.runUntil(0);
    expect(backend.isBusy).toBe(true);
    backend.waitCmdCompleted();
    expect(backend.isBusy).toBe(false);
    expect(completions).toHaveLength(1);
    expect(scheduler.nowNs).toBe(completions[0]!.t);
    expect(scheduler.pendingCount).toBe(0);
  });

  it('reset stops, sizes and re-inits swtpm (CMD_STOP, SET_BUFFERSIZE, CMD_INIT); the TPM then wants TPM2_Startup', async () => {
    const device = newDevice();
    const spy = vi.spyOn(device, 'handleControl');
    const { scheduler, backend, go, completions, trace } = setup(new InProcessTransport(device));
    await backend.init();
    spy.mockClear();
    backend.reset();
    expect(spy.mock.calls.map(([b]) => new DataView((b as Uint8Array).buffer).getUint32(0))).toEqual([
      CMD.STOP,
      CMD.SET_BUFFERSIZE,
      CMD.INIT,
    ]);
    scheduler.runUntilIdle();
    expect(backend.hadStartupError).toBe(false);
    expect(trace.window().at(-1)).toMatchObject({
      t: 6 * HOP,
      kind: 'tpm_emulator_set_buffer_size',
      data: { buffersize: 4096 },
    });
    go(scheduler.nowNs, 0, getRandom(8));
    scheduler.runUntilIdle();
    expect(parseResponse(Uint8Array.from(Buffer.from(completions[0]!.output, 'hex'))).rc).toBe(RC.INITIALIZE);
  });

  it('caches the established flag as QEMU does and resets it with the locality last set (cur_locty_number)', async () => {
    const device = newDevice();
    const { scheduler, backend, go, trace } = setup(new InProcessTransport(device));
    await backend.init();
    expect(backend.getTpmEstablishedFlag()).toBe(false);
    device.handleControl(ctrlRequest.bare(CMD.HASH_START));
    device.handleControl(ctrlRequest.bare(CMD.HASH_END));
    expect(device.tpmEstablished).toBe(true);
    expect(backend.getTpmEstablishedFlag()).toBe(false); // cached: QEMU does not ask again
    // Last command at locality 0: swtpm refuses the reset (TPM_BAD_LOCALITY), whatever locality asked.
    go(0, 0, getRandom(1));
    scheduler.runUntilIdle();
    backend.resetTpmEstablishedFlag(4);
    scheduler.runUntilIdle();
    expect(trace.window().at(-1)).toMatchObject({ kind: 'error_report' });
    expect(device.tpmEstablished).toBe(true);
    go(scheduler.nowNs, 4, getRandom(1));
    scheduler.runUntilIdle();
    backend.resetTpmEstablishedFlag(4);
    scheduler.runUntilIdle();
    expect(device.tpmEstablished).toBe(false);
    expect(trace.window().at(-1)).toMatchObject({
      kind: 'tpm_emulator_get_tpm_established_flag',
      data: { flag: 0 },
    });
    expect(backend.getTpmEstablishedFlag()).toBe(false);
  });
});

/** One scripted session: commands at several localities, a refused request, a cancel, a reset of the flag. */
async function session(transport: TpmTransport, mode: 'scheduler' | 'backend.run') {
  const s = setup(transport);
  await s.backend.init();
  s.go(1_000, 0, getRandom(8));
  s.go(2_000, 0, getRandom(2)); // refused: busy
  s.go(500_000, 3, buildCommand({ code: CC.ReadClock }));
  s.go(600_000, 3, getRandom(32));
  s.go(900_000, 4, selfTest());
  s.scheduler.scheduleAt(950_000, 'test:cancel', null);
  s.scheduler.on('test:cancel', () => s.backend.cancelCmd());
  s.scheduler.scheduleAt(30_000_000, 'test:reset-est', null);
  s.scheduler.on('test:reset-est', () => s.backend.resetTpmEstablishedFlag(4));
  if (mode === 'scheduler') s.scheduler.runUntilIdle();
  else await s.backend.run();
  return { hash: s.trace.traceHash(), trace: s.trace.window(), completions: s.completions };
}

describe('EmulatorBackend determinism with an asynchronous TPM', () => {
  it('gives the identical trace when the TPM answers late (the scheduler waits at each TPM event)', async () => {
    const a = await session(new InProcessTransport(newDevice()), 'scheduler');
    const b = await session(new LateTransport(newDevice()), 'backend.run');
    const c = await session(new InProcessTransport(newDevice()), 'backend.run');
    expect(a.completions).toHaveLength(4);
    expect(b.completions).toEqual(a.completions);
    expect(b.trace).toEqual(a.trace);
    expect(b.hash).toBe(a.hash);
    expect(c.hash).toBe(a.hash);
  });

  it('exposes pendingAnswer while a late answer is on its way and refuses to dispatch past it unawaited', async () => {
    const s = setup(new LateTransport(newDevice()));
    await s.backend.init();
    s.go(0, 0, getRandom(8));
    s.scheduler.runUntil(0);
    expect(s.backend.pendingAnswer).not.toBeNull();
    expect(() => s.backend.waitCmdCompleted()).toThrow(/finishSync/);
    await s.backend.finishSync();
    expect(s.backend.isBusy).toBe(false);
    expect(s.backend.pendingAnswer).toBeNull();
    expect(s.completions).toHaveLength(1);

    s.go(s.scheduler.nowNs, 0, getRandom(8));
    s.scheduler.runUntil(s.scheduler.nowNs);
    expect(() => s.scheduler.runUntilIdle()).toThrow(/has not arrived/);
  });
});

describe('EmulatorBackend snapshots', () => {
  for (const cut of ['transmitting', 'executing', 'bottomHalfPending'] as const) {
    it(`continues identically after save/restore with the command ${cut}`, async () => {
      const s = setup(new InProcessTransport(newDevice()));
      await s.backend.init();
      s.go(0, 2, getRandom(16));
      s.scheduler.runUntilPredicate(() => s.backend.phase === cut);
      const backendState = JSON.parse(JSON.stringify(s.backend.save())) as ReturnType<
        EmulatorBackend['save']
      >;
      const schedState = s.scheduler.save();
      const seen: TraceEvent[] = [];
      const unsubscribe = s.trace.subscribe((e) => seen.push(e));
      s.scheduler.runUntilIdle();
      const first = {
        trace: seen.splice(0).map(({ t, kind, data }) => ({ t, kind, data })),
        done: [...s.completions],
      };
      expect(first.done).toHaveLength(1);

      unsubscribe();
      // The destination: a fresh scheduler, trace and backend (its TPM already ran the command).
      const d = setup(new InProcessTransport(newDevice()));
      d.scheduler.restore(schedState);
      d.backend.restore(backendState);
      expect(d.backend.phase).toBe(cut);
      d.scheduler.runUntilIdle();
      expect(d.trace.window().map(({ t, kind, data }) => ({ t, kind, data }))).toEqual(first.trace);
      expect(d.completions).toEqual(first.done);
    });
  }

  it('hands the response to the frontend through the BackendCmd object the frontend restored', async () => {
    const s = setup(new InProcessTransport(newDevice()));
    await s.backend.init();
    s.go(0, 0, getRandom(8));
    s.scheduler.runUntilPredicate(() => s.backend.responseWaitingForBottomHalf);
    const state = s.backend.save();
    const sched = s.scheduler.save();
    const mine = makeCmd(0, getRandom(8));
    s.scheduler.restore(sched);
    s.backend.restore(state, mine);
    s.scheduler.runUntilIdle();
    expect(mine.output).not.toBeNull();
    expect(hexOf(mine.output)).toBe(s.completions[0]!.output);
    const asJson: JsonValue = JSON.parse(JSON.stringify(state)) as JsonValue;
    expect(asJson).toEqual(state);
  });
});
