import type { Parameters } from 'fast-check';

/**
 * How long one fuzz property may run. In `make test` each property gets a
 * short budget (FUZZ_SECONDS unset: `defaultSeconds`, at most `defaultRuns`
 * runs), so the fuzzers run in CI without slowing it much; `make fuzz` sets
 * FUZZ_SECONDS for a longer run with no cap on the number of runs.
 */
export interface FuzzBudget {
  /** fast-check parameters: stop after the time budget (not a failure) or the run cap. */
  readonly params: Parameters<unknown>;
  /** A vitest timeout that leaves room for the budget plus set-up and shrinking. */
  readonly testTimeoutMs: number;
}

export function fuzzBudget(defaultSeconds = 3, defaultRuns = 300): FuzzBudget {
  const fromEnv = Number(process.env.FUZZ_SECONDS);
  const long = Number.isFinite(fromEnv) && fromEnv > 0;
  const seconds = long ? fromEnv : defaultSeconds;
  return {
    params: {
      numRuns: long ? Number.MAX_SAFE_INTEGER : defaultRuns,
      interruptAfterTimeLimit: seconds * 1000,
      markInterruptAsFailure: false,
    },
    testTimeoutMs: seconds * 1000 + 60_000,
  };
}
