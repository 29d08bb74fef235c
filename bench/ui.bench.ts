// The page (issue 7): frame times while the simulation runs at full speed (requestAnimationFrame deltas in
// headless Chromium, p50/p95), and the production bundle's initial JavaScript, gzipped (the entry script
// and what index.html preloads; lazy panels and the Workers load later). Targets: p95 <= 16.7 ms; initial
// JS <= 250 KB gzipped. Builds into a temporary directory and serves it with `vite preview`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from '../scripts/browser.mjs';
import type { BenchResult } from './types';

const PORT = 4573;
const RUN_MS = 6_000;

/** Bytes of the initial JS, gzipped: index.html's module script and its modulepreloads. */
function initialJsGzipBytes(dist: string): { bytes: number; files: string[] } {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [
    ...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g),
    ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g),
  ].map((m) => m[1]!);
  const bytes = files.reduce(
    (n, f) => n + gzipSync(readFileSync(join(dist, f.replace(/^\//, '')))).length,
    0,
  );
  return { bytes, files };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface FrameStats {
  p50: number;
  p95: number;
  frames: number;
  /** Frames that took more than 1.5 display intervals: a vsync was missed. */
  late: number;
}

function frameStats(deltas: number[], intervalMs: number): FrameStats {
  const sorted = [...deltas].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    frames: deltas.length,
    late: deltas.filter((d) => d > 1.5 * intervalMs).length,
  };
}

/** requestAnimationFrame deltas for RUN_MS. The first callback only sets the start, so every delta is
 * between two frame timestamps (Chromium gives them at 0.1 ms resolution without cross-origin isolation,
 * so a steady 60 Hz shows as 16.6, 16.7 and 16.8 ms). */
async function sampleFrames(page: Page): Promise<number[]> {
  // A string, not a function: tsx's transform would put helpers into a function that the page lacks.
  return (await page.evaluate(`new Promise((resolve) => {
    const out = [];
    let last;
    let end;
    const tick = (t) => {
      if (last === undefined) end = t + ${RUN_MS};
      else out.push(t - last);
      last = t;
      if (t < end) requestAnimationFrame(tick);
      else resolve(out);
    };
    requestAnimationFrame(tick);
  })`)) as number[];
}

/** Frame times of the page idle (the machine paused at its first stop), then running at full speed. */
async function frameTimes(url: string): Promise<{ idle: FrameStats; running: FrameStats }> {
  const found = (findChromium as () => { executablePath?: string } | undefined)();
  const browser = await chromium.launch({
    ...(found?.executablePath ? { executablePath: found.executablePath } : {}),
    args: CHROMIUM_ARGS as string[],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(url);
    await page.getByText(/Source: stopped between two steps/).waitFor({ timeout: 30_000 });
    const idleDeltas = await sampleFrames(page);
    const interval = percentile(
      [...idleDeltas].sort((a, b) => a - b),
      50,
    );
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForTimeout(1_000); // past the first frames of the run
    const runDeltas = await sampleFrames(page);
    return { idle: frameStats(idleDeltas, interval), running: frameStats(runDeltas, interval) };
  } finally {
    await browser.close();
  }
}

export async function benchUi(): Promise<BenchResult[]> {
  const dist = mkdtempSync(join(tmpdir(), 'tislab-bench-ui-'));
  try {
    const build = spawnSync('npx', ['vite', 'build', '--outDir', dist, '--emptyOutDir'], {
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`bench ui: vite build failed:\n${build.stderr}`);
    const js = initialJsGzipBytes(dist);
    const preview = spawn(
      'npx',
      ['vite', 'preview', '--outDir', dist, '--port', String(PORT), '--strictPort'],
      {
        stdio: 'ignore',
        detached: true,
      },
    );
    let frames;
    try {
      await waitForServer(`http://localhost:${PORT}/`);
      frames = await frameTimes(`http://localhost:${PORT}/`);
    } finally {
      if (preview.pid !== undefined) process.kill(-preview.pid);
    }
    return [
      {
        name: 'page: frame time during a full-speed run, p95',
        value: Number(frames.running.p95.toFixed(1)),
        unit: 'ms',
        target: '<= 16.7 ms (16.8 when idle shows it)',
        // The timestamps have 0.1 ms resolution, so a steady 60 Hz reads 16.6 to 16.8 ms: the idle page
        // (same page, same run) shows the floor, and 16.8 counts only when it shows it too. An idle page
        // slower than that does not move the target.
        met: frames.running.p95 <= Math.max(16.7, Math.min(frames.idle.p95, 16.8)),
        note:
          `headless Chromium, 1600×1000, the default machine (today's driver, endless keygen) at full speed ` +
          `for ${RUN_MS / 1000} s: ${frames.running.frames} frames, p50 ${frames.running.p50.toFixed(1)} ms, ` +
          `${frames.running.late} late (over 1.5 frame intervals); the same page idle: ` +
          `${frames.idle.frames} frames, p50 ${frames.idle.p50.toFixed(1)} ms, ` +
          `p95 ${frames.idle.p95.toFixed(1)} ms, ${frames.idle.late} late`,
      },
      {
        name: 'page: initial JS, gzipped',
        value: js.bytes,
        unit: 'bytes',
        target: '<= 256,000 bytes',
        met: js.bytes <= 256_000,
        note: `${js.files.join(', ')} (the panels, the simulation and the TPM Workers load after)`,
      },
    ];
  } finally {
    rmSync(dist, { recursive: true, force: true });
  }
}

async function waitForServer(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`bench ui: ${url} did not come up`);
}
