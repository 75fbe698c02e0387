import { describe, expect, it } from 'vitest';
import { configFrom, matched } from './fixtures.js';

/**
 * A level is looked up by `key_value`, as in envoyproxy/ratelimit, but a node is reached
 * only by a request entry with the node's own key: a caller-chosen value containing `_`
 * must not reach the rule of another key (the reference lets `user=vip` reach `user_vip`).
 */
const config = configFrom(`
domain: d
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: user_vip
    rate_limit: { unit: minute, requests_per_unit: 1000 }
  - key: team
    value: a_b
    rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: path
    value: /api*
    rate_limit: { unit: minute, requests_per_unit: 7 }
`);

describe('RateLimitConfig.match: the boundary between key and value', () => {
  it("a value never reaches the key-only node of a longer key (user=vip is not user_vip's)", () => {
    expect(matched(config, 'd', 'user=vip')).toBe('d.user');
    expect(matched(config, 'd', 'user_vip=anything')).toBe('d.user_vip');
  });

  it("an exact node is reached only with its own key (team_a=b is not team=a_b's)", () => {
    expect(matched(config, 'd', 'team=a_b')).toBe('d.team_a_b');
    expect(matched(config, 'd', 'team_a=b')).toBeUndefined();
  });

  it("a value wildcard matches only its own key's values (path_/api=x is not path=/api*'s)", () => {
    expect(matched(config, 'd', 'path=/api/v1')).toBe('d.path_/api*');
    expect(matched(config, 'd', 'path_/api=x')).toBeUndefined();
  });

  it('a key-only default is reached only by its own key, not by a key that contains a value', () => {
    const noWildcard = configFrom(`
domain: d
descriptors:
  - key: team
    value: a_b
    rate_limit: { unit: minute, requests_per_unit: 5 }
`);
    expect(matched(noWildcard, 'd', 'team_a_b=x')).toBeUndefined();
  });

  it('a `*` in a key still matches the whole `key_value`, as in the reference', () => {
    const keyWildcard = configFrom(`
domain: d
descriptors:
  - key: us*
    rate_limit: { unit: minute, requests_per_unit: 9 }
`);
    expect(matched(keyWildcard, 'd', 'user=x')).toBe('d.us*');
    expect(matched(keyWildcard, 'd', 'other=x')).toBeUndefined();
  });
});
