// JSON values with one canonical text form. Scheduler payloads, trace data and snapshots are all JsonValue, so
// a snapshot is plain data and a trace hash depends only on content, never on key insertion order.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, i.e. the default sort) at every depth, no
 * whitespace. Throws a TypeError naming the path (like `$.a[2].b`) for anything JSON cannot represent
 * faithfully: undefined, functions, symbols, bigint, NaN/Infinity, non-plain objects and cycles. Plain
 * JSON.stringify would silently drop or null those, which would make two different states hash the same.
 */
export function stableStringify(value: JsonValue): string {
  return write(value, '$', []);
}

/** A deep copy of a JSON value, validated like stableStringify, so saved state shares nothing with live state. */
export function cloneJson(value: JsonValue): JsonValue {
  return copy(value, '$', []);
}

function write(value: unknown, path: string, ancestors: object[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return JSON.stringify(checkNumber(value, path));
    case 'string':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw notJson(path, typeof value);
  }
  enter(value, path, ancestors);
  let out: string;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) parts.push(write(value[i], `${path}[${i}]`, ancestors));
    out = `[${parts.join(',')}]`;
  } else {
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      parts.push(`${JSON.stringify(key)}:${write(record[key], childPath(path, key), ancestors)}`);
    }
    out = `{${parts.join(',')}}`;
  }
  ancestors.pop();
  return out;
}

function copy(value: unknown, path: string, ancestors: object[]): JsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      return checkNumber(value, path);
    case 'object':
      break;
    default:
      throw notJson(path, typeof value);
  }
  enter(value, path, ancestors);
  let out: JsonValue;
  if (Array.isArray(value)) {
    out = [];
    for (let i = 0; i < value.length; i++) out.push(copy(value[i], `${path}[${i}]`, ancestors));
  } else {
    const record = value as Record<string, unknown>;
    const obj: { [k: string]: JsonValue } = {};
    for (const key of Object.keys(record)) {
      // defineProperty, not assignment: assigning to '__proto__' would change the prototype instead.
      Object.defineProperty(obj, key, {
        value: copy(record[key], childPath(path, key), ancestors),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    out = obj;
  }
  ancestors.pop();
  return out;
}

function checkNumber(n: number, path: string): number {
  if (!Number.isFinite(n)) throw new TypeError(`not JSON at ${path}: non-finite number ${String(n)}`);
  return n;
}

function enter(value: object, path: string, ancestors: object[]): void {
  if (ancestors.includes(value)) throw new TypeError(`not JSON at ${path}: circular reference`);
  if (!Array.isArray(value)) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`not JSON at ${path}: not a plain object or array`);
    }
  }
  ancestors.push(value);
}

function notJson(path: string, type: string): TypeError {
  return new TypeError(`not JSON at ${path}: ${type}`);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
