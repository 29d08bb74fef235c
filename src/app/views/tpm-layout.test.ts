import { describe, expect, it } from 'vitest';
import { implementedCommands } from '../../core/tpm2';
import { CC } from '../../core/tpm2/constants';
import { ccName, commandLayout } from './tpm-layout';

describe('commandLayout', () => {
  it('agrees with the engine on every command it implements (handle count and response handle)', () => {
    const specs = implementedCommands();
    expect(specs.length).toBeGreaterThanOrEqual(30);
    for (const spec of specs) {
      expect({ name: spec.name, ...commandLayout(spec.code) }).toEqual({
        name: spec.name,
        handles: spec.handles.length,
        responseHandle: spec.responseHandle ?? false,
      });
    }
  });

  it('knows the Part 3 layout of commands the engine does not implement', () => {
    expect(commandLayout(CC.PolicyNV)).toEqual({ handles: 3, responseHandle: false });
    expect(commandLayout(CC.Load)).toEqual({ handles: 1, responseHandle: true });
    expect(commandLayout(CC.Quote)).toEqual({ handles: 1, responseHandle: false });
  });

  it('says nothing about a code that is not a command', () => {
    expect(commandLayout(0x12345)).toBeUndefined();
    expect(ccName(CC.GetRandom)).toBe('GetRandom');
    expect(ccName(0)).toBeUndefined();
  });
});
