// Small runtime guards shared by the kernel. Snapshot state arrives from files and workers as untyped JSON,
// so every restore() validates with these before touching anything, and error messages name the bad value.

/** True for integers in [0, 2^53 - 1]: the range where nanosecond arithmetic on JS numbers stays exact. */
export function isSafeNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** True for integers in [0, 2^32 - 1]. */
export function isU32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
}

/** True for a non-null, non-array object, i.e. something a JSON object could have parsed into. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A short rendering of any value for error messages; never throws (cycles, symbols, bigint are fine). */
export function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return String(x);
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `array(${x.length})`;
  return typeof x;
}
