import { describe, expect, it } from 'vitest';
import {
  createGuestProgram,
  DRIVER_DESCRIPTIONS,
  DRIVER_NAMES,
  parseGuestConfig,
  WORKLOAD_DESCRIPTIONS,
  WORKLOAD_NAMES,
} from './index';

describe('guest config', () => {
  it('lists the drivers and workloads the UI and the CLI offer, each with a description', () => {
    expect(DRIVER_NAMES).toEqual(['linux', 'linux-2.6.37']);
    expect(WORKLOAD_NAMES).toEqual(['keygen', 'pcr-extend', 'getrandom', 'nv-counter']);
    expect(Object.keys(DRIVER_DESCRIPTIONS)).toEqual([...DRIVER_NAMES]);
    expect(Object.keys(WORKLOAD_DESCRIPTIONS)).toEqual([...WORKLOAD_NAMES]);
  });

  it('accepts a plain JSON config, with or without iterations', () => {
    const json = JSON.parse('{"driver":"linux-2.6.37","workload":"nv-counter","iterations":5}');
    expect(parseGuestConfig(json)).toEqual({ driver: 'linux-2.6.37', workload: 'nv-counter', iterations: 5 });
    expect(parseGuestConfig({ driver: 'linux', workload: 'keygen' })).toEqual({
      driver: 'linux',
      workload: 'keygen',
    });
    expect(typeof createGuestProgram({ driver: 'linux', workload: 'getrandom' })).toBe('function');
  });

  it('names the bad field and what it may be', () => {
    expect(() => createGuestProgram({ driver: 'windows', workload: 'keygen' } as never)).toThrow(
      'guest config: field \'driver\' must be one of linux, linux-2.6.37; got "windows"',
    );
    expect(() => parseGuestConfig({ driver: 'linux', workload: 'fuzz' })).toThrow(
      /field 'workload' must be one of keygen/,
    );
    expect(() => parseGuestConfig({ driver: 'linux', workload: 'keygen', iterations: -1 })).toThrow(
      /field 'iterations' must be a non-negative integer/,
    );
    expect(() => parseGuestConfig({ driver: 'linux', workload: 'keygen', iterations: 1.5 })).toThrow(
      /'iterations'/,
    );
    expect(() => parseGuestConfig({ driver: 'linux', workload: 'keygen', seed: 1 })).toThrow(
      /unknown field 'seed'/,
    );
    expect(() => parseGuestConfig(null)).toThrow(/expected an object/);
  });

  it('refuses a checkpoint state from another program, naming what it expected', () => {
    const factory = createGuestProgram({ driver: 'linux', workload: 'keygen' });
    expect(() => factory({ workload: 'getrandom', driverName: 'linux' })).toThrow(
      /expected workload 'keygen' over driver 'linux'/,
    );
    expect(() =>
      factory({ workload: 'keygen', driverName: 'linux', iteration: 0, driver: {}, data: {} }),
    ).toThrow(/linux driver: malformed state/);
  });
});
