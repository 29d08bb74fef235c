import type { CommandSpec } from '../command';

export const NV_COMMANDS: readonly CommandSpec[] = [];
