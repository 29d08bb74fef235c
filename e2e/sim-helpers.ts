// Shared steps of the simulator journeys: load the page with the machine booted, watch for console errors.
import { expect, type Page } from '@playwright/test';

export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return problems;
}

/** Opens the page and waits until the simulation Worker has booted the default machine. */
export async function openSimulator(page: Page): Promise<void> {
  await page.goto('/');
  await expect(status(page)).toHaveText(/Source: stopped between two steps/, { timeout: 20_000 });
}

export function status(page: Page) {
  return page.getByRole('region', { name: 'Controls' }).getByRole('status');
}

export function control(page: Page, name: string) {
  return page.getByRole('region', { name: 'Controls' }).getByRole('button', { name, exact: true });
}

export function region(page: Page, name: string) {
  return page.getByRole('region', { name, exact: true });
}

/** Presses a scenario button and waits until the scenario has reached its scripted pause. */
export async function loadScenario(page: Page, title: string): Promise<void> {
  await page.getByRole('button', { name: title, exact: true }).click();
  await expect(status(page)).toHaveText(/Source: stopped between two steps/, { timeout: 20_000 });
}
