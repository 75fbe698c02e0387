import type { DescriptorEntry } from '../core/descriptor.js';
import type { Limit, LimitMatch } from '../core/limit.js';
import type { CounterDecision } from '../storage/counter-store.js';

/**
 * A hook on the service's decisions: per rule statistics (the reference's,
 * envoyproxy/ratelimit src/stats/ and src/limiter/base_limiter.go),
 * implemented by the metrics module so the service never imports prom-client,
 * and next the adaptive module. The service takes any number of them
 * ({@link combineObservers}); with none it does no observing work at all.
 * Implementations must be cheap and must not throw.
 */
export interface DecisionObserver {
  /**
   * One charged (matched, limited, not replaced) descriptor: its match, the
   * request entries, the hits it carried (0 = check only), and the limit that
   * decided its status with that limit's decision (several `rate_limits`: the
   * same pick as the response's current_limit). The limit is the effective
   * one, read from the RuleSet the service was given (decorators included).
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

/**
 * One observer for the service from any number: none → undefined (the
 * service skips observing), one → that observer itself (no indirection on
 * the hot path), several → a fan-out calling each in order. Combine once, at
 * construction.
 */
export function combineObservers(observers: readonly DecisionObserver[]): DecisionObserver | undefined {
  if (observers.length === 0) return undefined;
  if (observers.length === 1) return observers[0];
  return new ObserverFanOut(observers);
}

/** Calls every observer in turn, in registration order. */
class ObserverFanOut implements DecisionObserver {
  private readonly observers: readonly DecisionObserver[];

  constructor(observers: readonly DecisionObserver[]) {
    this.observers = [...observers];
  }

  charged(
    domain: string,
    match: LimitMatch,
    entries: readonly DescriptorEntry[],
    hits: number,
    limit: Limit,
    decision: CounterDecision,
  ): void {
    for (const observer of this.observers) observer.charged(domain, match, entries, hits, limit, decision);
  }

  domainNotFound(domain: string): void {
    for (const observer of this.observers) observer.domainNotFound(domain);
  }

  failed(error: unknown): void {
    for (const observer of this.observers) observer.failed(error);
  }
}
