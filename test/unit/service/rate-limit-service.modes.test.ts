import { describe, expect, it } from 'vitest';
import { UNLIMITED_REMAINING } from '../../../src/core/decision.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, request } from './service-fixture.js';

const a = descriptor([['a', '1']]);
const b = descriptor([['b', '1']]);
const c = descriptor([['c', '1']]);
const BARE = { code: 'OK', limitRemaining: 0 };

describe('RateLimitService replaces (envoyproxy/ratelimit src/service/ratelimit.go)', () => {
  it('drops a replaced rule: bare OK, not charged', async () => {
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { name: 'A', replaces: ['B'] })
      .add('d', [['b', '1']], { name: 'B', requestsPerUnit: 1 });
    const h = harness(set);
    const result = await h.service.shouldRateLimit(request('d', [a, b, b]));
    expect(result.overallCode).toBe('OK');
    expect(result.statuses).toEqual([expect.objectContaining({ limitRemaining: 9 }), BARE, BARE]);
    expect(h.store.calls[0]?.checks.map((check) => check.key)).toEqual(['d_a_1_']);
  });

  it('drops both rules when they replace each other', async () => {
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { name: 'A', replaces: ['B'] })
      .add('d', [['b', '1']], { name: 'B', replaces: ['A'] });
    const h = harness(set);
    const result = await h.service.shouldRateLimit(request('d', [a, b]));
    expect(result.statuses).toEqual([BARE, BARE]);
    expect(h.store.calls).toHaveLength(0);
  });

  it('applies the replaces of an unlimited rule', async () => {
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { unlimited: true, replaces: ['B'] })
      .add('d', [['b', '1']], { name: 'B' });
    const result = await harness(set).service.shouldRateLimit(request('d', [a, b]));
    expect(result.statuses).toEqual([{ code: 'OK', limitRemaining: UNLIMITED_REMAINING }, BARE]);
  });

  it('replaces only within one request', async () => {
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { name: 'A', replaces: ['B'] })
      .add('d', [['b', '1']], { name: 'B' });
    const result = await harness(set).service.shouldRateLimit(request('d', [b]));
    expect(result.statuses[0]).toMatchObject({ code: 'OK', limitRemaining: 9 });
  });

  it('never drops an unnamed rule', async () => {
    const set = new TestRuleSet().add('d', [['a', '1']], { replaces: [''] }).add('d', [['b', '1']]);
    const result = await harness(set).service.shouldRateLimit(request('d', [a, b]));
    expect(result.statuses.map((s) => s.limitRemaining)).toEqual([9, 9]);
  });
});

describe('RateLimitService shadow mode (envoyproxy/ratelimit src/limiter/base_limiter.go, src/service/ratelimit.go)', () => {
  const set = () =>
    new TestRuleSet()
      .add('d', [['a', '1']], { requestsPerUnit: 0, shadowMode: true })
      .add('d', [['b', '1']], {
        requestsPerUnit: 0,
      });

  it('answers OK for a shadow rule over its limit, keeping remaining 0, current_limit and reset', async () => {
    const h = harness(set());
    const result = await h.service.shouldRateLimit(request('d', [a]));
    expect(result.overallCode).toBe('OK');
    expect(result.statuses[0]).toEqual({
      code: 'OK',
      currentLimit: { requestsPerUnit: 0, unit: 'SECOND', name: '' },
      limitRemaining: 0,
      durationUntilResetSeconds: 1,
    });
    expect(h.store.calls).toHaveLength(1);
  });

  it('forces overall OK in global shadow mode but leaves the statuses OVER_LIMIT', async () => {
    const result = await harness(set(), { shadowMode: true }).service.shouldRateLimit(request('d', [b]));
    expect(result.overallCode).toBe('OK');
    expect(result.statuses[0]?.code).toBe('OVER_LIMIT');
  });
});

describe('RateLimitService quota mode (envoyproxy/ratelimit src/service/ratelimit.go)', () => {
  const set = () =>
    new TestRuleSet()
      .add('d', [['a', '1']], { requestsPerUnit: 0, quotaMode: true })
      .add('d', [['b', '1']], { requestsPerUnit: 5, quotaMode: true })
      .add('d', [['c', '1']], { requestsPerUnit: 0 })
      .add('d', [['u', '1']], { unlimited: true });

  it('answers overall OK while one quota descriptor still has quota, keeping the other OVER_LIMIT', async () => {
    const result = await harness(set()).service.shouldRateLimit(request('d', [a, b]));
    expect(result.overallCode).toBe('OK');
    expect(result.statuses.map((s) => s.code)).toEqual(['OVER_LIMIT', 'OK']);
  });

  it('answers overall OVER_LIMIT when every quota descriptor is over', async () => {
    const result = await harness(set()).service.shouldRateLimit(request('d', [a, a]));
    expect(result.overallCode).toBe('OVER_LIMIT');
  });

  it('answers overall OVER_LIMIT when a non-quota descriptor is over, whatever the quotas say', async () => {
    const result = await harness(set()).service.shouldRateLimit(request('d', [b, c]));
    expect(result.overallCode).toBe('OVER_LIMIT');
  });

  it('in global quota mode counts unmatched descriptors as quota descriptors that pass', async () => {
    const h = harness(set(), { quotaMode: true });
    const withUnmatched = await h.service.shouldRateLimit(request('d', [c, descriptor([['x', '1']])]));
    expect(withUnmatched.overallCode).toBe('OK');
    const allOver = await h.service.shouldRateLimit(request('d', [c, a]));
    expect(allOver.overallCode).toBe('OVER_LIMIT');
  });

  it('in global quota mode does not count unlimited descriptors', async () => {
    const h = harness(set(), { quotaMode: true });
    const result = await h.service.shouldRateLimit(request('d', [c, descriptor([['u', '1']])]));
    expect(result.overallCode).toBe('OVER_LIMIT');
  });
});

describe('RateLimitService with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT', () => {
  const set = () =>
    new TestRuleSet()
      .add('d', [['a', '1']], { requestsPerUnit: 10 })
      .add('d', [['b', '1']], { requestsPerUnit: 1 });

  it('does not charge a within-limit descriptor of a request another descriptor rejects', async () => {
    const store = new MemoryCounterStore({ stopIncrementWhenOverLimit: true });
    const h = harness(set(), {}, store);
    await h.service.shouldRateLimit(request('d', [b]));
    const rejected = await h.service.shouldRateLimit(request('d', [a, b]));
    expect(rejected.overallCode).toBe('OVER_LIMIT');
    expect(rejected.statuses.map((s) => [s.code, s.limitRemaining])).toEqual([
      ['OK', 10],
      ['OVER_LIMIT', 0],
    ]);
    const after = await h.service.shouldRateLimit(request('d', [a]));
    expect(after.statuses[0]?.limitRemaining).toBe(9);
  });

  it('charges the within-limit descriptor too in compatibility mode (the default)', async () => {
    const h = harness(set());
    await h.service.shouldRateLimit(request('d', [b]));
    await h.service.shouldRateLimit(request('d', [a, b]));
    const after = await h.service.shouldRateLimit(request('d', [a]));
    expect(after.statuses[0]?.limitRemaining).toBe(8);
  });
});
