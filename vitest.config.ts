import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'scripts/**/*.test.ts'],
    environment: 'node',
    // Tests assert behaviour, never speed; on a shared 2-core CI machine a whole-machine test can take
    // several times its quiet-machine time, so the per-test limit only catches hangs.
    testTimeout: 60_000,
  },
});
