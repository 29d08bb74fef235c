// Loading migrated TIS registers: a destination that loads what the source saved behaves, access for
// access, like the source would have; a bad stream is refused field by field and changes nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REG_ACCESS, REG_DATA_FIFO, REG_STS } from './registers';
import type { TisRegisterView } from './tis-device';
import { TisStateError } from './tis-restore';
import {
  GET_RANDOM_COMMAND,
  GET_RANDOM_RESPONSE,
  invariantViolations,
  newTis,
  reg,
  tisReadingResponse,
} from './tis-test-kit';

const GET_RANDOM = GET_RANDOM_COMMAND;
const RESPONSE = GET_RANDOM_RESPONSE;

type Access =
  { op: 'r'; addr: number; size: number } | { op: 'w'; addr: number; size: number; value: number };

const accessArb: fc.Arbitrary<Access> = fc.oneof(
  fc.record({
    op: fc.constant('r' as const),
    addr: fc
      .tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom(0x00, 0x08, 0x10, 0x14, 0x18, 0x19, 0x1a, 0x24))
      .map(([l, o]) => reg(l, o)),
    size: fc.constantFrom(1, 4),
  }),
  fc.record({
    op: fc.constant('w' as const),
    addr: fc
      .tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom(0x00, 0x08, 0x18, 0x24))
      .map(([l, o]) => reg(l, o)),
    size: fc.constant(1),
    value: fc.constantFrom(0x02, 0x08, 0x20, 0x40, 0x02, 0x80, 0x01, 0x00, 0x0c),
  }),
);

function apply(tis: ReturnType<typeof newTis>['tis'], a: Access): number {
  if (a.op === 'r') return tis.read(a.addr, a.size);
  tis.write(a.addr, a.size, a.value);
  return -1;
}

const midTransaction = tisReadingResponse;

describe('TisDevice.restore', () => {
  it('continues a half-read response on the destination byte for byte', () => {
    const src = midTransaction(6);
    const dst = newTis();
    dst.tis.restore(src.tis.snapshot());
    expect(dst.tis.machineSnapshot.value).toEqual(src.tis.machineSnapshot.value);
    const rest = (t: typeof src) =>
      Array.from({ length: RESPONSE.length - 6 + 1 }, () => t.tis.read(reg(0, REG_DATA_FIFO), 1));
    const onDestination = rest(dst);
    expect(onDestination).toEqual([...RESPONSE.slice(6), 0xff]);
    expect(rest(src)).toEqual(onDestination);
  });

  it('puts the machine in the states the registers imply (locality, command, deferred abort)', () => {
    const src = newTis();
    src.tis.write(reg(0, REG_ACCESS), 1, 0x02);
    src.tis.write(reg(0, REG_STS), 1, 0x40);
    for (const b of GET_RANDOM) src.tis.write(reg(0, REG_DATA_FIFO), 1, b);
    src.tis.write(reg(0, REG_STS), 1, 0x20);
    src.tis.write(reg(2, REG_ACCESS), 1, 0x08); // locality 2 seizes while 0 executes: the abort waits
    const dst = newTis();
    dst.tis.restore(src.tis.snapshot());
    expect(dst.tis.machineSnapshot.value).toMatchObject({
      locality: 'l0',
      abort: 'deferred',
      cmd0: 'execution',
    });
    expect(invariantViolations(dst.tis.machineSnapshot)).toEqual([]);
  });

  it('any cut: the destination answers every later access as the source does', () => {
    fc.assert(
      fc.property(
        fc.array(accessArb, { maxLength: 60 }),
        fc.array(accessArb, { maxLength: 60 }),
        (before, after) => {
          const src = newTis();
          for (const a of before) apply(src.tis, a);
          const dst = newTis();
          dst.tis.restore(src.tis.snapshot());
          for (const a of after) expect(apply(dst.tis, a)).toBe(apply(src.tis, a));
          expect(dst.tis.snapshot()).toEqual(src.tis.snapshot());
          expect(dst.tis.machineSnapshot.value).toEqual(src.tis.machineSnapshot.value);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps what QEMU does not migrate from the destination (the backend buffer size)', () => {
    const src = midTransaction(0);
    const dst = newTis(1024);
    dst.tis.restore(src.tis.snapshot());
    dst.tis.write(reg(0, REG_STS), 1, 0x40); // completion -> ready
    expect((dst.tis.read(reg(0, REG_STS), 4) >>> 8) & 0xffff).toBe(1024);
  });

  const bad: [string, (v: TisRegisterView) => unknown, RegExp][] = [
    ['rw_offset past the buffer', (v) => ({ ...v, rwOffset: 5000 }), /rw_offset must be 0\.\.4096/],
    ['an active locality of 7', (v) => ({ ...v, activeLocality: 7 }), /active_locty must be a locality/],
    ['a short buffer', (v) => ({ ...v, buffer: new Uint8Array(10) }), /buffer must be 4096 bytes/],
    ['four localities', (v) => ({ ...v, localities: v.localities.slice(0, 4) }), /loc must hold 5/],
    [
      'an unknown command state',
      (v) => ({ ...v, localities: v.localities.map((l, i) => (i === 3 ? { ...l, state: 'running' } : l)) }),
      /loc\[3\]\.state must be one of/,
    ],
    [
      'an ACCESS value above a byte',
      (v) => ({ ...v, localities: v.localities.map((l, i) => (i === 1 ? { ...l, access: 0x100 } : l)) }),
      /loc\[1\]\.access must be a byte/,
    ],
    ['not an object', () => 'tpm-tis', /state is not an object/],
  ];
  it.each(bad)('refuses %s, naming the field, and changes nothing', (_, corrupt, message) => {
    const src = midTransaction(3);
    const dst = midTransaction(1);
    const before = dst.tis.snapshot();
    const machineBefore = dst.tis.machineSnapshot.value;
    const attempt = () => dst.tis.restore(corrupt(src.tis.snapshot()) as TisRegisterView);
    expect(attempt).toThrow(TisStateError);
    expect(attempt).toThrow(message);
    expect(dst.tis.snapshot()).toEqual(before);
    expect(dst.tis.machineSnapshot.value).toEqual(machineBefore);
    expect(dst.tis.read(reg(0, REG_DATA_FIFO), 1)).toBe(RESPONSE[1]);
  });
});
