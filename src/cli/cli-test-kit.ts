// Shared by the CLI tests (not part of the CLI): runs `tislab ARGV` in-process and keeps what it printed.
import { main } from './main';

export async function runTislab(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}
