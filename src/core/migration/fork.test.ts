import { describe, expect, it } from 'vitest';
import type { TpmCommandResult, TpmTransport } from '../backend/transport';
import { SwtpmDevice } from '../swtpm';
import { createMachine, defaultTpmOptions, type Machine } from '../vm/machine';
import { parseMachineConfig } from '../vm/machine-config';
import { forkMachine } from './fork';
import { BLOBS, getStateBlob } from './tpm-emulator-vmstate';

const CONFIGS = [
  { seed: 'fork', guest: { driver: 'linux', workload: 'nv-counter', iterations: 1 } },
  { seed: 'fork', guest: { driver: 'linux-2.6.37', workload: 'getrandom', iterations: 1 } },
];

/** The TPM behind an asynchronous channel (as the TPM Worker's): a fork copies it through its state blobs. */
class ChannelTransport implements TpmTransport {
  constructor(private readonly device: SwtpmDevice) {}
  command(bytes: Uint8Array, nowNs?: number): Promise<TpmCommandResult> {
    return Promise.resolve(this.device.handleCommand(bytes, nowNs === undefined ? {} : { nowNs }));
  }
  control(bytes: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.device.handleControl(bytes));
  }
  close(): void {}
}

/** The TPM's three state blobs (GET_STATEBLOB, as pre_save fetches them). */
async function tpmState(m: Machine): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const { type } of BLOBS) out.push((await getStateBlob(m.backend, type)).bytes);
  return out;
}

const TPMS = {
  'in-process': () => ({}),
  'behind a channel': (config: unknown) => ({
    transport: new ChannelTransport(new SwtpmDevice(defaultTpmOptions(parseMachineConfig(config)))),
  }),
};

describe('forkMachine', () => {
  it.each(
    CONFIGS.flatMap((config) =>
      Object.keys(TPMS).map((tpm) => ({
        config,
        tpm: tpm as keyof typeof TPMS,
        driver: config.guest.driver,
      })),
    ),
  )(
    'a copy at every boundary of a run continues exactly as the original ($driver, TPM $tpm)',
    async ({ config, tpm }) => {
      const reference = await createMachine(config);
      await reference.run();
      const want = reference.consoleLines;
      const original = await createMachine(config, TPMS[tpm](config));
      let boundaries = 0;
      // Every 7th boundary keeps the test fast while still landing on every kind of step over the run.
      while (!original.vcpu.isHalted) {
        if (boundaries % 7 === 0) {
          const copy = await forkMachine(original);
          expect(copy.vcpu.view).toEqual(original.vcpu.view);
          expect(copy.tis.snapshot()).toEqual(original.tis.snapshot());
          // The TPM too, down to its clock and DRBG, which the guest's output may not show.
          expect(await tpmState(copy)).toEqual(await tpmState(original));
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

  it('forking leaves no mark on the original: its trace is that of a run without forks', async () => {
    const config = CONFIGS[0]!;
    const alone = await createMachine(config);
    await alone.run();
    const original = await createMachine(config);
    while (!original.vcpu.isHalted) {
      await forkMachine(original);
      await original.run({ maxEvents: 1 });
    }
    expect(original.trace.traceHash()).toBe(alone.trace.traceHash());
  }, 120_000);
});
