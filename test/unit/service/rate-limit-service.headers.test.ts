import { describe, expect, it } from 'vitest';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, repeat, request } from './service-fixture.js';

const ON = { responseHeaders: { enabled: true } };
const minute = descriptor([['m', '1']]);
const hour = descriptor([['h', '1']]);
const tight = descriptor([['t', '1']]);
const quota = descriptor([['q', '1']]);

const rules = () =>
  new TestRuleSet()
    .add('d', [['m', '1']], { requestsPerUnit: 10, unit: 'MINUTE' })
    .add('d', [['h', '1']], { requestsPerUnit: 100, unit: 'HOUR' })
    .add('d', [['t', '1']], { requestsPerUnit: 3, unit: 'HOUR' })
    .add('d', [['q', '1']], { requestsPerUnit: 0, unit: 'DAY', quotaMode: true })
    .add('d', [['z', '1']], { requestsPerUnit: 0, unit: 'SECOND' })
    .add('d', [['u', '1']], { unlimited: true });

function headers(limit: string, remaining: string, reset: string) {
  return [
    { key: 'RateLimit-Limit', value: limit },
    { key: 'RateLimit-Remaining', value: remaining },
    { key: 'RateLimit-Reset', value: reset },
  ];
}

describe('RateLimitService response headers (envoyproxy/ratelimit src/service/ratelimit.go)', () => {
  it('answers the reference example: 10/MINUTE over limit at clock 2222 → 10, 0, 58', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(2222);
    const result = await repeat(h, request('d', [minute]), 11);
    expect(result.overallCode).toBe('OVER_LIMIT');
    expect(result.responseHeadersToAdd).toEqual(headers('10', '0', '58'));
  });

  it('adds the headers to OK answers too', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(2222);
    const result = await h.service.shouldRateLimit(request('d', [minute]));
    expect(result.responseHeadersToAdd).toEqual(headers('10', '9', '58'));
  });

  it('adds no headers when disabled (the default)', async () => {
    const result = await harness(rules()).service.shouldRateLimit(request('d', [minute]));
    expect(result.responseHeadersToAdd).toEqual([]);
  });

  it('adds no headers when no status carries a current_limit', async () => {
    const h = harness(rules(), ON);
    const result = await h.service.shouldRateLimit(
      request('d', [descriptor([['u', '1']]), descriptor([['x', '1']])]),
    );
    expect(result.responseHeadersToAdd).toEqual([]);
  });

  it('picks the status with the least remaining, computing reset from its unit', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(3600 * 10 + 600);
    const result = await h.service.shouldRateLimit(request('d', [minute, tight, hour]));
    expect(result.responseHeadersToAdd).toEqual(headers('3', '2', '3000'));
  });

  it('picks the first status on ties', async () => {
    const set = rules().add('d', [['m2', '1']], { requestsPerUnit: 10, unit: 'DAY' });
    const h = harness(set, ON);
    h.clock.setSeconds(2222);
    const result = await h.service.shouldRateLimit(request('d', [minute, descriptor([['m2', '1']])]));
    expect(result.responseHeadersToAdd).toEqual(headers('10', '9', '58'));
  });

  it('lets the last non-quota OVER_LIMIT descriptor override the pick', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(2222);
    await repeat(h, request('d', [minute]), 10);
    const result = await h.service.shouldRateLimit(request('d', [minute, descriptor([['z', '1']]), hour]));
    expect(result.responseHeadersToAdd).toEqual(headers('0', '0', '1'));
  });

  it('does not let a quota OVER_LIMIT descriptor override the pick', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(86_400 * 3 + 60);
    const result = await h.service.shouldRateLimit(request('d', [tight, quota]));
    // tight has 2 left; quota is over (remaining 0) and wins only as the least remaining.
    expect(result.responseHeadersToAdd).toEqual(headers('0', '0', String(86_400 - 60)));
    const h2 = harness(rules(), ON);
    h2.clock.setSeconds(86_400 * 3 + 60);
    await repeat(h2, request('d', [minute]), 10);
    const both = await h2.service.shouldRateLimit(request('d', [minute, quota]));
    expect(both.responseHeadersToAdd).toEqual(headers('10', '0', '60'));
  });

  it('uses the configured header names', async () => {
    const names = { enabled: true, limitHeader: 'X-L', remainingHeader: 'X-R', resetHeader: 'X-T' };
    const h = harness(rules(), { responseHeaders: names });
    h.clock.setSeconds(2222);
    const result = await h.service.shouldRateLimit(request('d', [minute]));
    expect(result.responseHeadersToAdd.map((x) => x.key)).toEqual(['X-L', 'X-R', 'X-T']);
  });
});

