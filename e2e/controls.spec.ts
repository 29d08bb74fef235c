// The control bar and the keyboard: every button does what it says, the shortcuts match the help dialog,
// and a long run at full speed leaves the page answering.
import { expect, test } from '@playwright/test';
import { collectProblems, control, openSimulator, region, status } from './sim-helpers';

function kvmSteps(text: string | null): number {
  const m = /(\d+) KVM steps/.exec(text ?? '');
  return m ? Number(m[1]) : -1;
}

test('the buttons step, run, pause, snapshot, migrate, resume and reset', async ({ page }) => {
  const problems = collectProblems(page);
  await openSimulator(page);
  const vcpu = region(page, 'vCPU');
  await control(page, 'Step').click();
  await expect(vcpu).toContainText('1 KVM steps');
  await control(page, 'Step operation').click();
  await control(page, 'Step instruction').click();
  await expect.poll(async () => kvmSteps(await vcpu.textContent())).toBeGreaterThan(1);

  await control(page, 'Run').click();
  await expect(status(page)).toHaveText(/Source: running/);
  await expect(region(page, 'Guest console')).toContainText('keygen #0: CreatePrimary handle', {
    timeout: 20_000,
  });
  await control(page, 'Pause').click();
  await expect(status(page)).toHaveText(/Source: paused \(vm_stop\)/);

  await control(page, 'Snapshot').click();
  const download = page.getByRole('link', { name: /Download snapshot/ });
  await expect(download).toBeVisible();
  const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
  expect(file.suggestedFilename()).toMatch(/^tislab-\d+ns\.tislabvm$/);

  await control(page, 'Migrate').click();
  await expect(status(page)).toHaveText(/Destination: paused/);
  await expect(page.getByRole('alert')).toHaveCount(0);
  await control(page, 'Resume').click();
  await expect(status(page)).toHaveText(/Destination: running/);
  await control(page, 'Reset').click();
  await expect(status(page)).toHaveText(/Source: stopped between two steps/);
  await expect(page.getByLabel('Virtual time')).toHaveText('t = [    0.000000]');
  expect(problems).toEqual([]);
});

test('keyboard: ? help, → step, Space run and pause, S snapshot, M migrate, R reset', async ({ page }) => {
  const problems = collectProblems(page);
  await openSimulator(page);
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(help).toBeVisible();
  for (const action of ['Run / Pause', 'Step (one KVM step)', 'Snapshot', 'Migrate', 'Reset']) {
    await expect(help).toContainText(action);
  }
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();

  const vcpu = region(page, 'vCPU');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(vcpu).toContainText('2 KVM steps');
  await page.keyboard.press(' ');
  await expect(status(page)).toHaveText(/Source: running/);
  await page.keyboard.press(' ');
  await expect(status(page)).toHaveText(/Source: paused/);
  await page.keyboard.press('s');
  await expect(page.getByRole('link', { name: /Download snapshot/ })).toBeVisible();
  await page.keyboard.press('m');
  await expect(status(page)).toHaveText(/Destination: paused/);
  await page.keyboard.press('r');
  await expect(status(page)).toHaveText(/Source: stopped between two steps/);
  // A shortcut is not taken from a form field.
  await page.getByRole('combobox', { name: 'Run speed' }).focus();
  await page.keyboard.press('m');
  await expect(status(page)).toHaveText(/Source:/);
  expect(problems).toEqual([]);
});

test('a long run at full speed: the clock moves and the page answers clicks', async ({ page }) => {
  // The Worker takes a core at full speed; on a busy two-core CI runner the clicks still land, slowly.
  test.setTimeout(90_000);
  const problems = collectProblems(page);
  await openSimulator(page);
  await control(page, 'Run').click();
  const clock = page.getByLabel('Virtual time');
  const read = async () => Number(/([\d.]+)\]/.exec((await clock.textContent()) ?? '')?.[1] ?? 0);
  await expect.poll(read, { timeout: 20_000 }).toBeGreaterThan(0.1);
  // While it runs: the theme switch and the help dialog answer, then Pause stops it.
  await page.getByRole('radio', { name: 'Dark' }).click();
  await expect(page.locator('html')).toHaveClass(/\bdark\b/);
  await page.getByRole('button', { name: 'Keyboard shortcuts' }).click();
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.getByRole('button', { name: 'Close' }).click();
  const before = await read();
  await expect.poll(read).toBeGreaterThan(before);
  await control(page, 'Pause').click();
  await expect(status(page)).toHaveText(/paused/);
  const stopped = await read();
  await page.waitForTimeout(300);
  expect(await read()).toBe(stopped);
  expect(problems).toEqual([]);
});
