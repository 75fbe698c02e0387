import { describe, expect, it } from 'vitest';
import type { Limit } from '../../../src/core/limit.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, repeat, request } from './service-fixture.js';

/** One limit of a `rate_limits` list: tagged, never charged for a rejected request. */
function limit(fields: Partial<Limit> & Pick<Limit, 'requestsPerUnit' | 'unit'>): Limit {
  const { algorithm = 'fixed_window' } = fields;
  return {
    algorithm,
    burst: fields.requestsPerUnit,
    name: '',
    keyTag: `${algorithm}${fields.unit}_`,
    chargedWhenRejected: false,
    ...fields,
  };
}

const perSecondBurst = limit({
  requestsPerUnit: 10,
  unit: 'SECOND',
  algorithm: 'token_bucket',
  burst: 20,
  name: 'burst',
});
const perDay = limit({ requestsPerUnit: 25, unit: 'DAY', name: 'daily' });
const account = descriptor([['account', 'a1']]);
const other = descriptor([['other', 'x']]);

const rules = () =>
  new TestRuleSet()
    .add('d', [['account', 'a1']], { limits: [perSecondBurst, perDay] })
    .add('d', [['other', 'x']], { requestsPerUnit: 2, unit: 'MINUTE', algorithm: 'sliding_log' })
    .add('d', [['shadowed', 'x']], {
      requestsPerUnit: 1,
      unit: 'MINUTE',
      algorithm: 'sliding_log',
      shadowMode: true,
    });

describe('RateLimitService with several limits on one descriptor (rate_limits)', () => {
  it('reports the limit with the least remaining while every limit admits', async () => {
    const h = harness(rules());
    const first = await h.service.shouldRateLimit(request('d', [account]));
    // token bucket: 19 of 20 left; day: 24 of 25 left → the bucket decides
    expect(first.statuses[0]).toEqual({
      code: 'OK',
      currentLimit: { requestsPerUnit: 10, unit: 'SECOND', name: 'burst' },
      limitRemaining: 19,
      durationUntilResetSeconds: 1,
    });
  });

  it('reports the limit that rejects, with the time until the request would pass', async () => {
    const h = harness(rules());
    await h.service.shouldRateLimit(request('d', [account], 20));
    const over = await h.service.shouldRateLimit(request('d', [account]));
    expect(over.overallCode).toBe('OVER_LIMIT');
    expect(over.statuses[0]).toMatchObject({
      code: 'OVER_LIMIT',
      currentLimit: { name: 'burst' },
      durationUntilResetSeconds: 1,
    });
  });

  it('charges none of the limits when the day limit rejects, so the bucket stays full', async () => {
    const h = harness(rules());
    await h.service.shouldRateLimit(request('d', [account], 20));
    h.clock.advance(2_000); // the bucket refills; the day counter holds 20 of 25
    const rejected = await h.service.shouldRateLimit(request('d', [account], 6));
    expect(rejected.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', currentLimit: { name: 'daily' } });
    // ask the store directly: the bucket still holds all 20 tokens
    const [bucket] = await h.store.inner.apply(
      [{ ...h.store.calls[0]!.checks[0]!, hits: 0 }],
      h.clock.nowMs(),
    );
    expect(bucket?.remaining).toBe(20);
  });

  it('does not charge a sliding-log descriptor for a request another descriptor rejects', async () => {
    const h = harness(rules());
    await h.service.shouldRateLimit(request('d', [account], 20));
    const rejected = await h.service.shouldRateLimit(request('d', [other, account]));
    expect(rejected.statuses.map((s) => s.code)).toEqual(['OK', 'OVER_LIMIT']);
    expect(rejected.statuses[0]?.limitRemaining).toBe(2);
    const alone = await repeat(h, request('d', [other]), 2);
    expect(alone.statuses[0]).toMatchObject({ code: 'OK', limitRemaining: 0 });
  });

  it('lets a shadow-mode rule observe without blocking the charges of the others', async () => {
    const h = harness(rules());
    const shadowed = descriptor([['shadowed', 'x']]);
    await h.service.shouldRateLimit(request('d', [shadowed]));
    const result = await h.service.shouldRateLimit(request('d', [shadowed, other]));
    expect(result.overallCode).toBe('OK');
    expect(result.statuses.map((s) => [s.code, s.limitRemaining])).toEqual([
      ['OK', 0],
      ['OK', 1],
    ]);
  });

  it('sends one check per limit with distinct keys, in one store call', async () => {
    const h = harness(rules(), { cacheKeyPrefix: 'p:' });
    await h.service.shouldRateLimit(request('d', [account]));
    expect(h.store.calls).toHaveLength(1);
    expect(h.store.calls[0]?.checks.map((c) => [c.key + c.tag, c.algorithm, c.burst])).toEqual([
      ['p:d_account_a1_token_bucketSECOND_', 'token_bucket', 20],
      ['p:d_account_a1_fixed_windowDAY_', 'fixed_window', 25],
    ]);
  });

  it('puts the deciding limit into the RateLimit-* headers, reset from its duration', async () => {
    const h = harness(rules(), { responseHeaders: { enabled: true } });
    const result = await h.service.shouldRateLimit(request('d', [account], 15));
    expect(result.responseHeadersToAdd).toEqual([
      { key: 'RateLimit-Limit', value: '10' },
      { key: 'RateLimit-Remaining', value: '5' },
      // 15 tokens taken at 10/s: full again in 1.5 s, rounded up
      { key: 'RateLimit-Reset', value: '2' },
    ]);
  });
});
