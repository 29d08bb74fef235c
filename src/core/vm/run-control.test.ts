import { describe, expect, it } from 'vitest';
import { parseRunCondition } from './run-control';

describe('parseRunCondition', () => {
  it('accepts the conditions run control knows', () => {
    for (const c of [
      { kind: 'responseBytesRead', count: 6 },
      { kind: 'commandInFlight' },
      { kind: 'responseWaitingForBottomHalf' },
      { kind: 'transactionsDone', count: 3 },
      { kind: 'mark', name: 'driver.op' },
    ]) {
      expect(parseRunCondition(JSON.parse(JSON.stringify(c)))).toEqual(c);
    }
  });

  it('names what is wrong', () => {
    expect(() => parseRunCondition({ kind: 'responseBytesRead', count: -1 })).toThrow(
      /responseBytesRead.count must be a non-negative integer, got -1/,
    );
    expect(() => parseRunCondition({ kind: 'bytes' })).toThrow(/unknown kind "bytes"/);
    expect(() => parseRunCondition({ kind: 'mark' })).toThrow(/mark.name must be a string/);
    expect(() => parseRunCondition('commandInFlight')).toThrow(/expected an object/);
  });
});
