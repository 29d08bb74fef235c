#!/usr/bin/env node
// Makes sure tpm2-tools is installed before the unit tests run: src/cli/tpm2-tools.test.ts drives
// `tislab tpm-server` with the real tpm2_* commands. If tpm2_startup is not on PATH and we are root on
// Debian, installs Debian's `tpm2-tools` package (it brings the TSS and its swtpm TCTI); otherwise stops
// with a message that says what to install.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const MESSAGE = `ensure-tpm2-tools: tpm2-tools (tpm2_startup and friends, version 5.x) is not installed.
The unit tests run the real tpm2_* commands against \`tislab tpm-server\`. Install it, for example:
  Debian/Ubuntu:  sudo apt-get install --no-install-recommends tpm2-tools
  Fedora:         sudo dnf install tpm2-tools
  macOS:          brew install tpm2-tools
then run the tests again.`;

function version() {
  const r = spawnSync('tpm2_startup', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /version="([^"]+)"/.exec(r.stdout)?.[1] ?? r.stdout.trim();
}

function installDebianTools() {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  console.log(
    'ensure-tpm2-tools: tpm2-tools not found; installing Debian\'s "tpm2-tools" package with apt-get (root)...',
  );
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'tpm2-tools'], {
    stdio: 'inherit',
    env,
  });
}

let found = version();
if (found === undefined) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const isDebian = existsSync('/etc/debian_version');
  if (isRoot && isDebian) {
    try {
      installDebianTools();
    } catch (err) {
      console.error(`ensure-tpm2-tools: apt-get could not install tpm2-tools: ${err.message}`);
    }
    found = version();
  }
}
if (found === undefined) {
  console.error(MESSAGE);
  process.exit(1);
}
console.log(`ensure-tpm2-tools: using tpm2-tools ${found}`);
