import { defineConfig } from 'vitest/config';

/** Benchmarks: run by `make bench-store`, never by `make test` (timings do not belong in tests). */
export default defineConfig({
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 600_000, maxWorkers: 1 },
});
