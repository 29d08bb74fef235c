// Finds the Chromium that the Playwright journeys run in. Order, as README "Browser for the tests" says:
//   1. CHROMIUM_PATH, if set (a user's explicit choice);
//   2. Playwright's own Chromium, if `npx playwright install chromium` has put it in place;
//   3. Debian's /usr/bin/chromium (or another chromium on a well-known path).
// ensure-browser.mjs adds step 4: as root on Debian, install Debian's `chromium` with apt-get.
import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

export const SYSTEM_CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium'];

/**
 * Flags for headless Chromium on a machine without a network or a user session: no sandbox (we may run as
 * root), and nothing that phones home in the background (updates, sync, metrics, QUIC probes).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--metrics-recording-only',
];

function playwrightChromiumPath() {
  try {
    const path = chromium.executablePath();
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @returns {{ source: 'env' | 'playwright' | 'system', executablePath: string | undefined } | undefined}
 *   executablePath is undefined for Playwright's own browser, so Playwright picks its matching build
 *   (including the headless shell) itself.
 */
export function findChromium(env = process.env) {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) {
      throw new Error(
        `CHROMIUM_PATH is set to ${env.CHROMIUM_PATH}, but no file is there. Unset it or fix the path.`,
      );
    }
    return { source: 'env', executablePath: env.CHROMIUM_PATH };
  }
  if (playwrightChromiumPath()) return { source: 'playwright', executablePath: undefined };
  const system = SYSTEM_CHROMIUM_PATHS.find((p) => existsSync(p));
  if (system) return { source: 'system', executablePath: system };
  return undefined;
}

export const NO_BROWSER_MESSAGE = [
  'No Chromium found for the Playwright journeys.',
  'Install one of these, then run the tests again:',
  '  - Debian/Ubuntu: sudo apt-get install -y chromium   (gives /usr/bin/chromium)',
  "  - with internet access: npx playwright install chromium   (Playwright's own build)",
  '  - or point CHROMIUM_PATH at an existing Chromium or Chrome binary.',
].join('\n');
