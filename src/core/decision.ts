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
  /** Present only when RESPONSE_DYNAMIC_METADATA is on. */
  readonly dynamicMetadata?: Readonly<Record<string, unknown>> | undefined;
}

/** Largest uint32: limit_remaining of an unlimited descriptor, as the reference answers. */
export const UNLIMITED_REMAINING = 4_294_967_295;
