import { describe, expect, it } from 'vitest';
import { adaptiveRules, type FactorSource, type RuleFactor } from '../../../src/adaptive/effective-rules.js';
import {
  FACTOR_STEPS,
  quantizeFactor,
  SCALED_RULES_PER_RULE,
  ScaledRules,
  scaledCount,
} from '../../../src/adaptive/scaled-rules.js';
import type { RequestDescriptor } from '../../../src/core/descriptor.js';
import type { LimitMatch, LimitRule } from '../../../src/core/limit.js';
import type { RuleSet } from '../../../src/core/rule-set.js';
import { limitRule, TestRuleSet } from '../../support/rule-set-builder.js';

/**
 * A FactorSource stub: one factor per rule fullKey (default 1), optionally per value of
 * the node's key; counts what the decorator asks.
 */
class StubFactors implements FactorSource {
  readonly byRule = new Map<string, number>();
  readonly byValue = new Map<string, number>();
  resolved = 0;
  calls = 0;
  /** fullKeys the source does not scale (ruleFactor answers undefined). */
  readonly unknown = new Set<string>();

  ruleFactor(_domain: string, rule: LimitRule): RuleFactor | undefined {
    this.resolved++;
    if (this.unknown.has(rule.fullKey)) return undefined;
    return {
      factor: (value) => {
        this.calls++;
        return (this.byRule.get(rule.fullKey) ?? 1) * (this.byValue.get(value) ?? 1);
      },
    };
  }
}

const d = (key: string, value: string): RequestDescriptor => ({ entries: [{ key, value }] });

function setup(fields: Parameters<TestRuleSet['add']>[2] = {}) {
  const config = new TestRuleSet()
    .add('api', [['path', '/checkout']], { requestsPerUnit: 100, adaptive: ['checkout-health'], ...fields })
    .add('api', [['path', '/static']], { requestsPerUnit: 100 });
  const factors = new StubFactors();
  const rules = adaptiveRules(factors)(config);
  return { config, factors, rules, key: 'api.path_/checkout' };
}

describe('adaptiveRules: which matches change', () => {
  it('returns the inner match itself for a rule without controllers, without asking the source', () => {
    const { config, factors, rules } = setup();
    const inner = config.match('api', d('path', '/static'));
    const outer = rules.match('api', d('path', '/static'));
    expect(outer?.rule).toBe(inner?.rule);
    expect(factors.resolved).toBe(0);
    expect(factors.calls).toBe(0);
  });

  it('returns the very same match object at factor 1, and at a factor that rounds to 1', () => {
    const matched: LimitMatch = {
      rule: limitRule({ adaptive: ['a'] }),
      counterEntries: [],
      fromOverride: false,
    };
    const inner: RuleSet = { hasDomain: () => true, match: () => matched };
    const factors = new StubFactors();
    const rules = adaptiveRules(factors)(inner);
    expect(rules.match('api', d('k', 'v'))).toBe(matched);
    factors.byRule.set('', 0.9996);
    expect(rules.match('api', d('k', 'v'))).toBe(matched);
    factors.byRule.set('', Number.NaN);
    expect(rules.match('api', d('k', 'v'))).toBe(matched);
    factors.byRule.set('', 3);
    expect(rules.match('api', d('k', 'v'))).toBe(matched);
  });

  it("never scales a request limit override (Envoy's own limit), even on an adaptive rule", () => {
    const override: LimitMatch = {
      rule: limitRule({ adaptive: ['a'] }),
      counterEntries: [],
      fromOverride: true,
    };
    const factors = new StubFactors();
    factors.byRule.set('', 0.5);
    const rules = adaptiveRules(factors)({ hasDomain: () => true, match: () => override });
    expect(rules.match('api', d('k', 'v'))).toBe(override);
    expect(factors.calls).toBe(0);
  });

  it('asks the source once per rule of a loaded config, and again for a new config', () => {
    const { config, factors, rules, key } = setup();
    factors.byRule.set(key, 0.5);
    for (let i = 0; i < 5; i++) rules.match('api', d('path', '/checkout'));
    expect(factors.resolved).toBe(1);
    expect(factors.calls).toBe(5);
    adaptiveRules(factors)(config).match('api', d('path', '/checkout'));
    expect(factors.resolved).toBe(2);
  });

  it('keeps the configured limits of an adaptive rule the source does not scale', () => {
    const { config, factors, rules, key } = setup();
    factors.unknown.add(key);
    expect(rules.match('api', d('path', '/checkout'))?.rule).toBe(
      config.match('api', d('path', '/checkout'))?.rule,
    );
    rules.match('api', d('path', '/checkout'));
    expect(factors.resolved).toBe(1);
  });

  it('passes hasDomain and "no match" through', () => {
    const { rules } = setup();
    expect(rules.hasDomain('api')).toBe(true);
    expect(rules.hasDomain('other')).toBe(false);
    expect(rules.match('api', d('path', '/nowhere'))).toBeUndefined();
  });
});

