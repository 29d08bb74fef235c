// One benchmark figure, as printed by bench/run.ts and written to docs/benchmarks.md.
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. ">= 5,000,000 events/s". */
  target?: string;
  /** Whether the target was met; absent when there is no target. */
  met?: boolean;
  note?: string;
}
