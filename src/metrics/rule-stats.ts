import { Counter, type Registry } from 'prom-client';
import type { DescriptorEntry } from '../core/descriptor.js';
import { RateLimitError } from '../core/errors.js';
import type { Limit, LimitMatch, LimitRule } from '../core/limit.js';
import type { DecisionObserver } from '../service/decision-observer.js';
import type { CounterDecision } from '../storage/counter-store.js';
import { chargeHits, nearThreshold } from './hit-accounting.js';
import { configuredValues, labelsOf, type StatLabels, statLevels } from './stat-labels.js';

const RULE_LABELS = ['domain', 'key1', 'key2'] as const;
type RuleLabel = (typeof RULE_LABELS)[number];

/** Distinct `domain` label values of domain_not_found before the rest fold into `other`. */
export const DOMAIN_NOT_FOUND_CAP = 100;
export const OTHER_DOMAIN = 'other';

interface Bound {
  inc(value: number): void;
}

/** The five counters of one statKey, bound to its labels once. */
interface RuleCounters {
  readonly total: Bound;
  readonly over: Bound;
  readonly near: Bound;
  readonly within: Bound;
  readonly shadow: Bound;
}

/** What is cached per rule: fixed counters, or (values in the key) the configured values to rebuild labels. */
type RuleEntry =
  | { readonly fixed: RuleCounters }
  | { readonly fixed: undefined; readonly configured: readonly (string | undefined)[] };

/**
 * The per rule statistics of the reference (§7.3) under its Prometheus
 * names, plus domain_not_found and errors by type. Implements the service's
 * DecisionObserver. Counters of a rule are bound once and cached in a
 * WeakMap keyed by the frozen rule object, so a config reload (new rule
 * objects) lets the old entries go; labels keep their accumulated values.
 */
export class RuleStats implements DecisionObserver {
  private readonly totalHits: Counter<RuleLabel>;
  private readonly overLimit: Counter<RuleLabel>;
  private readonly nearLimit: Counter<RuleLabel>;
  private readonly withinLimit: Counter<RuleLabel>;
  private readonly shadowMode: Counter<RuleLabel>;
  private readonly domainNotFoundCounter: Counter<'domain'>;
  private readonly errors: Counter<'err_type'>;
  private readonly rules = new WeakMap<LimitRule, RuleEntry>();
  private readonly unknownDomains = new Set<string>();

  /** `nearLimitRatio` is NEAR_LIMIT_RATIO (reference default 0.8). */
  constructor(
    registry: Registry,
    private readonly nearLimitRatio: number,
  ) {
    const counter = (suffix: string, help: string) =>
      new Counter({
        name: `ratelimit_service_rate_limit_${suffix}`,
        help,
        labelNames: RULE_LABELS,
        registers: [registry],
      });
    this.totalHits = counter('total_hits', 'Hits charged to the rule (hits_addend summed)');
    this.overLimit = counter('over_limit', 'Hits beyond the limit');
    this.nearLimit = counter('near_limit', 'Hits above floor(limit x NEAR_LIMIT_RATIO), up to the limit');
    this.withinLimit = counter('within_limit', 'Hits of requests answered OK by the rule');
    this.shadowMode = counter(
      'shadow_mode',
      'Hits of over-limit requests that a shadow_mode rule let through',
    );
    this.domainNotFoundCounter = new Counter({
      name: 'ratelimit_service_domain_not_found',
      help: `Requests for a domain no config defines (first ${DOMAIN_NOT_FOUND_CAP} names, the rest as "${OTHER_DOMAIN}")`,
      labelNames: ['domain'] as const,
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'ratelimit_service_should_rate_limit_error',
      help: 'ShouldRateLimit calls answered with an error, by type',
      labelNames: ['err_type'] as const,
      registers: [registry],
    });
  }

  charged(
    domain: string,
    match: LimitMatch,
    entries: readonly DescriptorEntry[],
    hits: number,
    limit: Limit,
    decision: CounterDecision,
  ): void {
    if (hits === 0) return;
    const counters = this.countersFor(domain, match, entries);
    const capacity = limit.burst;
    const charge = chargeHits(
      hits,
      capacity,
      nearThreshold(capacity, this.nearLimitRatio),
      decision.overLimit,
      decision.used,
    );
    counters.total.inc(hits);
    if (charge.withinLimit > 0) counters.within.inc(charge.withinLimit);
    if (charge.nearLimit > 0) counters.near.inc(charge.nearLimit);
    if (charge.overLimit > 0) {
      counters.over.inc(charge.overLimit);
      // the reference adds the request's whole addend when a shadow rule is over
      if (match.rule.shadowMode && !match.fromOverride) counters.shadow.inc(hits);
    }
  }

  domainNotFound(domain: string): void {
    const known = this.unknownDomains.has(domain);
    if (!known && this.unknownDomains.size < DOMAIN_NOT_FOUND_CAP) this.unknownDomains.add(domain);
    this.domainNotFoundCounter.inc({
      domain: known || this.unknownDomains.has(domain) ? domain : OTHER_DOMAIN,
    });
  }

  failed(error: unknown): void {
    this.errors.inc({ err_type: errorType(error) });
  }

  private countersFor(domain: string, match: LimitMatch, entries: readonly DescriptorEntry[]): RuleCounters {
    const rule = match.rule;
    if (match.fromOverride) return this.bind(labelsOf(domain, statLevels([], entries, false)));
    let entry = this.rules.get(rule);
    if (entry === undefined) {
      const configured = configuredValues(rule.fullKey, domain, entries);
      entry =
        rule.detailedMetric || rule.valueToMetric
          ? { fixed: undefined, configured }
          : { fixed: this.bind(labelsOf(domain, statLevels(configured, entries, false))) };
      this.rules.set(rule, entry);
    }
    if (entry.fixed !== undefined) return entry.fixed;
    return this.bind(labelsOf(domain, statLevels(entry.configured, entries, true)));
  }

  /** Binds the five counters of a statKey; all five series show (at 0) from a rule's first charge on. */
  private bind(labels: StatLabels): RuleCounters {
    const counters: RuleCounters = {
      total: this.totalHits.labels(labels),
      over: this.overLimit.labels(labels),
      near: this.nearLimit.labels(labels),
      within: this.withinLimit.labels(labels),
      shadow: this.shadowMode.labels(labels),
    };
    for (const bound of Object.values(counters)) bound.inc(0);
    return counters;
  }
}

/**
 * err_type values: the reference's `redis_error` for any backend failure
 * (whatever the backend), `invalid_argument` and `no_config` for the
 * service's own refusals, `service_error` for anything else. Bounded.
 */
export function errorType(error: unknown): string {
  if (!(error instanceof RateLimitError)) return 'service_error';
  switch (error.code) {
    case 'BACKEND_UNAVAILABLE':
      return 'redis_error';
    case 'INVALID_ARGUMENT':
      return 'invalid_argument';
    case 'NO_CONFIG':
      return 'no_config';
    default:
      return 'service_error';
  }
}
