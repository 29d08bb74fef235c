import type { CommandSpec } from '../command';

export const OBJECT_COMMANDS: readonly CommandSpec[] = [];
