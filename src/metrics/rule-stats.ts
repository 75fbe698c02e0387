import { Counter, type Registry } from 'prom-client';
import type { DescriptorEntry } from '../core/descriptor.js';
import { RateLimitError } from '../core/errors.js';
import type { Limit, LimitMatch, LimitRule } from '../core/limit.js';
import type { DecisionObserver } from '../service/decision-observer.js';
import type { CounterDecision } from '../storage/counter-store.js';
import { chargeHits, nearThreshold } from './hit-accounting.js';
import { configuredValues, labelsOf, type StatLabels, statLevels } from './stat-labels.js';

const RULE_LABELS = ['domain', 'key1', 'key2'] as const;

/** Distinct `domain` label values of domain_not_found before the rest fold into `other`. */
export const DOMAIN_NOT_FOUND_CAP = 100;
export const OTHER_DOMAIN = 'other';

/**
 * The hits of one statKey, counted in plain numbers on the hot path and
 * copied into the Prometheus counters when they are read (their `collect`),
 * so a decision costs a few additions instead of five labelled counter
 * updates (label hashing and validation per call).
 */
class RuleTally {
  total = 0;
  over = 0;
  near = 0;
  within = 0;
  shadow = 0;
  constructor(readonly labels: StatLabels) {}
}

type TallyField = 'total' | 'over' | 'near' | 'within' | 'shadow';

/** What is cached per rule: its fixed tally, or (values in the key) the configured values to rebuild labels. */
type RuleEntry =
  | { readonly fixed: RuleTally }
  | { readonly fixed: undefined; readonly configured: readonly (string | undefined)[] };

/**
 * The per rule statistics of the reference (envoyproxy/ratelimit src/stats/,
 * counted in src/limiter/base_limiter.go) under its Prometheus names, plus domain_not_found and errors by type. Implements the service's
 * DecisionObserver. A rule's tally is found through a WeakMap keyed by the
 * frozen rule object (a config reload's new rule objects find the same tally
 * through its labels, so counts carry on); tallies live as long as their
 * label set, which the config bounds.
 */
export class RuleStats implements DecisionObserver {
  private readonly domainNotFoundCounter: Counter<'domain'>;
  private readonly errors: Counter<'err_type'>;
  private readonly rules = new WeakMap<LimitRule, RuleEntry>();
  /** Every tally by its labels (`domain key1 key2` joined with NUL). */
  private readonly tallies = new Map<string, RuleTally>();
  private readonly unknownDomains = new Set<string>();

  /** `nearLimitRatio` is NEAR_LIMIT_RATIO (reference default 0.8). */
  constructor(
    registry: Registry,
    private readonly nearLimitRatio: number,
  ) {
    const tallies = this.tallies;
    const counter = (suffix: string, help: string, field: TallyField) =>
      new Counter({
        name: `ratelimit_service_rate_limit_${suffix}`,
        help,
        labelNames: RULE_LABELS,
        registers: [registry],
        // runs on every read (scrape, cluster aggregation, tests): publish the running totals
        collect() {
          this.reset();
          for (const tally of tallies.values()) this.inc(tally.labels, tally[field]);
        },
      });
    counter('total_hits', 'Hits charged to the rule (hits_addend summed)', 'total');
    counter('over_limit', 'Hits beyond the limit', 'over');
    counter('near_limit', 'Hits above floor(limit x NEAR_LIMIT_RATIO), up to the limit', 'near');
    counter('within_limit', 'Hits of requests answered OK by the rule', 'within');
    counter('shadow_mode', 'Hits of over-limit requests that a shadow_mode rule let through', 'shadow');
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
    // the four types show from the start at 0 (errorType's values), so alerts and panels over
    // them get a series before the first error
    for (const type of ERROR_TYPES) this.errors.inc({ err_type: type }, 0);
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
    const tally = this.tallyFor(domain, match, entries);
    const capacity = limit.burst;
    const charge = chargeHits(
      hits,
      capacity,
      nearThreshold(capacity, this.nearLimitRatio),
      decision.overLimit,
      decision.used,
    );
    tally.total += hits;
    tally.within += charge.withinLimit;
    tally.near += charge.nearLimit;
    if (charge.overLimit > 0) {
      tally.over += charge.overLimit;
      // the reference adds the request's whole addend when a shadow rule is over
      if (match.rule.shadowMode && !match.fromOverride) tally.shadow += hits;
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

  private tallyFor(domain: string, match: LimitMatch, entries: readonly DescriptorEntry[]): RuleTally {
    const rule = match.rule;
    if (match.fromOverride) return this.tally(labelsOf(domain, statLevels([], entries, false)));
    let entry = this.rules.get(rule);
    if (entry === undefined) {
      const configured = configuredValues(rule.fullKey, domain, entries);
      entry =
        rule.detailedMetric || rule.valueToMetric
          ? { fixed: undefined, configured }
          : { fixed: this.tally(labelsOf(domain, statLevels(configured, entries, false))) };
      this.rules.set(rule, entry);
    }
    if (entry.fixed !== undefined) return entry.fixed;
    return this.tally(labelsOf(domain, statLevels(entry.configured, entries, true)));
  }

  /** The tally of a statKey; all five series show (at 0) from its first charge on. */
  private tally(labels: StatLabels): RuleTally {
    const id = `${labels.domain}\0${labels.key1}\0${labels.key2}`;
    let tally = this.tallies.get(id);
    if (tally === undefined) {
      tally = new RuleTally(labels);
      this.tallies.set(id, tally);
    }
    return tally;
  }
}

const ERROR_TYPES = ['redis_error', 'invalid_argument', 'no_config', 'service_error'] as const;

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
