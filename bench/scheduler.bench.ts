// Scheduler throughput. The "hold model" is the classic priority-queue benchmark: a steady population of
// pending events where each dispatch schedules one new event at a random future delay, so every event costs
// exactly one push and one pop at a constant queue size.
import { performance } from 'node:perf_hooks';
import { Prng } from '../src/core/kernel/random';
import { Scheduler } from '../src/core/kernel/scheduler';
import type { BenchResult } from './types';

const HOLD_TARGET_EVENTS_PER_S = 5_000_000;
const RUNS = 3;

/** Runs the hold model once and returns events scheduled+dispatched per second. */
function holdModel(pendingSize: number, totalEvents: number): number {
  const scheduler = new Scheduler();
  const prng = new Prng(`hold-${pendingSize}`);
  let remaining = totalEvents - pendingSize;
  scheduler.on('tick', () => {
    if (remaining > 0) {
      remaining--;
      scheduler.schedule(prng.nextInt(1, 1_000_000), 'tick');
    }
  });
  for (let i = 0; i < pendingSize; i++) scheduler.schedule(prng.nextInt(1, 1_000_000), 'tick');
  const start = performance.now();
  const dispatched = scheduler.runUntilIdle(totalEvents + 1);
  const seconds = (performance.now() - start) / 1000;
  if (dispatched !== totalEvents)
    throw new Error(`hold model dispatched ${dispatched}, expected ${totalEvents}`);
  return dispatched / seconds;
}

/** Schedules n events up front (random times), then dispatches them all; returns events per second. */
function bulk(n: number): number {
  const scheduler = new Scheduler();
  const prng = new Prng('bulk');
  let seen = 0;
  scheduler.on('tick', () => {
    seen++;
  });
  const start = performance.now();
  for (let i = 0; i < n; i++) scheduler.schedule(prng.nextInt(0, 1_000_000_000), 'tick');
  scheduler.runUntilIdle(n);
  const seconds = (performance.now() - start) / 1000;
  if (seen !== n) throw new Error(`bulk dispatched ${seen}, expected ${n}`);
  return n / seconds;
}

function bestOf(runs: number, fn: () => number): number {
  let best = 0;
  for (let i = 0; i < runs; i++) best = Math.max(best, fn());
  return best;
}

export async function benchScheduler(): Promise<BenchResult[]> {
  // Warm-up so the JIT has optimised the heap and dispatch paths before anything is timed.
  holdModel(64, 300_000);
  holdModel(10_000, 300_000);
  bulk(100_000);

  const hold64 = bestOf(RUNS, () => holdModel(64, 2_000_000));
  const hold10k = bestOf(RUNS, () => holdModel(10_000, 2_000_000));
  const bulk1m = bestOf(RUNS, () => bulk(1_000_000));
  return [
    {
      name: 'scheduler hold model, 64 pending',
      value: Math.round(hold64),
      unit: 'events/s',
      target: '>= 5,000,000 events/s',
      met: hold64 >= HOLD_TARGET_EVENTS_PER_S,
      note: '2M events, each dispatch schedules one at a Prng delay; best of 3',
    },
    {
      name: 'scheduler hold model, 10,000 pending',
      value: Math.round(hold10k),
      unit: 'events/s',
      note: '2M events; best of 3',
    },
    {
      name: 'scheduler bulk: schedule 1M, then dispatch all',
      value: Math.round(bulk1m),
      unit: 'events/s',
      note: 'best of 3',
    },
  ];
}
