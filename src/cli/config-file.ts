// Reading a machine config file for `tislab run` and `tislab sweep`: unreadable is a failure (exit 1),
// not JSON is a usage error (exit 2) naming the file.
import { readFileSync } from 'node:fs';
import { UsageError, type CliIo } from './io';

/** The parsed JSON, or null when the file cannot be read (the error is printed). */
export function readConfigFile(command: string, file: string, io: CliIo): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    io.err(`tislab ${command}: cannot read ${file}: ${(e as Error).message}`);
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`tislab ${command}: ${file} is not JSON: ${(e as Error).message}`);
  }
}
