import type { Algorithm } from './algorithm.js';
import type { DescriptorEntry } from './descriptor.js';
import type { Unit } from './units.js';

export type { Algorithm } from './algorithm.js';

/** One limit of a rule: `rate_limit`, or one entry of `rate_limits`. */
export interface Limit {
  readonly requestsPerUnit: number;
  readonly unit: Unit;
  readonly algorithm: Algorithm;
  /** token_bucket capacity in requests (default requests_per_unit); equals requestsPerUnit for the others. */
  readonly burst: number;
  /** `name`, '' when absent; echoed in current_limit.name and matched by `replaces`. */
  readonly name: string;
  /**
   * Appended to the counter key so limits on the same entries never share
   * state: '' for a lone fixed_window `rate_limit` (the reference's exact key,
   * so a mixed fleet shares counters), else e.g. `tb1_` or `fw60_`. Made by
   * keyTag in key-layout.ts.
   */
  readonly keyTag: string;
  /** Whether a rejected request is charged to this limit: {@link isChargedWhenRejected}. */
  readonly chargedWhenRejected: boolean;
}

/**
 * Whether a limit is charged for a request that is rejected (by this limit or by any
 * other blocking limit of the request): the one place this is decided. Every store
 * reads the answer from CounterCheck.chargedWhenRejected (apply.lua from its ARGV).
 *
 * - A lone fixed_window `rate_limit` (a request's `limit` override included): true. The
 *   reference counts rejected hits too (its INCRBY runs before the comparison), and we keep
 *   its answers; STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT still applies to it as there.
 * - Every limit of a `rate_limits` list, whatever its algorithm: false. The list is our
 *   extension, with nothing to stay compatible with, and a client throttled by 3/second
 *   must not burn its 5/minute budget.
 * - Every other algorithm: false; each only ever charges an admitted request.
 */
export function isChargedWhenRejected(algorithm: Algorithm, inRateLimitsList: boolean): boolean {
  return algorithm === 'fixed_window' && !inRateLimitsList;
}

/**
 * A configured (or Envoy-overridden) rule as the service applies it: the
 * limits of one descriptor node. Frozen and shared by every request that matches it.
 */
export interface LimitRule {
  /** Config path that identifies the rule, e.g. `domain.key_value.key2` (wildcards as written). */
  readonly fullKey: string;
  /** One or more limits, all checked and charged together; empty when unlimited. */
  readonly limits: readonly Limit[];
  /** Non-empty names of the limits; `replaces` elsewhere in the request drops the whole rule. */
  readonly names: readonly string[];
  readonly unlimited: boolean;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  /** Names of rules this rule drops from the same request. */
  readonly replaces: readonly string[];
  readonly detailedMetric: boolean;
  readonly valueToMetric: boolean;
  /** Descriptor-level `metadata`, returned in dynamic metadata when enabled. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The node's `adaptive: [names]`: the domain's controllers whose factors scale this rule's
   * limits (src/adaptive/effective-rules.ts). Absent (never empty) when the node names none,
   * so a rule without controllers costs the adaptive module one property read per match.
   */
  readonly adaptive?: readonly string[] | undefined;
}

/** The outcome of looking one request descriptor up in the config. */
export interface LimitMatch {
  readonly rule: LimitRule;
  /**
   * Entries that identify the counter: the request's entries, except that a level
   * matched by a `share_threshold` wildcard carries the pattern's value (with `*`),
   * so every value matching it shares one counter.
   */
  readonly counterEntries: readonly DescriptorEntry[];
  /** True when the limit came from the request's `limit` override, not the config. */
  readonly fromOverride: boolean;
}
