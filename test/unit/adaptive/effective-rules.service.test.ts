import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { adaptiveRules, type FactorSource } from '../../../src/adaptive/effective-rules.js';
import type { RateLimitRequest } from '../../../src/core/descriptor.js';
import type { LimitRule } from '../../../src/core/limit.js';
import { authResponseFor } from '../../../src/http/auth-request.js';
import { RuleStats } from '../../../src/metrics/rule-stats.js';
import type { DecisionObserver } from '../../../src/service/decision-observer.js';
import { decoratedRules } from '../../../src/service/decorated-rules.js';
import { RateLimitService } from '../../../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS } from '../../../src/service/service-options.js';
import type { CounterStore } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { LocalOverLimitCache } from '../../../src/storage/over-limit-cache.js';
import { ManualClock } from '../../support/manual-clock.js';
import { type RuleFields, TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, RecordingStore, request } from '../service/service-fixture.js';

/** Factors set by the test: per rule fullKey and per value of the node's key (default 1). */
class Factors implements FactorSource {
  rule = 1;
  readonly values = new Map<string, number>();
  ruleFactor(_domain: string, _rule: LimitRule) {
    return { factor: (value: string) => this.rule * (this.values.get(value) ?? 1) };
  }
}

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

/** A service over one adaptive rule (`key=value`, 10/MINUTE unless `fields` say otherwise) on the memory store. */
function serviceWith(fields: RuleFields = {}, store: CounterStore = new MemoryCounterStore()) {
  const config = new TestRuleSet().add('d', [['key', 'value']], {
    requestsPerUnit: 10,
    unit: 'MINUTE',
    name: 'kv',
    metadata: { tier: 'gold' },
    adaptive: ['health'],
    ...fields,
  });
  const factors = new Factors();
  const registry = new Registry();
  const seen = limitsSeen();
  const recording = new RecordingStore(store);
  const clock = new ManualClock(0);
  clock.setSeconds(2222);
  const service = new RateLimitService({
    rules: decoratedRules(() => config, adaptiveRules(factors)),
    store: recording,
    clock,
    options: {
      ...DEFAULT_SERVICE_OPTIONS,
      responseHeaders: { ...DEFAULT_SERVICE_OPTIONS.responseHeaders, enabled: true },
      dynamicMetadata: true,
    },
    observers: [new RuleStats(registry, 0.8), seen],
  });
  const metric = async (name: string) =>
    (await registry.getSingleMetric(`ratelimit_service_rate_limit_${name}`)!.get()).values[0]?.value;
  return { config, factors, service, store: recording, clock, seen, metric };
}

const kv = request('d', [descriptor([['key', 'value']])]);

async function send(service: RateLimitService, req: RateLimitRequest, times: number) {
  const results = [];
  for (let i = 0; i < times; i++) results.push(await service.shouldRateLimit(req));
  return results;
}

