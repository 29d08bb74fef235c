// Console lines as dmesg shows them: printk's "[%5lu.%06lu] " timestamp (seconds, then microseconds) in
// front of the text. Guest time is virtual ns since the machine started.

export interface ConsoleLine {
  /** Virtual time the line was printed at. */
  ns: number;
  text: string;
  level: 'info' | 'warn' | 'err';
}

/** `[    1.234567] text` for 1_234_567_890 ns. */
export function formatConsoleLine(ns: number, text: string): string {
  if (!Number.isSafeInteger(ns) || ns < 0) {
    throw new RangeError(`formatConsoleLine: time must be a non-negative integer of ns, got ${ns}`);
  }
  const seconds = Math.floor(ns / 1e9);
  const micros = Math.floor((ns % 1e9) / 1e3);
  return `[${String(seconds).padStart(5, ' ')}.${String(micros).padStart(6, '0')}] ${text}`;
}
