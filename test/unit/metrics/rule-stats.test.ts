import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RequestDescriptor } from '../../../src/core/descriptor.js';
import { BackendUnavailableError, InvalidArgumentError } from '../../../src/core/errors.js';
import { DOMAIN_NOT_FOUND_CAP, errorType, RuleStats } from '../../../src/metrics/rule-stats.js';
import { RateLimitService } from '../../../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS } from '../../../src/service/service-options.js';
import type { CounterStore } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { ManualClock } from '../../support/manual-clock.js';
import { type EntryPairs, entries, TestRuleSet } from '../../support/rule-set-builder.js';

function setup(rules: TestRuleSet, store: CounterStore = new MemoryCounterStore()) {
  const registry = new Registry();
  const stats = new RuleStats(registry, 0.8);
  const service = new RateLimitService({
    rules: () => rules,
    store,
    clock: new ManualClock(1_000_000_000),
    options: DEFAULT_SERVICE_OPTIONS,
    observers: [stats],
  });
  /** Every sample of `name` as "label,label,label" → value. */
  const values = async (name: string): Promise<Record<string, number>> => {
    const metric = await registry.getSingleMetric(name)!.get();
    const out: Record<string, number> = {};
    for (const v of metric.values) out[Object.values(v.labels).join(',')] = v.value;
    return out;
  };
  const send = async (domain: string, descriptors: RequestDescriptor[], times = 1, hitsAddend = 0) => {
    for (let i = 0; i < times; i++) await service.shouldRateLimit({ domain, descriptors, hitsAddend });
  };
  return { service, values, send };
}

const d = (pairs: EntryPairs, extras: Partial<RequestDescriptor> = {}): RequestDescriptor => ({
  entries: entries(pairs),
  ...extras,
});

const RULE = 'shop,user_alice,';

