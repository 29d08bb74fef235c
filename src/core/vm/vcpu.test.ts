import { describe, expect, it } from 'vitest';
import { Scheduler, TraceLog, type JsonValue } from '../kernel';
import type { GuestInput, GuestOp, GuestProgramFactory } from '../guest/program';
import { MmioBus, type MmioDevice } from './bus';
import { createTisRig } from './tis-rig';
import { Vcpu, type VcpuOptions } from './vcpu';
import { ACCESS, FIFO, getRandomCommand, opsProgram, STS, TIS_BASE } from './vm-test-kit';

async function tisVcpu(program: GuestProgramFactory, opts: Partial<VcpuOptions> = {}) {
  const rig = await createTisRig({ seed: 'vcpu' });
  const bus = new MmioBus({ trace: rig.trace, now: () => rig.scheduler.nowNs });
  bus.map({ name: 'tpm-tis-mmio', base: TIS_BASE, size: 0x5000, device: rig.tis });
  const vcpu = new Vcpu({ scheduler: rig.scheduler, trace: rig.trace, bus, program, ...opts });
  return { ...rig, bus, vcpu };
}

/** A program that records, with the time, every value it is resumed with. */
function recording(ops: readonly GuestOp[], got: { t: number; input: GuestInput }[], clock: () => number) {
  return () =>
    (function* (): Generator<GuestOp, void, GuestInput> {
      for (const op of ops) {
        const input = yield op;
        got.push({ t: clock(), input });
      }
    })();
}

const kinds = (trace: TraceLog, wanted: string[]) =>
  trace
    .window()
    .filter((e) => wanted.includes(e.kind))
    .map((e) => ({ t: e.t, kind: e.kind, data: e.data }));

