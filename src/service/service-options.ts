import type { KeyFormat } from '../core/key-layout.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './request-validation.js';

/** LIMIT_RESPONSE_HEADERS_ENABLED and the header-name settings (envoyproxy/ratelimit src/service/ratelimit.go). */
export interface ResponseHeaderOptions {
  readonly enabled: boolean;
  /** LIMIT_LIMIT_HEADER: the picked limit's requests_per_unit. */
  readonly limitHeader: string;
  /** LIMIT_REMAINING_HEADER: the picked status's limit_remaining. */
  readonly remainingHeader: string;
  /** LIMIT_RESET_HEADER: whole seconds until the picked unit's window ends. */
  readonly resetHeader: string;
}

/**
 * How the service answers; every field mirrors a setting of envoyproxy/ratelimit
 * src/settings/settings.go (names in TSDoc). The one definition: Settings reuses it.
 */
export interface ServiceOptions {
  /** CACHE_KEY_PREFIX, prepended to every counter key. */
  readonly cacheKeyPrefix: string;
  /**
   * CACHE_KEY_FORMAT (ours): `escaped` collision-free keys, or `reference` for
   * envoyproxy/ratelimit's exact keys during a migration (core/key-layout.ts).
   */
  readonly cacheKeyFormat: KeyFormat;
  /** SHADOW_MODE: statuses stay as computed, but overall_code is always OK. */
  readonly shadowMode: boolean;
  /** QUOTA_MODE: every non-unlimited descriptor, matched or not, counts as a quota descriptor. */
  readonly quotaMode: boolean;
  readonly responseHeaders: ResponseHeaderOptions;
  /** RESPONSE_DYNAMIC_METADATA: return dynamic metadata (envoyproxy/ratelimit src/service/ratelimit.go). */
  readonly dynamicMetadata: boolean;
  readonly requestLimits: RequestLimits;
}

/** The reference's header names, headers off. */
export const DEFAULT_RESPONSE_HEADER_OPTIONS: ResponseHeaderOptions = Object.freeze({
  enabled: false,
  limitHeader: 'RateLimit-Limit',
  remainingHeader: 'RateLimit-Remaining',
  resetHeader: 'RateLimit-Reset',
});

/** The reference's defaults (but collision-free keys): no prefix, no shadow or quota mode, no headers or metadata. */
export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = Object.freeze({
  cacheKeyPrefix: '',
  cacheKeyFormat: 'escaped',
  shadowMode: false,
  quotaMode: false,
  responseHeaders: DEFAULT_RESPONSE_HEADER_OPTIONS,
  dynamicMetadata: false,
  requestLimits: DEFAULT_REQUEST_LIMITS,
});
