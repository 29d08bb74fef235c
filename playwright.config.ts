import { defineConfig, devices } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from './scripts/browser.mjs';

const isCI = !!process.env.CI;
// E2E_PORT lets two people (or helpers) run journeys side by side on one machine.
const PORT = Number(process.env.E2E_PORT ?? 4173);
// `npm run test:e2e` runs scripts/ensure-browser.mjs first, which installs or explains a missing browser.
const browser = findChromium();

export default defineConfig({
  testDir: 'e2e',
  forbidOnly: isCI,
  retries: 0,
  workers: isCI ? 1 : 2,
  reporter: 'list',
  use: {
    baseURL: `http://localhost:${PORT}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: browser?.executablePath,
      args: CHROMIUM_ARGS,
    },
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'] } }],
  // Journeys run against the production build, as users get it.
  webServer: {
    command: `npm run build && npm run preview -- --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}`,
    reuseExistingServer: !isCI,
    timeout: 180_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
