// The two built-in scenarios, end to end through the UI, with the fix off and then on: what the user sees.
import { expect, test } from '@playwright/test';
import { collectProblems, control, loadScenario, openSimulator, region, status } from './sim-helpers';

const DUPLICATED = 'Duplicated MMIO read on resume (2011)';
const INFLIGHT = 'In-flight command at savevm (2017)';

test.describe('Duplicated MMIO read on resume (2011)', () => {
  test('fix off: the destination reads the byte again and the guest loses it', async ({ page }) => {
    const problems = collectProblems(page);
    await openSimulator(page);
    await loadScenario(page, DUPLICATED);
    const fix = page.getByRole('switch', { name: 'Complete pending MMIO before stop' });
    await expect(fix).toHaveAttribute('aria-checked', 'false');
    // The scripted pause: between the FIFO read's exit and its re-entry, drawn as such.
    const vcpu = region(page, 'vCPU');
    await expect(vcpu.getByTestId('exit-reentry-gap')).toContainText('STOPPED BETWEEN EXIT AND RE-ENTRY');
    await expect(vcpu).toContainText('DATA_FIFO (locality 0)');
    await expect(region(page, 'FIFO')).toContainText('rw_offset = 21');
    await expect(region(page, 'FIFO').locator('[aria-current="location"]')).toHaveAttribute(
      'data-offset',
      '21',
    );
    // The TIS registers mark what changed: locality 0 became active and has a response for the driver.
    const locality0 = region(page, 'TIS registers').getByRole('region', { name: 'Locality 0' });
    await expect(locality0.locator('[data-changed]', { hasText: 'dataAvail=1*' })).toBeVisible();
    const chart = region(page, 'State chart');
    await expect(chart.locator('[data-state="cmd0.completion"]')).toHaveAttribute('data-active', 'true');

    await control(page, 'Migrate').click();
    await expect(status(page)).toHaveText(/Destination: paused/);
    await control(page, 'Resume').click();

    const alert = page.getByRole('alert');
    await expect(alert).toContainText('Duplicated MMIO read');
    await expect(alert).toContainText('rw_offset moved 21 → 22');
    await expect(alert).toContainText('between the exit and the re-entry of a 1-byte read of DATA_FIFO');
    await expect(status(page)).toHaveText(/the guest program has ended/, { timeout: 20_000 });
    // The Guest view marks the missing byte and the trailing 0xff.
    const guest = region(page, 'Guest view');
    await expect(guest.locator('[data-kind="missing"]')).toHaveCount(1);
    await expect(guest.locator('[data-kind="trailing"]')).toHaveText('ff');
    await expect(region(page, 'Guest console')).toContainText('keygen #0: CreatePrimary handle');
    expect(problems).toEqual([]);
  });

  test('fix on: pause completes the read first and nothing goes wrong', async ({ page }) => {
    const problems = collectProblems(page);
    await openSimulator(page);
    await loadScenario(page, DUPLICATED);
    const fix = page.getByRole('switch', { name: 'Complete pending MMIO before stop' });
    await fix.click();
    await expect(fix).toHaveAttribute('aria-checked', 'true');
    await control(page, 'Migrate').click();
    await expect(status(page)).toHaveText(/Destination: paused/);
    await control(page, 'Resume').click();
    await expect(status(page)).toHaveText(/the guest program has ended/, { timeout: 20_000 });
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(region(page, 'Guest console')).toContainText('keygen: done after 2 iterations');
    await expect(region(page, 'Guest view').locator('[data-kind="missing"]')).toHaveCount(0);
    expect(problems).toEqual([]);
  });
});

test.describe('In-flight command at savevm (2017)', () => {
  test('Drop: the response is lost and the driver times out', async ({ page }) => {
    const problems = collectProblems(page);
    await openSimulator(page);
    await loadScenario(page, INFLIGHT);
    await expect(page.getByRole('radio', { name: 'Drop' })).toHaveAttribute('aria-checked', 'true');
    await expect(region(page, 'Backend and TPM').getByLabel('Backend phase')).toHaveText(/executing/);
    await expect(region(page, 'State chart').locator('[data-state="cmd0.execution"]')).toHaveAttribute(
      'data-active',
      'true',
    );
    await control(page, 'Migrate').click();
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('Lost response');
    await expect(alert).toContainText('TPM2_CreatePrimary executing in the TPM');
    await control(page, 'Resume').click();
    await expect(status(page)).toHaveText(/the guest program has ended/, { timeout: 30_000 });
    await expect(region(page, 'Guest console')).toContainText('Operation Timed out');
    await expect(region(page, 'Guest view')).toContainText('Driver error');
    expect(problems).toEqual([]);
  });

  test('Replay: the TPM executes CreatePrimary twice', async ({ page }) => {
    const problems = collectProblems(page);
    await openSimulator(page);
    await loadScenario(page, INFLIGHT);
    await page.getByRole('radio', { name: 'Replay' }).click();
    await expect(page.getByRole('radio', { name: 'Replay' })).toHaveAttribute('aria-checked', 'true');
    await control(page, 'Migrate').click();
    await expect(page.getByRole('alert')).toContainText('Double execution');
    await control(page, 'Resume').click();
    await expect(status(page)).toHaveText(/the guest program has ended/, { timeout: 30_000 });
    expect(problems).toEqual([]);
  });

  test('Wait (the fix): pre_save waits for the response and the guest goes on', async ({ page }) => {
    const problems = collectProblems(page);
    await openSimulator(page);
    await loadScenario(page, INFLIGHT);
    await page.getByRole('radio', { name: 'Wait' }).click();
    await control(page, 'Migrate').click();
    await expect(status(page)).toHaveText(/Destination: paused/);
    await control(page, 'Resume').click();
    await expect(status(page)).toHaveText(/the guest program has ended/, { timeout: 30_000 });
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(region(page, 'Guest console')).toContainText('keygen: done after 1 iterations');
    await expect(region(page, 'Guest console')).not.toContainText('Timed out');
    expect(problems).toEqual([]);
  });
});
