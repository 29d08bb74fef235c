// Load snapshot: a file the page downloaded comes back as it was saved; a damaged one is refused and the
// machine is left as it was.
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { collectProblems, control, loadScenario, openSimulator, status } from './sim-helpers';

test('a snapshot saved mid-read loads back paused, and resuming it shows the duplicated read', async ({
  page,
}, testInfo) => {
  const problems = collectProblems(page);
  await openSimulator(page);
  await loadScenario(page, 'Duplicated MMIO read on resume (2011)');
  const clock = page.getByLabel('Virtual time');
  const savedAt = await clock.textContent();
  await control(page, 'Snapshot').click();
  const link = page.getByRole('link', { name: /Download snapshot/ });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const path = testInfo.outputPath(download.suggestedFilename());
  await download.saveAs(path);

  // A damaged copy first: refused, in words, and the machine is where it was.
  const damaged = readFileSync(path);
  damaged[40] = damaged[40]! ^ 1;
  const damagedPath = testInfo.outputPath('damaged.tislabvm');
  writeFileSync(damagedPath, damaged);
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    control(page, 'Load snapshot').click(),
  ]);
  await chooser.setFiles(damagedPath);
  await expect(status(page)).toContainText(
    'damaged.tislabvm was not loaded: the snapshot is corrupt: its SHA-256 does not match its contents. Nothing changed.',
  );
  await expect(status(page)).toContainText('Source: paused (vm_stop)');
  await expect(clock).toHaveText(savedAt!);

  // The source runs to its end; then the good file is loaded: paused where it was saved.
  await control(page, 'Resume').click();
  await expect(status(page)).toHaveText(/the guest program has ended/, { timeout: 20_000 });
  await page.getByLabel('Snapshot file').setInputFiles(path);
  await expect(status(page)).toHaveText(/Destination: paused \(vm_stop\)/);
  await expect(clock).toHaveText(savedAt!);
  await control(page, 'Resume').click();
  await expect(page.getByRole('alert')).toContainText('Duplicated MMIO read');
  expect(problems).toEqual([]);
});
