import { describe, expect, it } from 'vitest';
import { UNLIMITED_REMAINING } from '../../../src/core/decision.js';
import { BackendUnavailableError, NoConfigError } from '../../../src/core/errors.js';
import type { CounterStore } from '../../../src/storage/counter-store.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, repeat, request } from './service-fixture.js';

const rules = () =>
  new TestRuleSet()
    .add('d', [['key', 'value']], { requestsPerUnit: 10, unit: 'MINUTE', name: 'kv' })
    .add('d', [['open', 'x']], { unlimited: true })
    .domain('empty');

const kv = descriptor([['key', 'value']]);
const KV_LIMIT = { requestsPerUnit: 10, unit: 'MINUTE', name: 'kv' };

describe('RateLimitService statuses (envoyproxy/ratelimit src/limiter/base_limiter.go)', () => {
  it('answers a bare OK for a descriptor that matches no rule, without calling the store', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [descriptor([['other', 'x']])]));
    expect(result).toEqual({
      overallCode: 'OK',
      statuses: [{ code: 'OK', limitRemaining: 0 }],
      responseHeadersToAdd: [],
    });
    expect(h.store.calls).toHaveLength(0);
  });

  it('answers a bare OK for every descriptor of an unknown domain', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('nope', [kv, kv]));
    expect(result.statuses).toEqual([
      { code: 'OK', limitRemaining: 0 },
      { code: 'OK', limitRemaining: 0 },
    ]);
    expect(h.store.calls).toHaveLength(0);
  });

  it('answers a bare OK for a descriptor with no entries', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [descriptor([])]));
    expect(result.statuses).toEqual([{ code: 'OK', limitRemaining: 0 }]);
  });

  it('answers OK with remaining 4294967295 and no current_limit for an unlimited rule, uncharged', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [descriptor([['open', 'x']])]));
    expect(result.statuses).toEqual([{ code: 'OK', limitRemaining: UNLIMITED_REMAINING }]);
    expect(h.store.calls).toHaveLength(0);
  });

  it('answers OK with current_limit, limit − after and the reset while within the limit', async () => {
    const h = harness(rules());
    h.clock.setSeconds(2222);
    const result = await h.service.shouldRateLimit(request('d', [kv]));
    expect(result.statuses).toEqual([
      { code: 'OK', currentLimit: KV_LIMIT, limitRemaining: 9, durationUntilResetSeconds: 58 },
    ]);
  });

  it('answers OK with remaining 0 on the hit that reaches the limit exactly', async () => {
    const h = harness(rules());
    const result = await repeat(h, request('d', [kv]), 10);
    expect(result.overallCode).toBe('OK');
    expect(result.statuses[0]).toMatchObject({ code: 'OK', limitRemaining: 0 });
  });

  it('answers OVER_LIMIT with current_limit, remaining 0 and the reset past the limit', async () => {
    const h = harness(rules());
    const result = await repeat(h, request('d', [kv]), 11);
    expect(result.overallCode).toBe('OVER_LIMIT');
    expect(result.statuses).toEqual([
      { code: 'OVER_LIMIT', currentLimit: KV_LIMIT, limitRemaining: 0, durationUntilResetSeconds: 20 },
    ]);
  });

  it('answers one status per descriptor in request order', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(
      request('d', [descriptor([['open', 'x']]), kv, descriptor([['none', '']])]),
    );
    expect(result.statuses.map((s) => s.limitRemaining)).toEqual([UNLIMITED_REMAINING, 9, 0]);
  });

  it('sends every charged descriptor to the store in one apply call with the reference key', async () => {
    const h = harness(rules(), { cacheKeyPrefix: 'pfx:' });
    await h.service.shouldRateLimit(request('d', [kv, descriptor([['open', 'x']]), kv]));
    expect(h.store.calls).toHaveLength(1);
    const check = {
      key: 'pfx:d_key_value_',
      tag: '',
      requestsPerUnit: 10,
      unitSeconds: 60,
      algorithm: 'fixed_window',
      burst: 10,
      hits: 1,
      blocking: true,
      chargedWhenRejected: true,
    };
    expect(h.store.calls[0]).toEqual({ checks: [check, check], nowMs: 1_000_000_000 });
  });

  it('charges one counter twice when two descriptors of one request hit it', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [kv, kv]));
    expect(result.statuses.map((s) => s.limitRemaining)).toEqual([9, 8]);
  });

  it('applies a limit override from the request without the config, never shadowed', async () => {
    const set = rules().add('d', [['key', 'value']], { shadowMode: true });
    const h = harness(set);
    const override = descriptor([['key', 'value']], { limit: { requestsPerUnit: 1, unit: 'HOUR' } });
    const result = await repeat(h, request('d', [override]), 2);
    expect(result.overallCode).toBe('OVER_LIMIT');
    expect(result.statuses[0]).toMatchObject({
      code: 'OVER_LIMIT',
      currentLimit: { requestsPerUnit: 1, unit: 'HOUR', name: '' },
    });
    expect(h.store.calls[0]?.checks[0]).toMatchObject({ key: 'd_key_value_', unitSeconds: 3600 });
  });

  it('throws NoConfigError while no config is loaded', async () => {
    const h = harness(undefined);
    await expect(h.service.shouldRateLimit(request('d', [kv]))).rejects.toBeInstanceOf(NoConfigError);
  });

  it('turns a store failure into BackendUnavailableError keeping the store text', async () => {
    const failing: CounterStore = {
      kind: 'redis',
      apply: () => Promise.reject(new Error('CLUSTERDOWN The cluster is down')),
      isReady: () => false,
      close: () => Promise.resolve(),
    };
    const h = harness(rules(), {}, failing);
    const call = h.service.shouldRateLimit(request('d', [kv]));
    await expect(call).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(call).rejects.toThrow('redis store failed: CLUSTERDOWN The cluster is down');
  });

  it('passes a typed store error through unchanged', async () => {
    const typed = new BackendUnavailableError('redis: connection refused');
    const failing: CounterStore = {
      kind: 'redis',
      apply: () => Promise.reject(typed),
      isReady: () => false,
      close: () => Promise.resolve(),
    };
    await expect(harness(rules(), {}, failing).service.shouldRateLimit(request('d', [kv]))).rejects.toBe(
      typed,
    );
  });
});

