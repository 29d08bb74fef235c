import { describe, expect, it } from 'vitest';
import type { SimView } from '../../workers/sim-protocol';
import { deepEqual, stabilize } from './stable-view';

function view(over: Partial<SimView> = {}): SimView {
  return {
    ready: true,
    running: true,
    busy: null,
    machine: null,
    role: 'source',
    migrations: 0,
    scenarioId: null,
    guest: { driver: 'linux', workload: 'keygen' },
    settings: { speed: 0, completeMmioBeforeStop: true, inflight: 'wait' },
    tis: null,
    tisActive: ['locality.l0', 'cmd0.execution'],
    lastTransition: null,
    transaction: {
      index: 0,
      name: 'CreatePrimary',
      command: new Uint8Array([0x80, 1]),
      response: null,
      received: [],
      error: null,
    },
    lastStop: null,
    snapshot: null,
    cut: null,
    markers: [],
    error: null,
    traceHash: null,
    ...over,
  };
}

describe('stabilize', () => {
  it('keeps the old objects of parts that did not change, so their panels do not redraw', () => {
    const a = view();
    const b = stabilize(a, view());
    expect(b.transaction).toBe(a.transaction);
    expect(b.tisActive).toBe(a.tisActive);
    expect(b.settings).toBe(a.settings);
  });

  it('takes the new object where something changed', () => {
    const a = view();
    const next = view({
      transaction: { ...a.transaction!, received: [0x80] },
      tisActive: ['locality.l0', 'cmd0.completion'],
    });
    const b = stabilize(a, next);
    expect(b.transaction).toEqual(next.transaction);
    // The command did not change: the TPM decoder keeps its object and does not decode it again.
    expect(b.transaction?.command).toBe(a.transaction?.command);
    expect(b.tisActive).toBe(next.tisActive);
  });

  it('compares bytes by content', () => {
    expect(deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(deepEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
  });
});