describe('RuleStats through the service', () => {
  it('charges 12 single hits on a 10/s rule as total 12, within 10, near 2 (hits 9, 10), over 2', async () => {
    const t = setup(new TestRuleSet().add('shop', [['user', 'alice']], { requestsPerUnit: 10 }));
    await t.send('shop', [d([['user', 'alice']])], 12);
    expect(await t.values('ratelimit_service_rate_limit_total_hits')).toEqual({ [RULE]: 12 });
    expect(await t.values('ratelimit_service_rate_limit_within_limit')).toEqual({ [RULE]: 10 });
    expect(await t.values('ratelimit_service_rate_limit_near_limit')).toEqual({ [RULE]: 2 });
    expect(await t.values('ratelimit_service_rate_limit_over_limit')).toEqual({ [RULE]: 2 });
    expect(await t.values('ratelimit_service_rate_limit_shadow_mode')).toEqual({ [RULE]: 0 });
  });

  it('charges by hits_addend: 6 + 6 on a limit of 10 is within 6, then over 2 and near 2', async () => {
    const t = setup(new TestRuleSet().add('shop', [['user', 'alice']], { requestsPerUnit: 10 }));
    await t.send('shop', [d([['user', 'alice']])], 2, 6);
    expect(await t.values('ratelimit_service_rate_limit_total_hits')).toEqual({ [RULE]: 12 });
    expect(await t.values('ratelimit_service_rate_limit_within_limit')).toEqual({ [RULE]: 6 });
    expect(await t.values('ratelimit_service_rate_limit_near_limit')).toEqual({ [RULE]: 2 });
    expect(await t.values('ratelimit_service_rate_limit_over_limit')).toEqual({ [RULE]: 2 });
  });

  it('counts the over-limit hits of a shadow rule as shadow_mode while answering OK', async () => {
    const t = setup(
      new TestRuleSet().add('shop', [['user', 'alice']], { requestsPerUnit: 2, shadowMode: true }),
    );
    await t.send('shop', [d([['user', 'alice']])], 4);
    expect(await t.values('ratelimit_service_rate_limit_over_limit')).toEqual({ [RULE]: 2 });
    expect(await t.values('ratelimit_service_rate_limit_shadow_mode')).toEqual({ [RULE]: 2 });
    expect(await t.values('ratelimit_service_rate_limit_within_limit')).toEqual({ [RULE]: 2 });
    // floor(2 × 0.8) = 1: the second hit is near
    expect(await t.values('ratelimit_service_rate_limit_near_limit')).toEqual({ [RULE]: 1 });
  });

  it('charges nothing for check-only (0 hits), unlimited and unmatched descriptors', async () => {
    const rules = new TestRuleSet()
      .add('shop', [['user', 'alice']], { requestsPerUnit: 10 })
      .add('shop', [['user', 'root']], { unlimited: true });
    const t = setup(rules);
    await t.send(
      'shop',
      [d([['user', 'alice']], { hitsAddend: 0 }), d([['user', 'root']]), d([['user', 'bob']])],
      3,
    );
    expect(await t.values('ratelimit_service_rate_limit_total_hits')).toEqual({});
  });

  it('uses the deciding limit of a rule with several limits', async () => {
    const limits = [
      {
        requestsPerUnit: 100,
        unit: 'MINUTE',
        algorithm: 'fixed_window',
        burst: 100,
        name: '',
        keyTag: 'fw60_',
        chargedWhenRejected: false,
      },
      {
        requestsPerUnit: 3,
        unit: 'SECOND',
        algorithm: 'fixed_window',
        burst: 3,
        name: '',
        keyTag: 'fw1_',
        chargedWhenRejected: false,
      },
    ] as const;
    const t = setup(new TestRuleSet().add('shop', [['user', 'alice']], { limits }));
    await t.send('shop', [d([['user', 'alice']])], 4);
    expect(await t.values('ratelimit_service_rate_limit_within_limit')).toEqual({ [RULE]: 3 });
    expect(await t.values('ratelimit_service_rate_limit_over_limit')).toEqual({ [RULE]: 1 });
    // floor(3 × 0.8) = 2: hit 3 is near
    expect(await t.values('ratelimit_service_rate_limit_near_limit')).toEqual({ [RULE]: 1 });
  });

  it('labels detailed_metric rules with runtime values and overrides with keys only', async () => {
    const rules = new TestRuleSet().add('shop', [['user', 'alice']], {
      requestsPerUnit: 10,
      detailedMetric: true,
    });
    const t = setup(rules);
    await t.send('shop', [
      d([['user', 'alice']]),
      d([['ip', '10.0.0.9']], { limit: { requestsPerUnit: 5, unit: 'MINUTE' } }),
    ]);
    expect(await t.values('ratelimit_service_rate_limit_total_hits')).toEqual({ [RULE]: 1, 'shop,ip,': 1 });
  });

  it(`counts unknown domains, folding names past the first ${DOMAIN_NOT_FOUND_CAP} into "other"`, async () => {
    const t = setup(new TestRuleSet().domain('shop'));
    for (let i = 0; i < DOMAIN_NOT_FOUND_CAP + 5; i++) await t.send(`d${i}`, [d([['k', 'v']])]);
    await t.send('d0', [d([['k', 'v']])]);
    const counts = await t.values('ratelimit_service_domain_not_found');
    expect(Object.keys(counts)).toHaveLength(DOMAIN_NOT_FOUND_CAP + 1);
    expect(counts.d0).toBe(2);
    expect(counts.other).toBe(5);
    await t.send('shop', [d([['k', 'v']])]);
    expect((await t.values('ratelimit_service_domain_not_found')).shop).toBeUndefined();
  });

  it('counts failures by err_type', async () => {
    const failing: CounterStore = {
      kind: 'broken',
      apply: () => Promise.reject(new Error('boom')),
      isReady: () => false,
      close: () => Promise.resolve(),
    };
    const t = setup(new TestRuleSet().add('shop', [['user', 'alice']]), failing);
    await expect(t.send('shop', [d([['user', 'alice']])])).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(t.send('', [d([['user', 'alice']])])).rejects.toBeInstanceOf(InvalidArgumentError);
    // every err_type shows from the start (at 0), so rates and alerts over them have a series
    expect(await t.values('ratelimit_service_should_rate_limit_error')).toEqual({
      redis_error: 1,
      invalid_argument: 1,
      no_config: 0,
      service_error: 0,
    });
  });
});

describe('errorType', () => {
  it('maps anything unknown to service_error', () => {
    expect(errorType(new Error('x'))).toBe('service_error');
  });
});
