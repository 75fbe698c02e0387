import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RequestDescriptor } from '../../../src/core/descriptor.js';
import type { LimitMatch, LimitRule } from '../../../src/core/limit.js';
import { type RuleSet, type RuleSetDecorator, undecorated } from '../../../src/core/rule-set.js';
import { authResponseFor } from '../../../src/http/auth-request.js';
import { RuleStats } from '../../../src/metrics/rule-stats.js';
import type { DecisionObserver } from '../../../src/service/decision-observer.js';
import { decoratedRules } from '../../../src/service/decorated-rules.js';
import { RateLimitService } from '../../../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS } from '../../../src/service/service-options.js';
import { ManualClock } from '../../support/manual-clock.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, RecordingStore, request } from './service-fixture.js';

/**
 * A decorator as the adaptive module would write one: configured rules get
 * half their limits (each rule converted once, shared by every request);
 * Envoy overrides pass through.
 */
const halveLimits: RuleSetDecorator = (rules) => {
  const halved = new WeakMap<LimitRule, LimitRule>();
  const halve = (rule: LimitRule): LimitRule => {
    let out = halved.get(rule);
    if (out === undefined) {
      const limits = rule.limits.map((limit) => {
        const requestsPerUnit = Math.floor(limit.requestsPerUnit / 2);
        const burst = limit.algorithm === 'token_bucket' ? Math.floor(limit.burst / 2) : requestsPerUnit;
        return { ...limit, requestsPerUnit, burst };
      });
      out = Object.freeze({ ...rule, limits });
      halved.set(rule, out);
    }
    return out;
  };
  return {
    hasDomain: (domain: string) => rules.hasDomain(domain),
    match(domain: string, d: RequestDescriptor): LimitMatch | undefined {
      const match = rules.match(domain, d);
      return match === undefined || match.fromOverride ? match : { ...match, rule: halve(match.rule) };
    },
  };
};

/** The limit of every `charged` call. */
function limitsSeen(): DecisionObserver & { readonly limits: number[] } {
  const limits: number[] = [];
  return {
    limits,
    charged: (_domain, _match, _entries, _hits, limit) => limits.push(limit.requestsPerUnit),
    domainNotFound: () => {},
    failed: () => {},
  };
}

describe('decoratedRules', () => {
  it('decorates a loaded config once, however often it is read', () => {
    const config = new TestRuleSet().domain('d');
    let calls = 0;
    const rules = decoratedRules(
      () => config,
      (r) => {
        calls++;
        return halveLimits(r);
      },
    );
    const first = rules();
    expect(rules()).toBe(first);
    expect(first).not.toBe(config);
    expect(calls).toBe(1);
  });

  it('decorates again when the current config changes, and passes "no config" through', () => {
    let current: RuleSet | undefined;
    const decorate = (r: RuleSet) => halveLimits(r);
    const seen: RuleSet[] = [];
    const rules = decoratedRules(
      () => current,
      (r) => {
        seen.push(r);
        return decorate(r);
      },
    );
    expect(rules()).toBeUndefined();
    current = new TestRuleSet().domain('a');
    const a = rules();
    current = new TestRuleSet().domain('b');
    const b = rules();
    expect(a).not.toBe(b);
    expect(b?.hasDomain('b')).toBe(true);
    expect(seen).toHaveLength(2);
  });

  it('is the config getter itself when nothing decorates', () => {
    const current = () => undefined;
    expect(decoratedRules(current, undecorated)).toBe(current);
  });
});

describe('RateLimitService with a decorated RuleSet', () => {
  it('answers, reports and enforces the decorated limit: 10/MINUTE halved to 5', async () => {
    const config = new TestRuleSet().add('d', [['key', 'value']], {
      requestsPerUnit: 10,
      unit: 'MINUTE',
      name: 'kv',
      metadata: { tier: 'gold' },
    });
    const registry = new Registry();
    const seen = limitsSeen();
    const store = new RecordingStore();
    const clock = new ManualClock(0);
    clock.setSeconds(2222);
    const service = new RateLimitService({
      rules: decoratedRules(() => config, halveLimits),
      store,
      clock,
      options: {
        ...DEFAULT_SERVICE_OPTIONS,
        responseHeaders: { ...DEFAULT_SERVICE_OPTIONS.responseHeaders, enabled: true },
        dynamicMetadata: true,
      },
      observers: [new RuleStats(registry, 0.8), seen],
    });
    const req = request('d', [descriptor([['key', 'value']])]);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await service.shouldRateLimit(req));
    const fifth = results[4]!;
    const sixth = results[5]!;

    expect(store.calls[0]?.checks[0]?.requestsPerUnit).toBe(5);
    expect(fifth.overallCode).toBe('OK');
    expect(fifth.statuses[0]).toEqual({
      code: 'OK',
      currentLimit: { requestsPerUnit: 5, unit: 'MINUTE', name: 'kv' },
      limitRemaining: 0,
      durationUntilResetSeconds: 58,
    });
    expect(fifth.responseHeadersToAdd).toEqual([
      { key: 'RateLimit-Limit', value: '5' },
      { key: 'RateLimit-Remaining', value: '0' },
      { key: 'RateLimit-Reset', value: '58' },
    ]);
    expect(fifth.dynamicMetadata?.metadata).toEqual({ tier: 'gold' });

    expect(sixth.overallCode).toBe('OVER_LIMIT');
    expect(sixth.statuses[0]).toMatchObject({
      code: 'OVER_LIMIT',
      currentLimit: { requestsPerUnit: 5 },
      limitRemaining: 0,
    });
    expect(sixth.responseHeadersToAdd[0]).toEqual({ key: 'RateLimit-Limit', value: '5' });
    expect(authResponseFor(sixth, 429)).toMatchObject({
      status: 429,
      headers: { 'X-RateLimit-Limit': '5', 'X-RateLimit-Remaining': '0', 'Retry-After': '58' },
    });
    // over the effective limit, the rule's metadata is no longer returned
    expect(sixth.dynamicMetadata).not.toHaveProperty('metadata');

    expect(seen.limits).toEqual([5, 5, 5, 5, 5, 5]);
    const value = async (name: string) =>
      (await registry.getSingleMetric(`ratelimit_service_rate_limit_${name}`)!.get()).values[0]?.value;
    expect(await value('total_hits')).toBe(6);
    expect(await value('within_limit')).toBe(5);
    // near threshold floor(5 × 0.8) = 4: the 5th hit
    expect(await value('near_limit')).toBe(1);
    expect(await value('over_limit')).toBe(1);
  });
});
