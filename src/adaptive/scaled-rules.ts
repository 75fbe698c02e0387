import type { Limit, LimitRule } from '../core/limit.js';

/**
 * Factors are applied in steps of 1/FACTOR_STEPS (0.1%). Why per-mille, not 1/1024: the
 * factors operators write (decrease 0.5, increase 0.1, floor 0.1, penalty 0.1) are
 * decimals, and every 3-decimal factor is a whole number of steps, so
 * `floor(configured × steps / 1000)` in exact integer arithmetic gives what the operator
 * computes (100 × 0.1 = 10; with 1/1024, 0.1 becomes 102/1024 and 100/s would become 9/s).
 * 0.1% is far finer than any AIMD step, so every step shows; and the step count bounds
 * the distinct scaled rules of a rule at 1001 (the per-rule cache holds far fewer).
 */
export const FACTOR_STEPS = 1000;

/**
 * A factor as a whole number of steps in [0, FACTOR_STEPS]: FACTOR_STEPS (the configured
 * limits) for 1, above 1 or NaN (adaptive limits only ever tighten, and a broken factor
 * does not block); 0 only for a factor of 0 or below (a penalty that blocks); any other
 * positive factor at least 1 step, so it never rounds into a block.
 */
export function quantizeFactor(factor: number): number {
  if (!(factor < 1)) return FACTOR_STEPS;
  if (factor <= 0) return 0;
  const steps = Math.round(factor * FACTOR_STEPS);
  return steps === 0 ? 1 : steps;
}

/**
 * `count` (requests_per_unit or burst) scaled by `steps`: at least 1 request per unit, except
 * that 0 stays 0 (a configured 0 blocks, and so does a factor of 0). Exact: count ≤ 2³² and
 * steps ≤ 1000 keep the product below 2⁵³.
 */
export function scaledCount(count: number, steps: number): number {
  if (count === 0 || steps === 0) return 0;
  return Math.max(1, Math.floor((count * steps) / FACTOR_STEPS));
}

/**
 * The rule with every limit scaled by `steps` (see {@link scaledCount}), burst included: a
 * token_bucket's capacity scales with its rate, and every other algorithm's burst, equal to
 * its requests_per_unit (Limit.burst), stays equal to it (metrics read burst as capacity),
 * with no algorithm named here. fullKey, names, keyTag (so the counter key: same counter,
 * tighter limit), replaces, modes, metadata and adaptive names are the rule's own. Frozen.
 */
export function scaleRule(rule: LimitRule, steps: number): LimitRule {
  const limits = rule.limits.map((limit): Limit => {
    const requestsPerUnit = scaledCount(limit.requestsPerUnit, steps);
    return Object.freeze({ ...limit, requestsPerUnit, burst: scaledCount(limit.burst, steps) });
  });
  return Object.freeze({ ...rule, limits: Object.freeze(limits) });
}

/** Scaled versions kept per rule: factors change rarely, and a few penalty levels coexist. */
export const SCALED_RULES_PER_RULE = 8;

/**
 * The scaled versions of one configured rule, by quantized factor: built once, then the same
 * frozen object for every request at that factor (so per-rule observers keyed by the rule
 * object see a handful of objects, not one per request). At most
 * {@link SCALED_RULES_PER_RULE}, the oldest replaced first (round robin): a factor that
 * walks through many values (AIMD recovering step by step) never grows it.
 */
export class ScaledRules {
  readonly #rule: LimitRule;
  readonly #steps: number[] = [];
  readonly #rules: LimitRule[] = [];
  #next = 0;

  constructor(rule: LimitRule) {
    this.#rule = rule;
  }

  /** The rule scaled by `steps` (0 ≤ steps < FACTOR_STEPS). */
  at(steps: number): LimitRule {
    const cached = this.#steps;
    for (let i = 0; i < cached.length; i++) {
      if (cached[i] === steps) return this.#rules[i]!;
    }
    const scaled = scaleRule(this.#rule, steps);
    const slot = this.#next;
    this.#steps[slot] = steps;
    this.#rules[slot] = scaled;
    this.#next = (slot + 1) % SCALED_RULES_PER_RULE;
    return scaled;
  }

  /** Number of scaled rules held (tests: the bound). */
  get size(): number {
    return this.#steps.length;
  }
}
