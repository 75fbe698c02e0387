import type { Unit } from './units.js';

export type Code = 'OK' | 'OVER_LIMIT';

/** The limit reported back to Envoy in `current_limit`. */
export interface CurrentLimit {
  readonly requestsPerUnit: number;
  readonly unit: Unit;
  readonly name: string;
}

/** One entry of `statuses`, transport-free. */
export interface DescriptorStatus {
  readonly code: Code;
  readonly currentLimit?: CurrentLimit | undefined;
  readonly limitRemaining: number;
  /** Whole seconds; undefined when no limit applied. */
  readonly durationUntilResetSeconds?: number | undefined;
}

export interface HeaderValue {
  readonly key: string;
  readonly value: string;
}

/** The answer to a ShouldRateLimit request, transport-free. */
export interface RateLimitResult {
  readonly overallCode: Code;
  /** One per request descriptor, in request order. */
  readonly statuses: readonly DescriptorStatus[];
  readonly responseHeadersToAdd: readonly HeaderValue[];
  /**
   * The status client-facing rate limit headers describe, one of `statuses`:
   * the gRPC RateLimit-* headers and /auth's X-RateLimit-*.
   * The reference's pick (envoyproxy/ratelimit src/service/ratelimit.go):
   * among statuses with a current_limit the one with the least
   * limit_remaining, the first on ties, except that every non-quota
   * OVER_LIMIT status overrides that pick, so the last one over wins.
   * Undefined when no status carries a current_limit. Set whether or not
   * response headers are enabled; not itself sent on the wire.
   */
  readonly decidingStatus?: DescriptorStatus | undefined;
  /**
   * On OVER_LIMIT, whole seconds until this request would be admitted with no
   * other traffic (/auth's Retry-After): the latest reset among the non-quota
   * statuses over, or, when only quotas reject it, the earliest among those (one
   * freeing up admits it). It can exceed the deciding status's reset: retrying
   * when that one frees up would still be refused by another. Undefined on OK.
   */
  readonly retryAfterSeconds?: number | undefined;
  /** Present only when RESPONSE_DYNAMIC_METADATA is on. */
  readonly dynamicMetadata?: Readonly<Record<string, unknown>> | undefined;
}

/** Largest uint32: limit_remaining of an unlimited descriptor, as the reference answers. */
export const UNLIMITED_REMAINING = 4_294_967_295;
