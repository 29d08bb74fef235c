#!/usr/bin/env node
// `npx tislab <command>`: runs the TypeScript CLI in src/cli through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

// A reader that goes away (`tislab run ... | head`) ends the output quietly, as cat or grep do, rather
// than with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
});
