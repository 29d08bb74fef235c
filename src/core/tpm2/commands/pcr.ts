import type { CommandSpec } from '../command';

export const PCR_COMMANDS: readonly CommandSpec[] = [];
