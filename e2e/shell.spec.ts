import { expect, test } from '@playwright/test';
import { collectProblems, openSimulator } from './sim-helpers';

const PANEL_LABELS = [
  'vCPU',
  'TIS registers',
  'FIFO',
  'Guest view',
  'State chart',
  'Lanes',
  'TPM decoder',
  'Guest console',
  'Backend and TPM',
];

test('the page loads as "TIS Lab" with no console errors', async ({ page }) => {
  const problems = collectProblems(page);
  await page.goto('/');
  await expect(page).toHaveTitle('TIS Lab');
  await expect(page.getByRole('heading', { level: 1, name: 'TIS Lab' })).toBeVisible();
  await expect(page.getByRole('banner')).toBeVisible();
  await expect(page.getByRole('main')).toBeVisible();
  expect(problems).toEqual([]);
});

test('the control bar and every panel are labelled regions', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('region', { name: 'Controls' })).toBeVisible();
  for (const label of PANEL_LABELS) {
    const region = page.getByRole('region', { name: label, exact: true });
    await expect(region, `region "${label}"`).toBeVisible();
    await expect(region.getByRole('heading', { name: label, exact: true })).toBeVisible();
  }
  await expect(page.getByRole('region', { name: 'Controls' }).getByLabel('Virtual time')).toHaveText(
    't = [    0.000000]',
  );
});

test('the control bar stays in view where there is room, and scrolls away on a 720-line projector', async ({
  page,
}) => {
  const controls = page.getByRole('region', { name: 'Controls' });
  const toBottom = async () => {
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(600);
  };
  await page.setViewportSize({ width: 1600, height: 1000 });
  await openSimulator(page);
  await toBottom();
  await expect(controls).toBeInViewport();
  await page.setViewportSize({ width: 1280, height: 720 });
  await toBottom();
  await expect(controls).not.toBeInViewport();
});

test.describe('theme', () => {
  test('follows the system until the user chooses', async ({ page }) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto('/');
    await expect(page.locator('html')).toHaveClass(/\bdark\b/);
    await expect(page.getByRole('radio', { name: 'System' })).toHaveAttribute('aria-checked', 'true');
    await page.emulateMedia({ colorScheme: 'light' });
    await expect(page.locator('html')).not.toHaveClass(/\bdark\b/);
  });

  test('the toggle switches the theme and the choice survives a reload', async ({ page }) => {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto('/');
    await expect(page.locator('html')).not.toHaveClass(/\bdark\b/);
    const lightBackground = await page
      .locator('body > #root > div')
      .evaluate((el) => getComputedStyle(el).backgroundColor);

    await page.getByRole('radio', { name: 'Dark' }).click();
    await expect(page.locator('html')).toHaveClass(/\bdark\b/);
    await expect(page.getByRole('radio', { name: 'Dark' })).toHaveAttribute('aria-checked', 'true');
    const darkBackground = await page
      .locator('body > #root > div')
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(darkBackground).not.toBe(lightBackground);

    await page.reload();
    await expect(page.locator('html')).toHaveClass(/\bdark\b/);
    await expect(page.getByRole('radio', { name: 'Dark' })).toHaveAttribute('aria-checked', 'true');

    await page.getByRole('radio', { name: 'Light' }).click();
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.reload();
    // An explicit choice beats the system setting.
    await expect(page.locator('html')).not.toHaveClass(/\bdark\b/);
    await expect(page.getByRole('radio', { name: 'Light' })).toHaveAttribute('aria-checked', 'true');
  });
});

test('the TPM engine answers from its Web Worker', async ({ page }) => {
  const problems = collectProblems(page);
  await page.goto('/');
  const tpm = page.getByRole('region', { name: 'Backend and TPM' });
  await expect(tpm.getByText('TPM 2.0 in a Web Worker: ready')).toBeVisible({ timeout: 15_000 });
  await expect(tpm.getByLabel('GetRandom answer')).toHaveText(/^[0-9a-f]{16}$/);
  await expect(tpm.getByLabel('TPM NVRAM')).toHaveText(
    'IndexedDB drive “tislab-tpm-nvram”: the TPM survives a reload',
  );
  const resets = Number(await tpm.getByLabel('TPM resets').textContent());
  expect(resets).toBeGreaterThan(0);
  // Same seed, same bytes: the answer is identical after a reload; the TPM's state came back from the
  // NVRAM, so this start is one more TPM Reset.
  const first = await tpm.getByLabel('GetRandom answer').textContent();
  await page.reload();
  await expect(tpm.getByLabel('GetRandom answer')).toHaveText(first ?? '');
  await expect(tpm.getByLabel('TPM resets')).toHaveText(String(resets + 1));
  expect(problems).toEqual([]);
});
