import type { CommandSpec } from '../command';

export const HASH_COMMANDS: readonly CommandSpec[] = [];
