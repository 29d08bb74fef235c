// Public API of the simulation kernel: virtual time, the event scheduler, seeded randomness, the DRBG and
// the trace log. Other layers import from here rather than from the individual files.
export { VirtualClock, formatNs, NS_PER_US, NS_PER_MS, NS_PER_S } from './clock';
export type { ClockState } from './clock';
export { stableStringify, cloneJson } from './json';
export type { JsonValue } from './json';
export { Scheduler } from './scheduler';
export type {
  ScheduledEvent,
  EventHandler,
  SchedulerState,
  RunStopReason,
  RunUntilPredicateOptions,
  RunResult,
} from './scheduler';
export { Prng } from './random';
export type { PrngState } from './random';
export { HmacDrbg, DRBG_MAX_BYTES_PER_REQUEST, DRBG_RESEED_INTERVAL } from './drbg';
export type { Drbg, DrbgState } from './drbg';
export { TraceLog } from './trace';
export type { TraceEvent, TraceLogOptions, TraceListener } from './trace';
