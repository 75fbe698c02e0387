import type { DescriptorEntry } from './descriptor.js';
import type { Unit } from './units.js';

/** How a limit counts. Only fixed_window exists so far; the others arrive with the algorithms issue. */
export type Algorithm = 'fixed_window';

/**
 * A configured (or Envoy-overridden) limit as the service applies it.
 * Frozen and shared by every request that matches it.
 */
export interface LimitRule {
  /** Config path that identifies the rule, e.g. `domain.key_value.key2` (wildcards as written). */
  readonly fullKey: string;
  readonly requestsPerUnit: number;
  readonly unit: Unit;
  readonly algorithm: Algorithm;
  /** `rate_limit.name`, '' when absent; echoed in current_limit.name and used by `replaces`. */
  readonly name: string;
  readonly unlimited: boolean;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  /** Names of rules this rule drops from the same request. */
  readonly replaces: readonly string[];
  readonly detailedMetric: boolean;
  readonly valueToMetric: boolean;
  /** Descriptor-level `metadata`, returned in dynamic metadata when enabled. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
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
