import type { DescriptorEntry } from '../core/descriptor.js';
import type { Limit, LimitMatch } from '../core/limit.js';
import type { CounterDecision } from '../storage/counter-store.js';

/**
 * Statistics hook of the service (reference §7.3), implemented by the metrics
 * module so the service never imports prom-client. Optional: when absent the
 * service does no statistics work at all. Implementations must be cheap and
 * must not throw.
 */
export interface DecisionObserver {
  /**
   * One charged (matched, limited, not replaced) descriptor: its match, the
   * request entries, the hits it carried (0 = check only), and the limit that
   * decided its status with that limit's decision (several `rate_limits`: the
   * same pick as the response's current_limit).
   */
  charged(
    domain: string,
    match: LimitMatch,
    entries: readonly DescriptorEntry[],
    hits: number,
    limit: Limit,
    decision: CounterDecision,
  ): void;
  /** A request named a domain that no config defines (reference `<domain>.domain_not_found`). */
  domainNotFound(domain: string): void;
  /** ShouldRateLimit failed with `error` (answered as a gRPC/HTTP error, not a decision). */
  failed(error: unknown): void;
}
