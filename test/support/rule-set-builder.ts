import type { DescriptorEntry, RequestDescriptor } from '../../src/core/descriptor.js';
import { isChargedWhenRejected, type Limit, type LimitMatch, type LimitRule } from '../../src/core/limit.js';
import type { RuleSet } from '../../src/core/rule-set.js';

/** Rule fields, plus the fields of its single limit as a shorthand (ignored when `limits` is given). */
export type RuleFields = Partial<LimitRule> & Partial<Omit<Limit, 'keyTag' | 'chargedWhenRejected'>>;

/**
 * A rule with test defaults: one fixed-window limit of 10 per SECOND, no
 * name, no modes; `fullKey` is filled by `add`. Unlimited rules get no limits.
 * The shorthand limit is a lone `rate_limit` (reference key, its charging rule).
 */
export function limitRule(fields: RuleFields = {}): LimitRule {
  const {
    requestsPerUnit = 10,
    unit = 'SECOND',
    algorithm = 'fixed_window',
    name = '',
    burst,
    ...rule
  } = fields;
  const limits =
    rule.limits ??
    (rule.unlimited
      ? []
      : [
          {
            requestsPerUnit,
            unit,
            algorithm,
            name,
            burst: burst ?? requestsPerUnit,
            keyTag: '',
            chargedWhenRejected: isChargedWhenRejected(algorithm, false),
          },
        ]);
  return Object.freeze({
    fullKey: '',
    shadowMode: false,
    quotaMode: false,
    unlimited: false,
    replaces: [],
    detailedMetric: false,
    valueToMetric: false,
    ...rule,
    limits,
    names: rule.names ?? limits.map((limit) => limit.name).filter((n) => n !== ''),
  });
}

/** Entries written as `[key, value]` pairs. */
export type EntryPairs = readonly (readonly [string, string])[];

export function entries(pairs: EntryPairs): DescriptorEntry[] {
  return pairs.map(([key, value]) => ({ key, value }));
}

/**
 * A hand-built RuleSet for service tests: a descriptor matches a rule only
 * when its entries equal the rule's entries exactly (no wildcards, no
 * defaults). A descriptor carrying a `limit` override matches an unnamed rule
 * built from it, in any known domain, as the reference does.
 */
export class TestRuleSet implements RuleSet {
  private readonly domains = new Map<string, Map<string, LimitRule>>();
  /** Number of `match` calls, to prove what the service looked up. */
  matchCalls = 0;

  /** Declares a domain (possibly without rules). */
  domain(name: string): this {
    if (!this.domains.has(name)) this.domains.set(name, new Map());
    return this;
  }

  /** Adds a rule for exactly these entries; `rule` fields default as in `limitRule`. */
  add(domain: string, pairs: EntryPairs, rule: RuleFields = {}): this {
    this.domain(domain);
    const fullKey = [domain, ...pairs.map(([k, v]) => (v === '' ? k : `${k}_${v}`))].join('.');
    this.domains.get(domain)!.set(identity(entries(pairs)), limitRule({ fullKey, ...rule }));
    return this;
  }

  hasDomain(domain: string): boolean {
    return this.domains.has(domain);
  }

  match(domain: string, descriptor: RequestDescriptor): LimitMatch | undefined {
    this.matchCalls++;
    const rules = this.domains.get(domain);
    if (rules === undefined) return undefined;
    if (descriptor.limit !== undefined) {
      const rule = limitRule({
        fullKey: domain,
        requestsPerUnit: descriptor.limit.requestsPerUnit,
        unit: descriptor.limit.unit,
      });
      return { rule, counterEntries: descriptor.entries, fromOverride: true };
    }
    const rule = rules.get(identity(descriptor.entries));
    return rule === undefined ? undefined : { rule, counterEntries: descriptor.entries, fromOverride: false };
  }
}

function identity(list: readonly DescriptorEntry[]): string {
  return list.map((e) => `${e.key}\u0000${e.value}`).join('\u0001');
}
