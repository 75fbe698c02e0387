import { describe, expect, it } from 'vitest';
import { configFrom } from '../config/fixtures.js';
import { descriptor, type Harness, harness, request } from './service-fixture.js';

/**
 * Who is charged for a rejected request, from YAML through the service to the
 * memory store: the limits of a `rate_limits` list never are, whatever their
 * algorithm; a lone fixed-window `rate_limit` (and a request's `limit`
 * override) is, as in the reference.
 */
const CONFIG = `
domain: api
descriptors:
  - key: account
    rate_limits:
      - { unit: second, requests_per_unit: 3, name: per_second }
      - { unit: minute, requests_per_unit: 5, name: per_minute }
  - key: user
    rate_limit: { unit: second, requests_per_unit: 3 }
  - key: bucket
    rate_limit: { unit: second, requests_per_unit: 3, algorithm: token_bucket }
`;

const account = descriptor([['account', 'a1']]);
const user = descriptor([['user', 'u1']]);
const bucket = descriptor([['bucket', 'b1']]);

/** Starts at a whole minute, so 60 one-second windows fit in the minute window. */
function minuteHarness(): Harness {
  const h = harness(configFrom(CONFIG));
  h.clock.setSeconds(1_000_020);
  return h;
}

/** Overall codes of `times` requests for `d`, 100 ms apart. */
async function codes(h: Harness, d: ReturnType<typeof descriptor>, times: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < times; i++) {
    out.push((await h.service.shouldRateLimit(request('api', [d]))).overallCode);
    h.clock.advance(100);
  }
  return out;
}

/** `used` of every check of the last store call, asked of the store without charging. */
async function usedNow(h: Harness): Promise<number[]> {
  const checks = h.store.calls.at(-1)!.checks.map((c) => ({ ...c, hits: 0 }));
  return (await h.store.inner.apply(checks, h.clock.nowMs())).map((d) => d.used);
}

describe('RateLimitService charging of rejected requests, from the YAML config', () => {
  it('rate_limits [3/second, 5/minute]: the 4th request in a second costs no minute budget', async () => {
    const h = minuteHarness();
    expect(await codes(h, account, 4)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(await usedNow(h)).toEqual([3, 3]);
    h.clock.setSeconds(1_000_021);
    // the minute still has 2 of its 5; the third request is rejected by it
    expect(await codes(h, account, 3)).toEqual(['OK', 'OK', 'OVER_LIMIT']);
    const last = await h.service.shouldRateLimit(request('api', [account]));
    expect(last.statuses[0]).toMatchObject({ code: 'OVER_LIMIT', currentLimit: { name: 'per_minute' } });
    expect(await usedNow(h)).toEqual([2, 5]);
  });

  it('a lone fixed-window rate_limit still counts rejected hits, as the reference does', async () => {
    const h = minuteHarness();
    expect(await codes(h, user, 5)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT', 'OVER_LIMIT']);
    expect(await usedNow(h)).toEqual([5]);
  });

  it('sends the charging rule of each limit with its check', async () => {
    const h = minuteHarness();
    const override = descriptor([['user', 'u2']], { limit: { requestsPerUnit: 1, unit: 'HOUR' } });
    await h.service.shouldRateLimit(request('api', [account, user, bucket, override]));
    expect(h.store.calls[0]?.checks.map((c) => [c.algorithm, c.tag, c.chargedWhenRejected])).toEqual([
      ['fixed_window', 'fw1_', false],
      ['fixed_window', 'fw60_', false],
      ['fixed_window', '', true],
      ['token_bucket', 'tb1_', false],
      ['fixed_window', '', true],
    ]);
  });
});
