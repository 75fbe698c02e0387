import type { RequestDescriptor } from '../core/descriptor.js';
import type { LimitMatch, LimitRule } from '../core/limit.js';
import type { RuleSet, RuleSetDecorator } from '../core/rule-set.js';
import { FACTOR_STEPS, quantizeFactor, ScaledRules } from './scaled-rules.js';

/**
 * Where effective limits come from: the adaptive controllers (error_rate AIMD, abuse penalty
 * box) implement this. Asked once per adaptive rule of each loaded config, not per request.
 */
export interface FactorSource {
  /**
   * The factor of a rule whose node names controllers (`rule.adaptive`, names declared in
   * `domain`'s `adaptive:` list), or undefined when nothing scales it (then the rule keeps
   * its configured limits and costs nothing more). Called the first time a loaded config's
   * rule matches; a reload asks again for the new rule objects, so a source that keeps its
   * state by domain, controller name and `rule.fullKey` carries it across reloads.
   */
  ruleFactor(domain: string, rule: LimitRule): RuleFactor | undefined;
}

/** The current factor of one adaptive rule; called once per matching request. */
export interface RuleFactor {
  /**
   * The product of the rule's controllers' factors for a request whose entry at the node's
   * level (the descriptor's last entry) has `value`, the request's own value even where a
   * share_threshold wildcard shares one counter among values: per-value controllers
   * (`abuse`) look it up, the others ignore it. Keep it to a field read or one Map lookup.
   *
   * 1 (or above, or NaN): the configured limits; 0: every request with hits > 0 is
   * OVER_LIMIT; in between: limits × factor in 0.1% steps, at least 1 per unit.
   */
  factor(value: string): number;
}

/**
 * The effective limits (DESIGN.md "Adaptive limits"): a RuleSetDecorator (see
 * decoratedRules) that scales the limits of every rule naming controllers by their factor,
 * so current_limit, limit_remaining, the RateLimit headers, dynamic metadata, observers
 * (per-rule metrics) and the store's enforcement all follow the effective limit. The
 * counter is the configured one (keyTag and counter key do not depend on the limit): a
 * tighter limit applies to the same count, and relaxing it lets the rest of the window
 * through. The local over-limit cache keys on the limit, so an OVER_LIMIT cached under
 * one factor is never reused under another.
 *
 * Cost per match: a rule without controllers (no `adaptive`) and a request `limit`
 * override (Envoy's own limit, never scaled) return the inner match itself: one property
 * read, no allocation. An adaptive rule: one WeakMap lookup (its state), the source's
 * factor, and at a factor below 1 a scaled rule from a small per-rule cache plus one
 * LimitMatch object (counterEntries belong to the request).
 *
 * Not wired into app.ts yet: the composition root keeps `undecorated` until the config
 * loader fills `LimitRule.adaptive` and the controllers implement {@link FactorSource}.
 * `/rlconfig` prints the configured lines until then too.
 */
export function adaptiveRules(factors: FactorSource): RuleSetDecorator {
  return (rules) => new AdaptiveRuleSet(rules, factors);
}

/** The state of one adaptive rule of the decorated config; null: nothing scales it. */
interface AdaptiveRule {
  readonly factor: RuleFactor;
  readonly scaled: ScaledRules;
}

class AdaptiveRuleSet implements RuleSet {
  readonly #inner: RuleSet;
  readonly #factors: FactorSource;
  readonly #rules = new WeakMap<LimitRule, AdaptiveRule | null>();

  constructor(inner: RuleSet, factors: FactorSource) {
    this.#inner = inner;
    this.#factors = factors;
  }

  hasDomain(domain: string): boolean {
    return this.#inner.hasDomain(domain);
  }

  match(domain: string, descriptor: RequestDescriptor): LimitMatch | undefined {
    const match = this.#inner.match(domain, descriptor);
    if (match === undefined || match.rule.adaptive === undefined || match.fromOverride) return match;
    let state = this.#rules.get(match.rule);
    if (state === undefined) state = this.#resolve(domain, match.rule);
    if (state === null) return match;
    const entries = descriptor.entries;
    const steps = quantizeFactor(state.factor.factor(entries[entries.length - 1]!.value));
    if (steps === FACTOR_STEPS) return match;
    return { rule: state.scaled.at(steps), counterEntries: match.counterEntries, fromOverride: false };
  }

  #resolve(domain: string, rule: LimitRule): AdaptiveRule | null {
    const factor = rule.unlimited ? undefined : this.#factors.ruleFactor(domain, rule);
    const state = factor === undefined ? null : { factor, scaled: new ScaledRules(rule) };
    this.#rules.set(rule, state);
    return state;
  }
}