describe('adaptiveRules: the scaled rule', () => {
  it('halves every limit at 0.5, keeping fullKey, names, key tag and the counter entries', () => {
    const { config, factors, rules, key } = setup({ name: 'checkout' });
    factors.byRule.set(key, 0.5);
    const descriptor = d('path', '/checkout');
    const configured = config.match('api', descriptor)!;
    const scaled = rules.match('api', descriptor)!;
    expect(scaled.rule.limits[0]).toEqual({ ...configured.rule.limits[0], requestsPerUnit: 50, burst: 50 });
    expect(scaled.rule.fullKey).toBe(configured.rule.fullKey);
    expect(scaled.rule.names).toBe(configured.rule.names);
    expect(scaled.rule.adaptive).toEqual(['checkout-health']);
    expect(scaled.counterEntries).toBe(descriptor.entries);
    expect(scaled.fromOverride).toBe(false);
    expect(Object.isFrozen(scaled.rule)).toBe(true);
    expect(Object.isFrozen(scaled.rule.limits[0])).toBe(true);
    // the configured rule is untouched
    expect(configured.rule.limits[0]?.requestsPerUnit).toBe(100);
  });

  it('scales every limit of a rate_limits list', () => {
    const { factors, rules, key } = setup({
      limits: [
        {
          requestsPerUnit: 10,
          unit: 'SECOND',
          algorithm: 'fixed_window',
          burst: 10,
          name: 'a',
          keyTag: 'fw1_',
          chargedWhenRejected: false,
        },
        {
          requestsPerUnit: 600,
          unit: 'MINUTE',
          algorithm: 'sliding_window',
          burst: 600,
          name: 'b',
          keyTag: 'sw60_',
          chargedWhenRejected: false,
        },
      ],
    });
    factors.byRule.set(key, 0.25);
    const limits = rules.match('api', d('path', '/checkout'))!.rule.limits;
    expect(limits.map((l) => [l.requestsPerUnit, l.burst, l.keyTag])).toEqual([
      [2, 2, 'fw1_'],
      [150, 150, 'sw60_'],
    ]);
  });

  it('never goes below 1 request per unit for a factor above 0', () => {
    const { factors, rules, key } = setup({ requestsPerUnit: 3 });
    for (const factor of [0.1, 0.0001, Number.MIN_VALUE]) {
      factors.byRule.set(key, factor);
      expect(rules.match('api', d('path', '/checkout'))?.rule.limits[0]?.requestsPerUnit).toBe(1);
    }
  });

  it('blocks at factor 0 (requests_per_unit 0), and a configured 0 stays 0 at any factor', () => {
    const { factors, rules, key } = setup();
    factors.byRule.set(key, 0);
    expect(rules.match('api', d('path', '/checkout'))?.rule.limits[0]).toMatchObject({
      requestsPerUnit: 0,
      burst: 0,
    });
    const zero = setup({ requestsPerUnit: 0 });
    zero.factors.byRule.set(zero.key, 0.5);
    expect(zero.rules.match('api', d('path', '/checkout'))?.rule.limits[0]?.requestsPerUnit).toBe(0);
  });

  it('scales a token_bucket burst with its rate', () => {
    const { factors, rules, key } = setup({ requestsPerUnit: 10, algorithm: 'token_bucket', burst: 40 });
    factors.byRule.set(key, 0.5);
    expect(rules.match('api', d('path', '/checkout'))?.rule.limits[0]).toMatchObject({
      requestsPerUnit: 5,
      burst: 20,
    });
    factors.byRule.set(key, 0.01);
    expect(rules.match('api', d('path', '/checkout'))?.rule.limits[0]).toMatchObject({
      requestsPerUnit: 1,
      burst: 1,
    });
  });

  it('applies a per-value factor to that value only: alice penalised, bob not', () => {
    const { config, factors, rules } = setup();
    factors.byValue.set('alice', 0.1);
    config.add('api', [['user', 'alice']], { requestsPerUnit: 600, unit: 'MINUTE', adaptive: ['abusers'] });
    config.add('api', [['user', 'bob']], { requestsPerUnit: 600, unit: 'MINUTE', adaptive: ['abusers'] });
    const bob = d('user', 'bob');
    expect(rules.match('api', d('user', 'alice'))?.rule.limits[0]?.requestsPerUnit).toBe(60);
    expect(rules.match('api', bob)?.rule).toBe(config.match('api', bob)?.rule);
  });

  it("reads the factor with the value of the descriptor's last entry", () => {
    const config = new TestRuleSet().add(
      'api',
      [
        ['tenant', 'acme'],
        ['user', 'alice'],
      ],
      { adaptive: ['abusers'] },
    );
    const factors = new StubFactors();
    factors.byValue.set('alice', 0.5);
    factors.byValue.set('acme', 0);
    const rules = adaptiveRules(factors)(config);
    const match = rules.match('api', {
      entries: [
        { key: 'tenant', value: 'acme' },
        { key: 'user', value: 'alice' },
      ],
    });
    expect(match?.rule.limits[0]?.requestsPerUnit).toBe(5);
  });
});