describe('RateLimitService deciding status (the status the headers describe)', () => {
  it('is the status the RateLimit-* headers describe', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(3600 * 10 + 600);
    const result = await h.service.shouldRateLimit(request('d', [minute, tight, hour]));
    expect(result.decidingStatus).toBe(result.statuses[1]);
    expect(result.responseHeadersToAdd).toEqual(headers('3', '2', '3000'));
  });

  it('is set with response headers off (the default), for /auth', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [minute, tight, hour]));
    expect(result.responseHeadersToAdd).toEqual([]);
    expect(result.decidingStatus).toBe(result.statuses[1]);
  });

  it('is the last non-quota OVER_LIMIT status, even when an earlier one resets later', async () => {
    const h = harness(rules(), ON);
    h.clock.setSeconds(3600 * 10 + 600);
    await repeat(h, request('d', [tight, minute]), 10);
    const result = await h.service.shouldRateLimit(request('d', [tight, minute]));
    expect(result.statuses.map((s) => s.code)).toEqual(['OVER_LIMIT', 'OVER_LIMIT']);
    expect(result.decidingStatus).toBe(result.statuses[1]);
    expect(result.responseHeadersToAdd).toEqual(headers('10', '0', '60'));
  });

  it('is undefined when no status carries a current_limit', async () => {
    const h = harness(rules(), ON);
    const result = await h.service.shouldRateLimit(
      request('d', [descriptor([['u', '1']]), descriptor([['x', '1']])]),
    );
    expect(result.decidingStatus).toBeUndefined();
  });
});

describe('RateLimitService retryAfterSeconds (when the whole request would be admitted)', () => {
  it('is the latest reset of the non-quota statuses over, not the deciding status', async () => {
    const h = harness(rules());
    h.clock.setSeconds(3600 * 10 + 600);
    await repeat(h, request('d', [tight, minute]), 10);
    const result = await h.service.shouldRateLimit(request('d', [tight, minute]));
    // the deciding status (minute, the last one over) frees up in 60 s; tight (3/hour) in 3000 s
    expect(result.decidingStatus?.durationUntilResetSeconds).toBe(60);
    expect(result.retryAfterSeconds).toBe(3000);
  });

  it('is undefined when the request is admitted', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [minute, hour]));
    expect(result.overallCode).toBe('OK');
    expect(result.retryAfterSeconds).toBeUndefined();
  });

  it('is the earliest reset of the quota statuses when only quotas are over (one freeing up admits it)', async () => {
    const quotaRules = new TestRuleSet()
      .add('d', [['q', '1']], { requestsPerUnit: 0, unit: 'DAY', quotaMode: true })
      .add('d', [['r', '1']], { requestsPerUnit: 0, unit: 'MINUTE', quotaMode: true });
    const h = harness(quotaRules);
    h.clock.setSeconds(86_400 * 3 + 600);
    const result = await h.service.shouldRateLimit(request('d', [quota, descriptor([['r', '1']])]));
    expect(result.overallCode).toBe('OVER_LIMIT');
    expect(result.retryAfterSeconds).toBe(60);
  });
});
