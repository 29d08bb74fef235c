#!/usr/bin/env node
// Makes sure the programs the unit tests drive are installed:
// - tpm2-tools: src/cli/tpm2-tools.test.ts runs the real tpm2_* commands against `tislab tpm-server`;
// - swtpm and qemu-system-x86: src/cli/qemu-tis-compare.test.ts compares our TIS model with QEMU's own
//   (QEMU 7.2's tpm-tis in front of swtpm, driven by qtest).
// If any is missing and we are root on Debian, installs Debian's packages with apt-get; otherwise stops
// with a message that says what to install.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const TOOLS = [
  {
    binary: 'tpm2_startup',
    args: ['--version'],
    pkg: 'tpm2-tools',
    what: 'tpm2-tools 5.x (tpm2_startup and friends)',
  },
  { binary: 'swtpm', args: ['--version'], pkg: 'swtpm', what: 'swtpm (the TPM emulator QEMU uses)' },
  {
    binary: 'qemu-system-x86_64',
    args: ['--version'],
    pkg: 'qemu-system-x86',
    what: 'QEMU (qemu-system-x86_64)',
  },
];

const missing = () => TOOLS.filter((t) => spawnSync(t.binary, t.args).status !== 0);

let absent = missing();
if (absent.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/etc/debian_version')) {
    const pkgs = absent.map((t) => t.pkg);
    console.log(`ensure-test-tools: installing Debian packages with apt-get (root): ${pkgs.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
        stdio: 'inherit',
        env,
      });
    } catch (err) {
      console.error(`ensure-test-tools: apt-get failed: ${err.message}`);
    }
    absent = missing();
  }
}
if (absent.length > 0) {
  console.error('ensure-test-tools: the unit tests need programs that are not installed:');
  for (const t of absent) console.error(`  - ${t.what}: Debian/Ubuntu package "${t.pkg}"`);
  console.error(
    `Install them (e.g. sudo apt-get install --no-install-recommends ${absent.map((t) => t.pkg).join(' ')})`,
  );
  console.error('and run the tests again.');
  process.exit(1);
}
console.log(`ensure-test-tools: found ${TOOLS.map((t) => t.binary).join(', ')}`);
