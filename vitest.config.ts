import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Integration/e2e suites start real servers on 127.0.0.1:0; two cores here.
    maxWorkers: 2,
    // Worker threads started from src/ (the config loader) load .ts through these hooks.
    execArgv: ['--import', fileURLToPath(new URL('./test/support/ts-loader-register.mjs', import.meta.url))],
  },
});
