// A run is a pure function of (config, seed): the page's simulation Worker (the TPM in its own Worker,
// answers over a MessageChannel) gives the same trace hash as the core run in Node (in-process TPM), as
// issue 5 asks. Both run the 2011 scenario to its scripted pause.
import { expect, test } from '@playwright/test';
import { DUPLICATED_MMIO_READ_2011 } from '../src/core/scenarios/presets';
import { playActions } from '../src/core/scenarios/play';
import { createMachine } from '../src/core/vm/machine';
import { collectProblems, loadScenario, openSimulator } from './sim-helpers';

test('the same scenario and seed give the same trace hash in the browser and in Node', async ({ page }) => {
  const scenario = DUPLICATED_MMIO_READ_2011;
  const machine = await createMachine({
    ...scenario.config,
    completeMmioBeforeStop: scenario.settings.completeMmioBeforeStop,
  });
  await playActions(machine, scenario.setup);
  const inNode = machine.trace.traceHash();

  const problems = collectProblems(page);
  await openSimulator(page);
  await loadScenario(page, scenario.title);
  const shown = page.getByTestId('trace-hash');
  await expect(shown).toContainText(`${machine.trace.totalCount.toLocaleString('en-US')} events`);
  await expect(shown).toHaveAttribute('data-trace-hash', inNode);
  expect(problems).toEqual([]);
});
