import { describe, expect, it } from 'vitest';
import { formatConsoleLine } from './console';

describe('formatConsoleLine', () => {
  it('prints the time as dmesg does: seconds right-aligned in five columns, then microseconds', () => {
    expect(formatConsoleLine(1_234_567_890, 'tpm tpm0: Operation Timed out')).toBe(
      '[    1.234567] tpm tpm0: Operation Timed out',
    );
    expect(formatConsoleLine(0, 'boot')).toBe('[    0.000000] boot');
    expect(formatConsoleLine(120_000_999_999, 'x')).toBe('[  120.000999] x');
    expect(formatConsoleLine(123_456_000_000_000, 'x')).toBe('[123456.000000] x');
  });

  it('refuses a time that is not a non-negative integer of ns', () => {
    expect(() => formatConsoleLine(-1, 'x')).toThrow(/non-negative integer/);
    expect(() => formatConsoleLine(1.5, 'x')).toThrow(/non-negative integer/);
  });
});