describe('vCPU: KVM split MMIO execution', () => {
  it('a read is kvm_exit, then the device access, then kvm_run, each its own event and time', async () => {
    const m = await tisVcpu(opsProgram([{ op: 'read', addr: TIS_BASE + 0xf00, size: 4 }]));
    m.vcpu.boot();
    m.scheduler.runUntilIdle();
    expect(kinds(m.trace, ['kvm_exit', 'memory_region_ops_read', 'tpm_tis_mmio_read', 'kvm_run'])).toEqual([
      {
        t: 1000,
        kind: 'kvm_exit',
        data: { reason: 'KVM_EXIT_MMIO', addr: 0xfed40f00, len: 4, isWrite: false, rip: 0 },
      },
      { t: 1500, kind: 'tpm_tis_mmio_read', data: { size: 4, addr: 0xf00, val: 0x00011014 } },
      {
        t: 1500,
        kind: 'memory_region_ops_read',
        data: { region: 'tpm-tis-mmio', addr: 0xfed40f00, size: 4, value: 0x00011014 },
      },
      { t: 2500, kind: 'kvm_run', data: { rip: 1, data: 0x00011014 } },
    ]);
    expect(m.vcpu.view.rax).toBe(0x00011014);
  });

  it('a write carries its data in the exit, retires before it, and kvm_run only resumes the guest', async () => {
    const m = await tisVcpu(opsProgram([{ op: 'write', addr: ACCESS, size: 1, value: 0x02 }]));
    m.vcpu.boot();
    m.scheduler.step(); // step 1
    expect(m.vcpu.view.rip).toBe(1); // retired before the exit: never executed twice
    expect(m.vcpu.view.pendingExit).toEqual({
      phase: 'exited',
      addr: ACCESS,
      size: 1,
      isWrite: true,
      data: 2,
    });
    m.scheduler.runUntilIdle();
    expect(kinds(m.trace, ['kvm_exit', 'memory_region_ops_write', 'tpm_tis_mmio_write', 'kvm_run'])).toEqual([
      {
        t: 1000,
        kind: 'kvm_exit',
        data: { reason: 'KVM_EXIT_MMIO', addr: ACCESS, len: 1, isWrite: true, data: 2, rip: 0 },
      },
      {
        t: 1500,
        kind: 'memory_region_ops_write',
        data: { region: 'tpm-tis-mmio', addr: ACCESS, size: 1, value: 2 },
      },
      { t: 1500, kind: 'tpm_tis_mmio_write', data: { size: 1, addr: 0, val: 2 } },
      { t: 2500, kind: 'kvm_run', data: { rip: 1 } },
    ]);
    expect(m.tis.snapshot().activeLocality).toBe(0);
    expect(m.vcpu.isHalted).toBe(true);
  });

  it("a read's value reaches the program only at step 3, though the device gave it at step 2", async () => {
    const got: { t: number; input: GuestInput }[] = [];
    const ops: GuestOp[] = [
      { op: 'write', addr: ACCESS, size: 1, value: 0x02 },
      { op: 'read', addr: ACCESS, size: 1 },
    ];
    const m = await tisVcpu(recording(ops, got, () => m.scheduler.nowNs));
    m.vcpu.boot();
    for (let i = 0; i < 3; i++) m.scheduler.step(); // the whole write
    m.scheduler.step(); // read: exit
    m.scheduler.step(); // read: device
    expect(m.vcpu.view.pendingExit).toEqual({
      phase: 'handled',
      addr: ACCESS,
      size: 1,
      isWrite: false,
      data: 0xa1,
    });
    expect(m.vcpu.view.rip).toBe(1);
    expect(got).toHaveLength(1); // only the write so far
    m.scheduler.step(); // read: kvm_run
    expect(got[1]).toEqual({ t: 5000, input: 0xa1 });
    expect(m.vcpu.view).toMatchObject({ rip: 2, rax: 0xa1, pendingExit: null });
  });

  it('now, print, mark and checkpoint take no virtual time but are one step each', async () => {
    const m = await tisVcpu(
      opsProgram([
        { op: 'now' },
        { op: 'print', text: 'hello' },
        { op: 'mark', name: 'driver.op', data: { name: 'x' } },
        { op: 'checkpoint', state: { a: 1 } },
        { op: 'sleep', ns: 7_000 },
        { op: 'now' },
      ]),
    );
    m.vcpu.boot();
    const times: number[] = [];
    while (m.scheduler.step()) times.push(m.scheduler.nowNs);
    expect(times).toEqual([0, 0, 0, 0, 7_000, 7_000]);
    expect(m.vcpu.view.rip).toBe(6);
    expect(kinds(m.trace, ['print', 'mark'])).toEqual([
      { t: 0, kind: 'print', data: { text: 'hello', level: 'info' } },
      { t: 0, kind: 'mark', data: { name: 'driver.op', data: { name: 'x' } } },
    ]);
  });

  it('step times are configurable', async () => {
    const m = await tisVcpu(opsProgram([{ op: 'read', addr: STS, size: 1 }]), {
      steps: { exitNs: 10, deviceNs: 20, reenterNs: 30 },
    });
    m.vcpu.boot();
    m.scheduler.runUntilIdle();
    expect(kinds(m.trace, ['kvm_exit', 'memory_region_ops_read', 'kvm_run']).map((e) => e.t)).toEqual([
      10, 30, 60,
    ]);
  });

  it('a bad operation from the program is an Error naming it', async () => {
    const m = await tisVcpu(opsProgram([{ op: 'read', addr: FIFO, size: 3 } as unknown as GuestOp]));
    expect(() => m.vcpu.boot()).toThrow(/bad operation: read.size must be 1, 2 or 4, got 3/);
  });
});