describe('RateLimitService hits_addend (envoyproxy/ratelimit src/utils/utilities.go GetHitsAddends)', () => {
  it('charges 1 when the request hits_addend is 0', async () => {
    const h = harness(rules());
    await h.service.shouldRateLimit(request('d', [kv], 0));
    expect(h.store.calls[0]?.checks[0]?.hits).toBe(1);
  });

  it('charges the request hits_addend to every descriptor without its own', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [kv, kv], 4));
    expect(result.statuses.map((s) => s.limitRemaining)).toEqual([6, 2]);
  });

  it('checks without charging when a descriptor hits_addend is 0, even if the request says 5', async () => {
    const h = harness(rules());
    await h.service.shouldRateLimit(request('d', [kv], 3));
    const result = await h.service.shouldRateLimit(
      request('d', [descriptor([['key', 'value']], { hitsAddend: 0 })], 5),
    );
    expect(result.statuses[0]).toMatchObject({ code: 'OK', limitRemaining: 7 });
    expect(h.store.calls[1]?.checks[0]?.hits).toBe(0);
  });

  it('lets a descriptor hits_addend override the request value', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(
      request('d', [descriptor([['key', 'value']], { hitsAddend: 7 })], 2),
    );
    expect(result.statuses[0]?.limitRemaining).toBe(3);
  });

  it('answers OVER_LIMIT and poisons the window when one addend exceeds the limit', async () => {
    const h = harness(rules());
    const first = await h.service.shouldRateLimit(request('d', [kv], 11));
    const next = await h.service.shouldRateLimit(request('d', [kv]));
    expect([first.overallCode, next.overallCode]).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
  });
});
