#!/usr/bin/env node
// Makes sure a Chromium exists before the Playwright journeys start (see scripts/browser.mjs for the
// order). If none is found and we are root on Debian, installs Debian's `chromium` package; otherwise
// stops with a message that says what to install.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findChromium, NO_BROWSER_MESSAGE } from './browser.mjs';

function describe(found) {
  if (found.source === 'playwright') return "Playwright's own Chromium";
  if (found.source === 'env') return `CHROMIUM_PATH (${found.executablePath})`;
  return `system Chromium at ${found.executablePath}`;
}

function installDebianChromium() {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  console.log(
    'ensure-browser: no Chromium found; installing Debian\'s "chromium" package with apt-get (root)...',
  );
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium', 'fonts-liberation'], {
    stdio: 'inherit',
    env,
  });
}

let found = findChromium();
if (!found) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const isDebian = existsSync('/etc/debian_version');
  if (isRoot && isDebian) {
    try {
      installDebianChromium();
    } catch (err) {
      console.error(`ensure-browser: apt-get could not install chromium: ${err.message}`);
    }
    found = findChromium();
  }
}
if (!found) {
  console.error(NO_BROWSER_MESSAGE);
  process.exit(1);
}
console.log(`ensure-browser: using ${describe(found)}`);