describe('vCPU: stopping between steps', () => {
  /** A GetRandom(8) sent, then the first response byte read, paused between its steps 2 and 3. */
  async function pausedInFifoRead(completeMmioBeforeStop: boolean) {
    const command = getRandomCommand(8);
    const got: { t: number; input: GuestInput }[] = [];
    const ops: GuestOp[] = [
      { op: 'write', addr: ACCESS, size: 1, value: 0x02 },
      { op: 'write', addr: STS, size: 1, value: 0x40 },
      ...command.map((b): GuestOp => ({ op: 'write', addr: FIFO, size: 1, value: b })),
      { op: 'write', addr: STS, size: 1, value: 0x20 },
      { op: 'sleep', ns: 1_000_000 },
      { op: 'read', addr: FIFO, size: 1 },
      { op: 'read', addr: FIFO, size: 1 },
    ];
    const m = await tisVcpu(
      recording(ops, got, () => m.scheduler.nowNs),
      { completeMmioBeforeStop },
    );
    m.vcpu.boot();
    // Run until the first FIFO read has been handled by the device (step 2 done).
    m.scheduler.runUntilPredicate(
      () => m.vcpu.view.pendingExit?.phase === 'handled' && m.vcpu.view.rip === ops.length - 2,
    );
    expect(m.tis.snapshot().rwOffset).toBe(1);
    const ripBefore = m.vcpu.view.rip;
    m.vcpu.requestStop();
    m.scheduler.runUntilPredicate(() => m.vcpu.isStopped);
    return { m, got, ripBefore };
  }

  it('with completeMmioBeforeStop, the read retires (immediate_exit) before the vCPU stops', async () => {
    const { m, got, ripBefore } = await pausedInFifoRead(true);
    expect(m.vcpu.view).toMatchObject({
      runState: 'stopped',
      rip: ripBefore + 1,
      rax: 0x80,
      pendingExit: null,
    });
    expect(got.at(-1)?.input).toBe(0x80); // the program has the first byte of the header (tag 0x8001)
    const run = m.trace
      .window()
      .filter((e) => e.kind === 'kvm_run')
      .at(-1);
    expect(run?.data).toMatchObject({ immediateExit: true, ret: -4 });
    expect(m.vcpu.save().next).toEqual({ step: 'exit', delayNs: 1000 });
  });

  it('without it (2011), the vCPU stops with the exit pending and RIP on the load', async () => {
    const { m, got, ripBefore } = await pausedInFifoRead(false);
    expect(m.vcpu.view).toMatchObject({
      runState: 'stopped',
      rip: ripBefore,
      pendingExit: { phase: 'handled', addr: FIFO, size: 1, isWrite: false, data: 0x80 },
    });
    expect(got.at(-1)?.input).not.toBe(0x80);
    expect(m.vcpu.save()).toMatchObject({ next: { step: 'reenter', delayNs: 1000 } });
    // Resumed on the same machine, the re-entry completes the load from run->mmio.data: nothing lost.
    m.vcpu.cont();
    m.scheduler.runUntilIdle();
    expect(got.slice(-2).map((g) => g.input)).toEqual([0x80, 0x01]);
    expect(m.tis.snapshot().rwOffset).toBe(2);
  });

  it('a stop requested between exit and dispatch still lets QEMU dispatch the access first', async () => {
    for (const fix of [true, false]) {
      const m = await tisVcpu(opsProgram([{ op: 'read', addr: STS, size: 1 }]), {
        completeMmioBeforeStop: fix,
      });
      m.vcpu.boot();
      m.scheduler.step(); // exit
      m.vcpu.requestStop();
      expect(m.vcpu.isStopped).toBe(false);
      m.scheduler.runUntilPredicate(() => m.vcpu.isStopped);
      expect(m.vcpu.view.pendingExit?.phase ?? 'retired').toBe(fix ? 'retired' : 'handled');
    }
  });

  it('a stop between operations is immediate, and a sleeping vCPU keeps the rest of its sleep', async () => {
    const m = await tisVcpu(opsProgram([{ op: 'sleep', ns: 10_000 }, { op: 'now' }]));
    m.vcpu.boot();
    m.scheduler.runUntil(4_000);
    expect(m.vcpu.view.runState).toBe('sleeping');
    m.vcpu.requestStop();
    expect(m.vcpu.isStopped).toBe(true);
    m.scheduler.runUntil(50_000); // the world goes on; the vCPU does not
    expect(m.vcpu.view.rip).toBe(0);
    m.vcpu.cont();
    m.scheduler.runUntilIdle();
    expect(m.scheduler.nowNs).toBe(56_000);
    expect(m.vcpu.view.rip).toBe(2);
  });

  it('save() refuses a running vCPU', async () => {
    const m = await tisVcpu(opsProgram([{ op: 'sleep', ns: 1 }]));
    m.vcpu.boot();
    expect(() => m.vcpu.save()).toThrow(/stop the vCPU first/);
  });
});

