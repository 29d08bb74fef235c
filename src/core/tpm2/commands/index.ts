// The command table: every implemented command, in TPM_CC order. A command code not listed here gets
// TPM_RC_COMMAND_CODE, as an unimplemented command does on libtpms. Each group file exports its list.
import type { CommandSpec } from '../command';
import { GetCapability, registerCommandTable } from './capability';
import { ReadClock } from './clock';
import { HASH_COMMANDS } from './hashing';
import { NV_COMMANDS } from './nv';
import { OBJECT_COMMANDS } from './object';
import { PCR_COMMANDS } from './pcr';
import { GetRandom, StirRandom } from './random';
import { GetTestResult, IncrementalSelfTest, SelfTest } from './selftest';
import { Shutdown, Startup } from './startup';
import { StartAuthSession } from '../session';
import { CONTEXT_COMMANDS } from './context';

export const COMMANDS: readonly CommandSpec[] = [
  IncrementalSelfTest,
  SelfTest,
  Startup,
  Shutdown,
  StirRandom,
  GetRandom,
  GetTestResult,
  ReadClock,
  GetCapability,
  ...PCR_COMMANDS,
  ...HASH_COMMANDS,
  ...NV_COMMANDS,
  ...OBJECT_COMMANDS,
  StartAuthSession,
  ...CONTEXT_COMMANDS,
].sort((a, b) => a.code - b.code);

registerCommandTable(COMMANDS);
