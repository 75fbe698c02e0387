import { describe, expect, it } from 'vitest';
import { configFrom } from '../config/fixtures.js';
import { descriptor, harness, repeat, request } from './service-fixture.js';

/**
 * The counter keys the service hands the store (CACHE_KEY_FORMAT): escaped by
 * default, so a value containing `_` cannot reach another limit; the reference's
 * unescaped keys with `cacheKeyFormat: 'reference'`.
 */
const CONFIG = `
domain: api
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 3 }
    descriptors:
      - key: path
        rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: generic_key
    rate_limits:
      - { unit: second, requests_per_unit: 3, algorithm: token_bucket }
`;

const crafted = descriptor([['user', 'alice_path_/login']]);
const real = descriptor([
  ['user', 'alice'],
  ['path', '/login'],
]);

describe('counter keys handed to the store', () => {
  it('escapes \\ _ { } in domain, keys and values by default; the prefix stays as given', async () => {
    const h = harness(configFrom(CONFIG), { cacheKeyPrefix: 'rl_' });
    await h.service.shouldRateLimit(request('api', [crafted, real, descriptor([['generic_key', 'a{b}\\']])]));
    expect(h.store.calls[0]?.checks.map((c) => c.key + c.tag)).toEqual([
      'rl_api_user_alice\\_path\\_/login_',
      'rl_api_user_alice_path_/login_',
      'rl_api_generic\\_key_a\\{b\\}\\\\_tb1_',
    ]);
  });

  it('escapes the entries of a request-level limit override too', async () => {
    const h = harness(configFrom(CONFIG));
    await h.service.shouldRateLimit(
      request('api', [descriptor([['any_key', 'v_1']], { limit: { requestsPerUnit: 5, unit: 'MINUTE' } })]),
    );
    expect(h.store.calls[0]?.checks[0]?.key).toBe('api_any\\_key_v\\_1_');
  });

  it('does not let user=alice_path_/login spend the limit of (user=alice, path=/login)', async () => {
    const h = harness(configFrom(CONFIG));
    expect((await repeat(h, request('api', [crafted]), 4)).overallCode).toBe('OVER_LIMIT');
    expect((await h.service.shouldRateLimit(request('api', [real]))).overallCode).toBe('OK');
  });

  it("writes the reference's unescaped keys, collisions included, with cacheKeyFormat 'reference'", async () => {
    const h = harness(configFrom(CONFIG), { cacheKeyFormat: 'reference' });
    expect((await repeat(h, request('api', [crafted]), 4)).overallCode).toBe('OVER_LIMIT');
    expect((await h.service.shouldRateLimit(request('api', [real]))).overallCode).toBe('OVER_LIMIT');
    expect(new Set(h.store.calls.map((call) => call.checks[0]?.key))).toEqual(
      new Set(['api_user_alice_path_/login_']),
    );
  });
});