describe('vCPU: restore by replay', () => {
  /** A device whose register 0 counts reads (a FIFO-like side effect); its state is one number. */
  function counterDevice(start = 0): MmioDevice & { n: number } {
    return {
      n: start,
      read(offset) {
        return offset === 0 ? this.n++ & 0xff : 0x5a;
      },
      write(_offset, _size, value) {
        this.n = value;
      },
    };
  }

  const BASE = 0x1000;
  /** Checkpoints {i, sum} before each round; continues right after a checkpoint when resumed. */
  const summing: GuestProgramFactory = (resume: JsonValue | null) =>
    (function* () {
      const r = (resume ?? { i: 0, sum: 0 }) as { i: number; sum: number };
      let { i, sum } = r;
      let resumed = resume !== null;
      for (; i < 6; i++) {
        if (!resumed) yield { op: 'checkpoint', state: { i, sum } };
        resumed = false;
        const a = (yield { op: 'read', addr: BASE, size: 1 }) as number;
        const b = (yield { op: 'read', addr: BASE + 4, size: 1 }) as number;
        sum += a + b;
        yield { op: 'sleep', ns: 3_000 + 1_000 * i };
        const t = (yield { op: 'now' }) as number;
        yield { op: 'print', text: `round ${i}: a=${a} sum=${sum} t=${t}` };
        if (i === 3) yield { op: 'write', addr: BASE, size: 1, value: 100 };
      }
    })();

  function build(device: MmioDevice & { n: number }, fix: boolean) {
    const scheduler = new Scheduler();
    const trace = new TraceLog({ windowSize: 100_000 });
    const bus = new MmioBus({ trace, now: () => scheduler.nowNs });
    bus.map({ name: 'counter', base: BASE, size: 0x10, device });
    const vcpu = new Vcpu({ scheduler, trace, bus, program: summing, completeMmioBeforeStop: fix });
    return { scheduler, trace, vcpu, device };
  }

  const tail = (trace: TraceLog, fromSeq: number) =>
    trace
      .since(fromSeq)
      .filter((e) => e.source !== 'vcpu')
      .map((e) => [e.t, e.source, e.kind, e.data]);

  const prints = (trace: TraceLog) =>
    trace
      .window()
      .filter((e) => e.kind === 'print')
      .map((e) => e.data);

  it('a vCPU rebuilt from its state continues exactly as the original, at every stop point', async () => {
    const reference = build(counterDevice(), true);
    reference.vcpu.boot();
    reference.scheduler.runUntilIdle();
    const totalSteps = reference.vcpu.kvmSteps;
    for (const fix of [true, false]) {
      for (let k = 0; k < totalSteps; k += 3) {
        const a = build(counterDevice(), fix);
        a.vcpu.boot();
        a.scheduler.runUntilPredicate(() => a.vcpu.kvmSteps >= k);
        a.vcpu.requestStop();
        a.scheduler.runUntilPredicate(() => a.vcpu.isStopped);
        const state = JSON.parse(JSON.stringify(a.vcpu.save())) as unknown;
        // The rest of the world restored as it was: the device's state and the clock.
        const b = build(counterDevice(a.device.n), fix);
        b.scheduler.restore({ nowNs: a.scheduler.nowNs, nextSeq: 0, events: [] });
        b.vcpu.restore(state);
        const archView = (v: Vcpu) => ({ ...v.view, kvmSteps: 0 }); // the step counter is not state
        expect(archView(b.vcpu)).toEqual(archView(a.vcpu));
        const [fromA, fromB] = [a.trace.totalCount, b.trace.totalCount];
        a.vcpu.cont();
        b.vcpu.cont();
        a.scheduler.runUntilIdle();
        b.scheduler.runUntilIdle();
        expect(tail(b.trace, fromB)).toEqual(tail(a.trace, fromA));
        // And stopping then continuing at once changed nothing the guest saw.
        expect(prints(a.trace)).toEqual(prints(reference.trace));
        expect(archView(b.vcpu)).toEqual(archView(a.vcpu));
      }
    }
  });

  it('restore refuses a state that does not fit the program, and malformed states', () => {
    const a = build(counterDevice(), true);
    a.vcpu.boot();
    a.scheduler.runUntilPredicate(() => a.vcpu.view.pendingExit?.phase === 'exited');
    a.vcpu.requestStop();
    a.scheduler.runUntilPredicate(() => a.vcpu.isStopped);
    const good = a.vcpu.save();
    const misfit = { ...good, program: { ...good.program, inputs: [...good.program.inputs, 1, 2] } };
    expect(() => build(counterDevice(), true).vcpu.restore(misfit)).toThrow(/does not fit the program/);
    expect(() => build(counterDevice(), true).vcpu.restore({ ...good, rip: -1 })).toThrow(/rip must be/);
    expect(() => build(counterDevice(), true).vcpu.restore({ ...good, next: null })).toThrow(
      /next must be null exactly/,
    );
  });
});
