import { describe, expect, it } from 'vitest';
import { createMachine } from '../vm/machine';
import { playActions } from './play';
import { DUPLICATED_MMIO_READ_2011, findScenario, INFLIGHT_COMMAND_2017, SCENARIOS } from './presets';
import { parseScenarioAction, parseScenarioStop, type Scenario } from './scenario';

const withFix = (s: Scenario, on: boolean) => ({ ...s.config, completeMmioBeforeStop: on });

describe('the presets', () => {
  it('are plain JSON that parses back to themselves', () => {
    for (const s of SCENARIOS) {
      const copy = JSON.parse(JSON.stringify(s)) as Scenario;
      expect(copy).toEqual(s);
      for (const a of [...s.setup, ...s.next]) expect(parseScenarioAction(a)).toEqual(a);
      expect(findScenario(s.id)).toBe(s);
    }
    expect(SCENARIOS.map((s) => s.title)).toEqual([
      'Duplicated MMIO read on resume (2011)',
      'In-flight command at savevm (2017)',
    ]);
  });
});

describe('Duplicated MMIO read on resume (2011)', () => {
  const s = DUPLICATED_MMIO_READ_2011;

  it('stops between a FIFO read’s exit and its re-entry', async () => {
    const m = await createMachine(s.config);
    await playActions(m, s.setup);
    const v = m.vcpu.view;
    expect(v.pendingExit).toMatchObject({ addr: 0xfed40024, isWrite: false, phase: 'handled' });
    expect(v.next?.step).toBe('reenter');
    expect(m.responseBytesRead).toBe(20);
  });

  it('without the fix: migrate and resume duplicate the read', async () => {
    const m = await createMachine(withFix(s, false));
    const { machine } = await playActions(m, [...s.setup, ...s.next]);
    expect(machine).not.toBe(m);
    expect(machine.hazards.map((h) => h.title)).toEqual(['Duplicated MMIO read']);
  });

  it('with the fix: the pause completes the read and nothing goes wrong', async () => {
    const m = await createMachine(withFix(s, true));
    const { machine } = await playActions(m, [...s.setup, ...s.next]);
    expect(machine.hazards).toEqual([]);
    expect(machine.consoleLines.filter((l) => l.level === 'err')).toEqual([]);
  });
});

describe('In-flight command at savevm (2017)', () => {
  const s = INFLIGHT_COMMAND_2017;

  it('stops while the TPM executes CreatePrimary', async () => {
    const m = await createMachine(s.config);
    await playActions(m, s.setup);
    expect(m.backend.phase).toBe('executing');
    const input = m.backend.inFlightCommand?.input;
    expect(input && new DataView(input.buffer).getUint32(6)).toBe(0x131);
  });

  it('drop loses the response; replay executes it twice; wait is clean', async () => {
    const titles = async (inflight: 'wait' | 'drop' | 'replay') => {
      const m = await createMachine(s.config);
      const { machine } = await playActions(m, [...s.setup, ...s.next], { inflight });
      return {
        hazards: machine.hazards.map((h) => h.title),
        errors: machine.consoleLines.filter((l) => l.level === 'err').length,
      };
    };
    expect(await titles('drop')).toMatchObject({ hazards: ['Lost response'] });
    expect((await titles('drop')).errors).toBeGreaterThan(0);
    expect((await titles('replay')).hazards).toEqual(['Double execution']);
    expect(await titles('wait')).toEqual({ hazards: [], errors: 0 });
  });
});

describe('checks of scenario data', () => {
  it('name what is wrong', () => {
    expect(() =>
      parseScenarioStop({ kind: 'pendingMmio', register: 'FOO', isWrite: false, phase: 'handled' }),
    ).toThrow(/register must be one of ACCESS, STS, DATA_FIFO/);
    expect(() => parseScenarioStop({ kind: 'backendPhase', phase: 'sleeping' })).toThrow(
      /phase must be one of/,
    );
    expect(() => parseScenarioStop({ kind: 'backendPhase', phase: 'idle', command: 'Nope' })).toThrow(
      /TPM2_CC name/,
    );
    expect(() => parseScenarioAction({ do: 'jump' })).toThrow(/unknown 'do'/);
    expect(() => parseScenarioStop({ kind: 'responseBytesRead', count: -1 })).toThrow(/count/);
  });

  it('a run whose stop never comes says so', async () => {
    const m = await createMachine({
      seed: 1,
      guest: { driver: 'linux', workload: 'getrandom', iterations: 1 },
    });
    await expect(
      playActions(m, [{ do: 'run', until: { kind: 'transactionsDone', count: 5 } }]),
    ).rejects.toThrow(/5 transactions done ended \(halted\)/);
  });
});
