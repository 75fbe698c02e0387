/**
 * Fixed window, as envoyproxy/ratelimit counts: windows aligned to the Unix
 * epoch, the counter includes this request's hits, and `after > limit` is over
 * (hitting the limit exactly is still OK).
 */

/** Start of the window containing `nowSeconds`, in Unix seconds. */
export function fixedWindowStart(nowSeconds: number, unitSeconds: number): number {
  return nowSeconds - (nowSeconds % unitSeconds);
}

/** Seconds until the window containing `nowSeconds` ends: 1..unitSeconds, never 0. */
export function fixedWindowResetSeconds(nowSeconds: number, unitSeconds: number): number {
  return unitSeconds - (nowSeconds % unitSeconds);
}

export interface CounterDecision {
  readonly overLimit: boolean;
  /** Whole requests still admitted in this window. */
  readonly remaining: number;
  /** duration_until_reset, whole seconds. */
  readonly resetSeconds: number;
  /** Counter value after this request (for near-limit statistics). */
  readonly used: number;
}

/** Decision for a fixed-window counter whose value, including this request's hits, is `after`. */
export function fixedWindowDecision(
  after: number,
  limit: number,
  nowSeconds: number,
  unitSeconds: number,
): CounterDecision {
  const overLimit = after > limit;
  return {
    overLimit,
    remaining: overLimit ? 0 : limit - after,
    resetSeconds: fixedWindowResetSeconds(nowSeconds, unitSeconds),
    used: after,
  };
}
