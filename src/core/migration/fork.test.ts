import { describe, expect, it } from 'vitest';
import { createMachine } from '../vm/machine';
import { forkMachine } from './fork';

const CONFIGS = [
  { seed: 'fork', guest: { driver: 'linux', workload: 'nv-counter', iterations: 1 } },
  { seed: 'fork', guest: { driver: 'linux-2.6.37', workload: 'getrandom', iterations: 1 } },
];

describe('forkMachine', () => {
  it.each(CONFIGS)(
    'a copy at every boundary of a run continues exactly as the original ($guest.driver)',
    async (config) => {
      const reference = await createMachine(config);
      await reference.run();
      const want = reference.consoleLines;
      const original = await createMachine(config);
      let boundaries = 0;
      // Every 7th boundary keeps the test fast while still landing on every kind of step over the run.
      while (!original.vcpu.isHalted) {
        if (boundaries % 7 === 0) {
          const copy = await forkMachine(original);
          expect(copy.vcpu.view).toEqual(original.vcpu.view);
          expect(copy.tis.snapshot()).toEqual(original.tis.snapshot());
          await copy.run();
          expect(copy.consoleLines).toEqual(want);
          expect(copy.scheduler.nowNs).toBe(reference.scheduler.nowNs);
        }
        await original.run({ maxEvents: 1 });
        boundaries++;
      }
      expect(boundaries).toBeGreaterThan(100);
    },
    120_000,
  );
});