describe('scaled rule cache', () => {
  it('returns the same scaled rule object for the same quantized factor', () => {
    const { factors, rules, key } = setup();
    factors.byRule.set(key, 0.5);
    const first = rules.match('api', d('path', '/checkout'))?.rule;
    factors.byRule.set(key, 0.5004);
    expect(rules.match('api', d('path', '/checkout'))?.rule).toBe(first);
    factors.byRule.set(key, 0.25);
    expect(rules.match('api', d('path', '/checkout'))?.rule).not.toBe(first);
  });

  it(`holds at most ${SCALED_RULES_PER_RULE} scaled rules while the factor walks through many values`, () => {
    const cache = new ScaledRules(limitRule({ requestsPerUnit: 1000 }));
    for (let steps = 0; steps < FACTOR_STEPS; steps++) {
      expect(cache.at(steps).limits[0]?.requestsPerUnit).toBe(steps);
      expect(cache.size).toBeLessThanOrEqual(SCALED_RULES_PER_RULE);
    }
    // the most recent ones are still the same objects
    expect(cache.at(999)).toBe(cache.at(999));
    const recent = cache.at(998);
    cache.at(997);
    expect(cache.at(998)).toBe(recent);
  });
});

describe('quantizeFactor and scaledCount', () => {
  it('quantizes to 0.1% steps: decimal factors exactly, only 0 and below to a block, 1 and above or NaN to the configured limit', () => {
    expect([0.1, 0.5, 0.05, 0.125, 0.9].map(quantizeFactor)).toEqual([100, 500, 50, 125, 900]);
    expect([1, 1.5, Number.NaN, Number.POSITIVE_INFINITY].map(quantizeFactor)).toEqual([
      1000, 1000, 1000, 1000,
    ]);
    expect([0, -0, -1].map(quantizeFactor)).toEqual([0, 0, 0]);
    expect([1e-9, 0.0004].map(quantizeFactor)).toEqual([1, 1]);
  });

  it('scales exactly: 100 × 0.1 = 10 (not 9, as 1/1024 steps would give), 2³² − 1 without rounding error', () => {
    expect(scaledCount(100, quantizeFactor(0.1))).toBe(10);
    expect(scaledCount(7, quantizeFactor(0.3))).toBe(2);
    expect(scaledCount(2 ** 32 - 1, 999)).toBe(Math.floor(((2 ** 32 - 1) * 999) / 1000));
    expect(scaledCount(2 ** 32 - 1, 999)).toBe(4290672327); // BigInt: (2n ** 32n - 1n) * 999n / 1000n;
  });
});
