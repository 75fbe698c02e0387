import type { DescriptorStatus, HeaderValue } from '../core/decision.js';
import { fixedWindowResetSeconds } from '../core/fixed-window.js';
import { UNIT_SECONDS } from '../core/units.js';
import type { ResponseHeaderOptions } from './service-options.js';

/** No headers: shared, never mutated. */
export const NO_HEADERS: readonly HeaderValue[] = Object.freeze([]);

/**
 * The three RateLimit-* headers for the status the service picked (reference
 * §4.7), in the reference's order: limit, remaining, reset. Reset is
 * `unit_s − nowSeconds mod unit_s` of the picked limit's unit, whole seconds.
 * No headers when nothing was picked (no status carries a current_limit).
 */
export function rateLimitHeaders(
  picked: DescriptorStatus | undefined,
  nowSeconds: number,
  options: ResponseHeaderOptions,
): readonly HeaderValue[] {
  const limit = picked?.currentLimit;
  if (picked === undefined || limit === undefined) return NO_HEADERS;
  return [
    { key: options.limitHeader, value: String(limit.requestsPerUnit) },
    { key: options.remainingHeader, value: String(picked.limitRemaining) },
    {
      key: options.resetHeader,
      value: String(fixedWindowResetSeconds(nowSeconds, UNIT_SECONDS[limit.unit])),
    },
  ];
}
