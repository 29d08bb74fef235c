import { describe, expect, it } from 'vitest';
import { parseResponse } from '../tpm2/build';
import { createMachine, type Machine } from './machine';
import { MachineConfigError } from './machine-config';
import { FIFO, getRandomLoop } from './vm-test-kit';

const hexToBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const getrandom = (iterations = 1) => ({
  seed: 'machine',
  guest: { driver: 'linux', workload: 'getrandom', iterations },
});

/** What a user sees at the end: the console and every TPM response. */
const outcome = (m: Machine) => ({ console: m.view.console, transactions: m.transactions });

describe('createMachine', () => {
  it('rejects a bad config with an Error naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [null, /expected an object/],
      [{ guest: { driver: 'linux', workload: 'keygen' } }, /field 'seed'/],
      [
        { seed: 1, guest: { driver: 'windows', workload: 'keygen' } },
        /field 'guest'.*'driver' must be one of linux/,
      ],
      [
        { seed: 1, guest: { driver: 'linux', workload: 'keygen' }, tpmSpeed: 0 },
        /field 'tpmSpeed' must be a positive/,
      ],
      [
        { seed: 1, guest: { driver: 'linux', workload: 'keygen' }, steps: { exitNs: 1 } },
        /field 'steps.deviceNs'/,
      ],
      [
        { seed: 1, guest: { driver: 'linux', workload: 'keygen' }, completeMmioBeforeStop: 'yes' },
        /completeMmioBeforeStop/,
      ],
      [{ seed: 1, guest: { driver: 'linux', workload: 'keygen' }, speed: 2 }, /unknown field 'speed'/],
    ];
    for (const [config, message] of cases) {
      const err = await createMachine(config).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MachineConfigError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('a keygen loop through the whole machine returns only valid responses, for both drivers', async () => {
    for (const driver of ['linux', 'linux-2.6.37']) {
      const m = await createMachine({ seed: 'keygen', guest: { driver, workload: 'keygen', iterations: 3 } });
      const r = await m.run();
      expect(r.reason).toBe('halted');
      expect(m.transactions).toHaveLength(6); // CreatePrimary + FlushContext, three times
      for (const t of m.transactions as { rc: number; responseHex: string }[]) {
        expect(t.rc).toBe(0);
        const response = hexToBytes(t.responseHex);
        expect(parseResponse(response)).toMatchObject({ rc: 0, size: response.length });
      }
      expect(m.view.console.at(-1)).toMatch(/^\[ {4}0\.\d{6}\] keygen: done after 3 iterations$/);
    }
  });

  it('a run is a pure function of (config, seed): same trace hash, and another seed changes it', async () => {
    const hash = async (seed: string) => {
      const m = await createMachine({ ...getrandom(2), seed });
      await m.run();
      return m.trace.traceHash();
    };
    expect(await hash('a')).toBe(await hash('a'));
    expect(await hash('a')).not.toBe(await hash('b'));
  });

  it('the view is plain data', async () => {
    const m = await createMachine(getrandom());
    await m.run({ until: { kind: 'responseBytesRead', count: 3 } });
    const view = m.view;
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
    expect(view).toMatchObject({ vmRunning: true, responseBytesRead: 3, transactionsDone: 0 });
    expect(view.console[0]).toMatch(/^\[ {4}0\.0000\d\d\] tpm_tis/);
  });
});

describe('run control', () => {
  it('runs until the driver has read N response bytes: the Nth FIFO read has just retired', async () => {
    const m = await createMachine(getrandom());
    const r = await m.run({ until: { kind: 'responseBytesRead', count: 6 } });
    expect(r.reason).toBe('condition');
    expect(m.responseBytesRead).toBe(6);
    expect(m.tis.snapshot().rwOffset).toBe(6);
    expect(m.vcpu.view.pendingExit).toBeNull();
  });

  it('runs until a command is in flight, until the response waits for its bottom half, until N transactions', async () => {
    const m = await createMachine(getrandom(3));
    await m.run({ until: { kind: 'commandInFlight' } });
    expect(m.backend.isBusy).toBe(true);
    await m.run({ until: { kind: 'responseWaitingForBottomHalf' } });
    expect(m.backend.phase).toBe('bottomHalfPending');
    const r = await m.run({ until: { kind: 'transactionsDone', count: 2 } });
    expect(r.reason).toBe('condition');
    expect(m.transactionsDone).toBe(2);
    expect((await m.run({ until: { kind: 'transactionsDone', count: 10 } })).reason).toBe('halted');
  });

  it('steps one KVM step, one instruction, one driver operation', async () => {
    const m = await createMachine(getrandom(), { program: getRandomLoop(1) });
    await m.run({ until: { kind: 'mark', name: 'transaction.start' } });
    await m.stepDriverOp();
    expect(m.trace.window().at(-1)).toMatchObject({
      kind: 'mark',
      data: { name: 'driver.op', data: { name: 'request_locality' } },
    });
    const count = m.trace.totalCount;
    await m.stepKvm();
    expect(m.trace.since(count).map((e) => e.kind)).toEqual(['kvm_exit']);
    expect(m.vcpu.view.pendingExit).toMatchObject({ phase: 'exited', isWrite: true });
    await m.stepInstruction(); // the rest of the store: dispatch and re-entry
    expect(m.vcpu.view.pendingExit).toBeNull();
    const [ripBefore, stepsBefore] = [m.vcpu.view.rip, m.vcpu.kvmSteps];
    await m.stepInstruction(); // a whole load: three steps
    expect(m.vcpu.view.rip).toBe(ripBefore + 1);
    expect(m.vcpu.kvmSteps - stepsBefore).toBe(3);
  });

  /** Run until the driver's read of the 5th response byte has been handled by the device (step 2). */
  async function inFifoRead(fix: boolean) {
    const m = await createMachine({ ...getrandom(), completeMmioBeforeStop: fix });
    await m.run({ until: { kind: 'responseBytesRead', count: 4 } });
    await m.run({
      until: () => m.vcpu.view.pendingExit?.phase === 'handled' && m.vcpu.view.pendingExit.addr === FIFO,
    });
    expect(m.tis.snapshot().rwOffset).toBe(5);
    return m;
  }

  it('pause between steps 2 and 3 with the fix on retires the read first', async () => {
    const m = await inFifoRead(true);
    const rip = m.vcpu.view.rip;
    await m.pause();
    expect(m.isPaused).toBe(true);
    expect(m.vcpu.view).toMatchObject({ runState: 'stopped', rip: rip + 1, pendingExit: null });
    expect(m.responseBytesRead).toBe(5);
  });

  it('pause between steps 2 and 3 with the fix off leaves RIP on the load and the exit pending', async () => {
    const m = await inFifoRead(false);
    const { rip, pendingExit } = m.vcpu.view;
    await m.pause();
    expect(m.vcpu.view).toMatchObject({
      runState: 'stopped',
      rip,
      pendingExit: { ...pendingExit, phase: 'handled' },
    });
    expect(m.responseBytesRead).toBe(4);
    // Resumed on the same machine, nothing is lost: the data is still in the exit.
    await m.run();
    const reference = await createMachine(getrandom());
    await reference.run();
    expect(outcome(m)).toEqual(outcome(reference));
  });

  it('pause/resume at every step boundary of a whole transaction changes nothing the guest sees', async () => {
    const reference = await createMachine(getrandom());
    await reference.run({ until: { kind: 'mark', name: 'transaction.start' } });
    const first = reference.vcpu.kvmSteps;
    await reference.run();
    const last = reference.vcpu.kvmSteps;
    expect(last - first).toBeGreaterThan(200);
    for (const fix of [true, false]) {
      for (let k = first; k <= last; k++) {
        const m = await createMachine({ ...getrandom(), completeMmioBeforeStop: fix });
        await m.run({ until: () => m.vcpu.kvmSteps >= k });
        await m.pause();
        m.resume();
        await m.run();
        expect(outcome(m), `pause at step ${k}, fix ${String(fix)}`).toEqual(outcome(reference));
      }
    }
  });

  it('while paused the devices run on and the vCPU does not; the guest still gets every byte', async () => {
    for (const fix of [true, false]) {
      const m = await inFifoRead(fix);
      await m.pause();
      const rip = m.vcpu.view.rip;
      await m.backend.run({ limitNs: m.scheduler.nowNs + 5_000_000 }); // QEMU's main loop, 5 ms
      expect(m.vcpu.view.rip).toBe(rip);
      await m.run();
      const reference = await createMachine(getrandom());
      await reference.run();
      const text = (lines: string[]) => lines.map((l) => l.replace(/^\[[ \d.]+\] /, ''));
      expect(text(m.view.console)).toEqual(text(reference.view.console));
      expect(m.transactions).toEqual(reference.transactions);
    }
  });
});
