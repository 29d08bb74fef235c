import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { tisMachine } from '../../core/tis';
import {
  chartOfMachine,
  flattenStateValue,
  lastTransitionBetween,
  normaliseActive,
  pathOfId,
  transitionsOf,
} from './state-chart';

describe('chartOfMachine on the TIS machine', () => {
  const chart = chartOfMachine(tisMachine);

  it('draws every parallel region of the definition side by side, in definition order', () => {
    expect(chart.machineId).toBe('tis');
    expect(chart.regions.map((r) => r.key)).toEqual(Object.keys(tisMachine.root.states));
    expect(chart.regions.map((r) => r.key)).toEqual([
      'locality',
      'abort',
      'cmd0',
      'cmd1',
      'cmd2',
      'cmd3',
      'cmd4',
      'registers',
    ]);
  });

  it('orders a command region along the path a command takes: idle, ready, reception, execution, completion', () => {
    const cmd2 = chart.regions.find((r) => r.key === 'cmd2');
    expect(cmd2?.states.map((s) => s.key)).toEqual(['idle', 'ready', 'reception', 'execution', 'completion']);
    expect(cmd2?.states.map((s) => s.path)[0]).toBe('cmd2.idle');
    expect(cmd2?.states.filter((s) => s.isInitial).map((s) => s.key)).toEqual(['idle']);
  });

  it('shows the moves QEMU can make out of reception, with their events and guard', () => {
    const reception = chart.regions.find((r) => r.key === 'cmd0')?.states.find((s) => s.key === 'reception');
    expect(reception?.transitions).toEqual([
      { events: ['mmio.write'], targets: ['cmd0.execution'], guard: 'commandStateBecomes' },
      { events: ['mmio.write', 'backend.completed'], targets: ['cmd0.ready'], guard: 'commandStateBecomes' },
    ]);
  });

  it('reads the locality region (a move to every other locality on two events) as one line per state', () => {
    const none = chart.regions.find((r) => r.key === 'locality')?.states.find((s) => s.key === 'none');
    expect(none?.transitions).toEqual([
      {
        events: ['mmio.write', 'backend.completed'],
        targets: ['locality.l0', 'locality.l1', 'locality.l2', 'locality.l3', 'locality.l4'],
        guard: 'activeLocalityBecomes',
      },
    ]);
  });

  it('keeps region-level transitions (reset) and transitions that stay (the register file)', () => {
    const cmd0 = chart.regions.find((r) => r.key === 'cmd0');
    expect(cmd0?.transitions).toEqual([{ events: ['reset'], targets: ['cmd0.idle'], guard: null }]);
    const file = chart.regions.find((r) => r.key === 'registers')?.states[0];
    expect(file?.transitions).toContainEqual({
      events: ['mmio.read', 'mmio.write', 'backend.completed'],
      targets: [],
      guard: 'changesRegisters',
    });
    expect(file?.transitions).toContainEqual({ events: ['reset'], targets: [], guard: null });
  });

  it('every transition target is a state the chart draws', () => {
    const drawn = new Set(chart.regions.flatMap((r) => r.states.map((s) => s.path)));
    for (const r of chart.regions) {
      for (const t of [...r.transitions, ...r.states.flatMap((s) => s.transitions)]) {
        for (const target of t.targets) expect(drawn.has(target)).toBe(true);
      }
    }
  });
});

describe('chartOfMachine on other machines', () => {
  it('draws a non-parallel machine as one region and names a function guard', () => {
    const m = createMachine({
      id: 'light',
      initial: 'green',
      states: {
        green: {
          on: {
            TIMER: {
              target: 'yellow',
              guard: function isLate() {
                return true;
              },
            },
          },
        },
        yellow: { on: { TIMER: 'red' } },
        red: { on: { TIMER: 'green' } },
        broken: {},
      },
    });
    const chart = chartOfMachine(m);
    expect(chart.regions).toHaveLength(1);
    expect(chart.regions[0]?.states.map((s) => s.key)).toEqual(['green', 'yellow', 'red', 'broken']);
    expect(chart.regions[0]?.states[0]?.transitions).toEqual([
      { events: ['TIMER'], targets: ['yellow'], guard: 'isLate' },
    ]);
  });

  it('transitionsOf a node without transitions is empty', () => {
    expect(transitionsOf(chartNodeWithout())).toEqual([]);
  });
});

function chartNodeWithout() {
  return { key: 'x', id: 'x', path: ['x'], type: 'atomic', states: {}, transitions: new Map() };
}

describe('flattenStateValue', () => {
  it('turns the TIS machine’s initial value into one active leaf per region', () => {
    const value = createActor(tisMachine, { input: {} }).start().getSnapshot().value;
    expect(flattenStateValue(value)).toEqual([
      'locality.none',
      'abort.clear',
      'cmd0.idle',
      'cmd1.idle',
      'cmd2.idle',
      'cmd3.idle',
      'cmd4.idle',
      'registers.file',
    ]);
  });

  it('handles a string value and nested compound values', () => {
    expect(flattenStateValue('idle')).toEqual(['idle']);
    expect(flattenStateValue({ a: { b: 'c' }, d: 'e' })).toEqual(['a.b.c', 'd.e']);
    expect(flattenStateValue({ a: {} })).toEqual(['a']);
  });
});

describe('pathOfId', () => {
  it('drops the machine id from an XState id and keeps a path', () => {
    expect(pathOfId('tis.cmd0.execution', 'tis')).toBe('cmd0.execution');
    expect(pathOfId('cmd0.execution', 'tis')).toBe('cmd0.execution');
  });
});

describe('normaliseActive', () => {
  it('accepts XState ids and paths alike and lights the ancestors', () => {
    const set = normaliseActive(['tis.cmd0.reception', 'locality.l0'], 'tis');
    expect([...set].sort()).toEqual(['cmd0', 'cmd0.reception', 'locality', 'locality.l0']);
  });
});

describe('lastTransitionBetween', () => {
  it('names the command-state move when a command starts executing', () => {
    const before = { locality: 'l0', abort: 'clear', cmd0: 'reception', registers: 'file' };
    const after = { locality: 'l0', abort: 'clear', cmd0: 'execution', registers: 'file' };
    expect(lastTransitionBetween(before, after, 'mmio.write')).toEqual({
      from: 'cmd0.reception',
      to: 'cmd0.execution',
      event: 'mmio.write',
    });
  });

  it('prefers the command state when a seize also moves the locality', () => {
    const before = { locality: 'l0', cmd0: 'execution', cmd2: 'idle' };
    const after = { locality: 'l2', cmd0: 'ready', cmd2: 'idle' };
    expect(lastTransitionBetween(before, after, 'backend.completed')?.to).toBe('cmd0.ready');
  });

  it('falls back to the first region that moved, and is null when nothing did', () => {
    expect(lastTransitionBetween({ locality: 'none' }, { locality: 'l0' }, 'mmio.write')).toEqual({
      from: 'locality.none',
      to: 'locality.l0',
      event: 'mmio.write',
    });
    expect(lastTransitionBetween({ cmd0: 'idle' }, { cmd0: 'idle' }, 'mmio.read')).toBeNull();
  });
});
