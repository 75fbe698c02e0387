import type { DescriptorStatus, HeaderValue } from '../core/decision.js';
import type { ResponseHeaderOptions } from './service-options.js';

/** No headers: shared, never mutated. */
export const NO_HEADERS: readonly HeaderValue[] = Object.freeze([]);

/**
 * The three RateLimit-* headers for the status the service picked (its
 * deciding status; envoyproxy/ratelimit src/service/ratelimit.go), in the
 * reference's order: limit, remaining, reset. Reset is the picked status's
 * duration_until_reset; for a fixed window that is the reference's
 * `unit_s − now mod unit_s` (CalculateReset in src/utils/utilities.go).
 * No headers when nothing was picked (no status carries a current_limit).
 */
export function rateLimitHeaders(
  picked: DescriptorStatus | undefined,
  options: ResponseHeaderOptions,
): readonly HeaderValue[] {
  const limit = picked?.currentLimit;
  if (picked === undefined || limit === undefined) return NO_HEADERS;
  return [
    { key: options.limitHeader, value: String(limit.requestsPerUnit) },
    { key: options.remainingHeader, value: String(picked.limitRemaining) },
    { key: options.resetHeader, value: String(picked.durationUntilResetSeconds ?? 0) },
  ];
}
