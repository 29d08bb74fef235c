// The fix switches as command-line options, shared by `sweep`, `savevm` and `loadvm`.
import { INFLIGHT_STRATEGIES, type InflightStrategy } from '../core/migration/migrate';
import { UsageError } from './io';

/** --mmio-fix on|off: complete a pending MMIO exit before vm_stop (QEMU since 2011). */
export function parseMmioFix(command: string, text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  if (text !== 'on' && text !== 'off') {
    throw new UsageError(`tislab ${command}: --mmio-fix takes on or off, got '${text}'`);
  }
  return text === 'on';
}

/** --inflight wait|drop|replay: what pre_save does with a TPM command in flight. */
export function parseInflight(command: string, text: string | undefined): InflightStrategy | undefined {
  if (text === undefined) return undefined;
  if (!(INFLIGHT_STRATEGIES as readonly string[]).includes(text)) {
    throw new UsageError(`tislab ${command}: --inflight takes wait, drop or replay, got '${text}'`);
  }
  return text as InflightStrategy;
}
