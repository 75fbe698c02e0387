/** How a primary spaces the restarts of a worker that keeps dying. */
export interface RestartPolicy {
  /** Delay before the first restart, ms; doubled for each further failure in a row. */
  readonly baseMs: number;
  /** Longest delay, ms. */
  readonly maxMs: number;
  /** A worker that ran at least this long, ms, is healthy again: its next failure starts from `baseMs`. */
  readonly stableMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({
  baseMs: 100,
  maxMs: 30_000,
  stableMs: 10_000,
});

/**
 * The delay before restarting a worker that died after `uptimeMs`, having
 * failed `failuresInARow` times before, and the new count of failures in a
 * row. A crash loop backs off 100 ms, 200 ms, 400 ms … up to 30 s.
 */
export function restartDelay(
  failuresInARow: number,
  uptimeMs: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): { delayMs: number; failuresInARow: number } {
  const previous = uptimeMs >= policy.stableMs ? 0 : failuresInARow;
  return {
    delayMs: Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(previous, 30)),
    failuresInARow: previous + 1,
  };
}