describe('RateLimitService with adaptiveRules', () => {
  it('answers, reports and enforces the effective limit: 10/MINUTE at factor 0.5 is 5', async () => {
    const { factors, service, store, seen, metric } = serviceWith();
    factors.rule = 0.5;
    const [fifth, sixth] = (await send(service, kv, 6)).slice(4);

    expect(store.calls[0]?.checks[0]).toMatchObject({ requestsPerUnit: 5, burst: 5, tag: '' });
    expect(fifth?.statuses[0]).toEqual({
      code: 'OK',
      currentLimit: { requestsPerUnit: 5, unit: 'MINUTE', name: 'kv' },
      limitRemaining: 0,
      durationUntilResetSeconds: 58,
    });
    expect(fifth?.responseHeadersToAdd).toEqual([
      { key: 'RateLimit-Limit', value: '5' },
      { key: 'RateLimit-Remaining', value: '0' },
      { key: 'RateLimit-Reset', value: '58' },
    ]);
    expect(fifth?.dynamicMetadata?.metadata).toEqual({ tier: 'gold' });
    expect(sixth?.overallCode).toBe('OVER_LIMIT');
    expect(sixth?.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', currentLimit: { requestsPerUnit: 5 } });
    expect(authResponseFor(sixth!, 429)).toMatchObject({ headers: { 'X-RateLimit-Limit': '5' } });
    expect(sixth?.dynamicMetadata).not.toHaveProperty('metadata');

    expect(seen.limits).toEqual([5, 5, 5, 5, 5, 5]);
    expect(await metric('total_hits')).toBe(6);
    expect(await metric('within_limit')).toBe(5);
    expect(await metric('near_limit')).toBe(1); // floor(5 × 0.8) = 4: the 5th hit
    expect(await metric('over_limit')).toBe(1);
  });

  it('keeps the counter when the factor changes: raised back to 1, the rest of the window passes', async () => {
    const { factors, service, store } = serviceWith();
    factors.rule = 0.5;
    const atHalf = await send(service, kv, 6);
    expect(atHalf.map((r) => r.overallCode)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'OVER_LIMIT']);
    factors.rule = 1;
    // a lone fixed_window rate_limit charges its rejected hit too (the reference's rule): 6 used of 10
    const atFull = await send(service, kv, 5);
    expect(atFull.map((r) => r.overallCode)).toEqual(['OK', 'OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(atFull[0]?.statuses[0]).toMatchObject({
      currentLimit: { requestsPerUnit: 10 },
      limitRemaining: 3,
    });
    const keys = new Set(store.calls.flatMap((c) => c.checks.map((check) => check.key + check.tag)));
    expect(keys.size).toBe(1);
  });

  it('never answers from an OVER_LIMIT cached locally under another factor', async () => {
    const memory = new MemoryCounterStore();
    const { factors, service } = serviceWith({}, new LocalOverLimitCache({ inner: memory, maxEntries: 100 }));
    factors.rule = 0.5;
    expect((await send(service, kv, 7)).map((r) => r.overallCode).slice(4)).toEqual([
      'OK',
      'OVER_LIMIT',
      'OVER_LIMIT',
    ]);
    factors.rule = 1;
    const [next] = await send(service, kv, 1);
    expect(next?.overallCode).toBe('OK');
    expect(next?.statuses[0]?.currentLimit?.requestsPerUnit).toBe(10);
  });

  it('keeps at least 1 request per unit at a tiny factor', async () => {
    const { factors, service } = serviceWith();
    factors.rule = 0.001;
    const results = await send(service, kv, 2);
    expect(results.map((r) => [r.overallCode, r.statuses[0]?.currentLimit?.requestsPerUnit])).toEqual([
      ['OK', 1],
      ['OVER_LIMIT', 1],
    ]);
  });

  it('blocks every request with hits at factor 0 (current_limit 0); a check-only descriptor before it passes', async () => {
    for (const algorithm of ['fixed_window', 'sliding_window', 'sliding_log', 'token_bucket'] as const) {
      const { factors, service } = serviceWith({ algorithm });
      factors.rule = 0;
      const checkOnly = await service.shouldRateLimit(
        request('d', [descriptor([['key', 'value']], { hitsAddend: 0 })]),
      );
      expect(checkOnly.overallCode, algorithm).toBe('OK');
      const results = await send(service, kv, 2);
      expect(
        results.map((r) => r.overallCode),
        algorithm,
      ).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
      expect(results[0]?.statuses[0]?.currentLimit?.requestsPerUnit, algorithm).toBe(0);
    }
  });

  it('scales a token_bucket burst: rate 10/s burst 20 at 0.5 admits 10 at once, then refills 1 per 200 ms', async () => {
    const { factors, service, store, clock } = serviceWith({
      algorithm: 'token_bucket',
      unit: 'SECOND',
      burst: 20,
    });
    factors.rule = 0.5;
    const burst = await send(service, kv, 11);
    expect(burst.filter((r) => r.overallCode === 'OK')).toHaveLength(10);
    expect(burst[10]?.overallCode).toBe('OVER_LIMIT');
    expect(store.calls[0]?.checks[0]).toMatchObject({ requestsPerUnit: 5, burst: 10 });
    clock.advance(200);
    expect((await send(service, kv, 2)).map((r) => r.overallCode)).toEqual(['OK', 'OVER_LIMIT']);
  });

  it('penalises one value only: alice at 0.1 of 20/MINUTE gets 2, bob gets 20', async () => {
    const { config, factors, service } = serviceWith();
    config.add('d', [['user', 'alice']], { requestsPerUnit: 20, unit: 'MINUTE', adaptive: ['abusers'] });
    config.add('d', [['user', 'bob']], { requestsPerUnit: 20, unit: 'MINUTE', adaptive: ['abusers'] });
    factors.values.set('alice', 0.1);
    const alice = await send(service, request('d', [descriptor([['user', 'alice']])]), 3);
    const bob = await send(service, request('d', [descriptor([['user', 'bob']])]), 20);
    expect(alice.map((r) => r.overallCode)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    expect(alice[0]?.statuses[0]?.currentLimit?.requestsPerUnit).toBe(2);
    expect(bob.every((r) => r.overallCode === 'OK')).toBe(true);
    expect(bob[0]?.statuses[0]?.currentLimit?.requestsPerUnit).toBe(20);
  });

  it("applies a request's limit override as sent (Envoy's own limit is never scaled)", async () => {
    const { factors, service } = serviceWith();
    factors.rule = 0.5;
    const overridden = request('d', [
      descriptor([['key', 'value']], { limit: { requestsPerUnit: 8, unit: 'MINUTE' } }),
    ]);
    const results = await send(service, overridden, 9);
    expect(results[0]?.statuses[0]?.currentLimit?.requestsPerUnit).toBe(8);
    expect(results.map((r) => r.overallCode).lastIndexOf('OK')).toBe(7);
  });
});
