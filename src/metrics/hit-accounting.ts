/**
 * How one descriptor's hits are charged to the per rule statistics
 * (envoyproxy/ratelimit src/limiter/base_limiter.go), from the deciding
 * limit's decision.
 */
export interface HitCharge {
  /** Hits beyond the limit: all of them when usage was already at or over it. */
  readonly overLimit: number;
  /** Hits that landed above floor(limit × NEAR_LIMIT_RATIO) and at or below the limit. */
  readonly nearLimit: number;
  /** All hits when the decision was OK, else 0. */
  readonly withinLimit: number;
}

/** floor(limit × ratio), the reference's near threshold (src/limiter/base_limiter.go). */
export function nearThreshold(limit: number, ratio: number): number {
  return Math.floor(limit * ratio);
}

/**
 * Splits `hits` as the reference does, with `before` = usage before this
 * request and `after` = before + hits:
 * - OK: within += hits; near += the hits above the near threshold
 *   (all of them if `before` ≥ threshold, else after − threshold).
 * - OVER_LIMIT: if `before` ≥ limit, over += hits; else over += after − limit
 *   and near += limit − max(threshold, before).
 *
 * `used` is CounterDecision.used (units in use after the decision). A
 * decision over the limit with `used` > limit was charged (a lone fixed
 * window: the counter grows by the full addend), so before = used − hits; one
 * with `used` ≤ limit was not (token bucket, sliding windows, a rate_limits
 * list's limits, local over-limit cache, STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT),
 * so before = used. An OK decision is taken as charged: before = max(0, used − hits).
 */
export function chargeHits(
  hits: number,
  limit: number,
  threshold: number,
  overLimit: boolean,
  used: number,
): HitCharge {
  if (!overLimit) {
    const before = Math.max(0, used - hits);
    const after = before + hits;
    const near = after > threshold ? (before >= threshold ? hits : after - threshold) : 0;
    return { overLimit: 0, nearLimit: near, withinLimit: hits };
  }
  const before = used > limit ? Math.max(0, used - hits) : used;
  if (before >= limit) return { overLimit: hits, nearLimit: 0, withinLimit: 0 };
  const after = before + hits;
  return { overLimit: after - limit, nearLimit: limit - Math.max(threshold, before), withinLimit: 0 };
}
