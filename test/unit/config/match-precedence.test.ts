import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { configFrom, desc, expectConfig, matched, readFixture } from './fixtures.js';

const basic = expectConfig(buildConfig(readFixture('valid', 'basic.yaml'), { mergeDomains: false }));

describe('RateLimitConfig.match: per-level precedence and depth', () => {
  it('prefers the exact value over the key-only default', () => {
    expect(matched(basic, 'basic', 'remote_address=50.0.0.5')).toBe('basic.remote_address_50.0.0.5');
    expect(basic.match('basic', desc('remote_address=50.0.0.5'))?.rule.limits[0]?.requestsPerUnit).toBe(0);
  });

  it('falls back to the key-only default for any other value', () => {
    expect(matched(basic, 'basic', 'remote_address=10.0.0.1')).toBe('basic.remote_address');
  });

  it('walks nested descriptors level by level', () => {
    expect(matched(basic, 'basic', 'to_number=1', 'from_number=2')).toBe('basic.to_number.from_number');
    expect(matched(basic, 'basic', 'to_number=1', 'from_number=2061111111')).toBe(
      'basic.to_number.from_number_2061111111',
    );
  });

  it('gives no limit when the node reached by the last entry has none (shallower request)', () => {
    expect(matched(basic, 'basic', 'to_number=1')).toBeUndefined();
  });

  it('uses the limit of an intermediate node when the request stops there', () => {
    expect(matched(basic, 'basic', 'account=a')).toBe('basic.account');
    expect(matched(basic, 'basic', 'account=a', 'user=u')).toBe('basic.account.user');
  });

  it('gives no limit when the request is deeper than the config', () => {
    expect(matched(basic, 'basic', 'remote_address=10.0.0.1', 'extra=x')).toBeUndefined();
    expect(matched(basic, 'basic', 'account=a', 'user=u', 'extra=x')).toBeUndefined();
  });

  it('gives no limit for an unknown key, an unknown domain or a descriptor without entries', () => {
    expect(matched(basic, 'basic', 'nope=1')).toBeUndefined();
    expect(matched(basic, 'nope', 'account=a')).toBeUndefined();
    expect(basic.match('basic', { entries: [] })).toBeUndefined();
    expect(basic.hasDomain('basic')).toBe(true);
    expect(basic.hasDomain('nope')).toBe(false);
  });

  it('returns the same frozen rule for every match and the request entries as counter entries', () => {
    const d = desc('remote_address=10.0.0.1');
    const first = basic.match('basic', d);
    const second = basic.match('basic', desc('remote_address=10.0.0.2'));
    expect(first?.rule).toBe(second?.rule);
    expect(Object.isFrozen(first?.rule)).toBe(true);
    expect(first?.counterEntries).toBe(d.entries);
    expect(first?.fromOverride).toBe(false);
    expect(first?.rule).toMatchObject({
      limits: [
        { algorithm: 'fixed_window', unit: 'SECOND', requestsPerUnit: 10, burst: 10, name: '', keyTag: '' },
      ],
      names: [],
    });
  });
});

describe('RateLimitConfig.match: no backtracking', () => {
  const config = configFrom(`
domain: nb
descriptors:
  - key: a
    value: x
    descriptors:
      - key: b
        value: only
        rate_limit: {unit: second, requests_per_unit: 1}
  - key: a
    value: x*
    descriptors:
      - key: b
        rate_limit: {unit: second, requests_per_unit: 2}
  - key: a
    descriptors:
      - key: b
        rate_limit: {unit: second, requests_per_unit: 3}
`);

  it('does not try the wildcard or the default when the exact node leads nowhere', () => {
    expect(matched(config, 'nb', 'a=x', 'b=only')).toBe('nb.a_x.b_only');
    expect(matched(config, 'nb', 'a=x', 'b=other')).toBeUndefined();
  });

  it('does not try the default when the wildcard node leads nowhere', () => {
    expect(matched(config, 'nb', 'a=xy', 'b=other')).toBe('nb.a_x*.b');
    const wildcardOnly = configFrom(`
domain: nb
descriptors:
  - key: a
    value: x*
    descriptors:
      - {key: b, value: only, rate_limit: {unit: second, requests_per_unit: 1}}
  - key: a
    descriptors:
      - {key: b, rate_limit: {unit: second, requests_per_unit: 3}}
`);
    expect(matched(wildcardOnly, 'nb', 'a=xy', 'b=other')).toBeUndefined();
    expect(matched(wildcardOnly, 'nb', 'a=z', 'b=other')).toBe('nb.a.b');
  });
});

describe('RateLimitConfig.match: empty values and identities', () => {
  const config = configFrom(`
domain: e
descriptors:
  - key: k_
    rate_limit: {unit: second, requests_per_unit: 1}
  - key: w
    value: "*"
    rate_limit: {unit: second, requests_per_unit: 2}
  - key: d
    rate_limit: {unit: second, requests_per_unit: 3}
  - key: a_b
    rate_limit: {unit: second, requests_per_unit: 4}
`);

  it('does not let an empty value reach a config key ending in `_` (the reference does: `k=` → `k_`)', () => {
    expect(matched(config, 'e', 'k=')).toBeUndefined();
    expect(matched(config, 'e', 'k_=x')).toBe('e.k_');
  });

  it('lets a `*` wildcard match an empty value before the default', () => {
    expect(matched(config, 'e', 'w=')).toBe('e.w_*');
  });

  it('falls back to the key-only default for an empty value', () => {
    expect(matched(config, 'e', 'd=')).toBe('e.d');
  });

  it('does not let `a=b` reach a config key that is literally `a_b` (the reference shares one namespace)', () => {
    expect(matched(config, 'e', 'a=b')).toBeUndefined();
    expect(matched(config, 'e', 'a_b=x')).toBe('e.a_b');
  });
});

describe('RateLimitConfig.match: limit override from the request', () => {
  const override = { requestsPerUnit: 42, unit: 'HOUR' as const };

  it('uses the override as one fixed_window limit on the reference key, without looking at the tree', () => {
    const m = basic.match('basic', { ...desc('x=1', 'y='), limit: override });
    expect(m?.fromOverride).toBe(true);
    expect(m?.rule).toEqual({
      fullKey: 'basic.x_1.y',
      limits: [
        {
          requestsPerUnit: 42,
          unit: 'HOUR',
          algorithm: 'fixed_window',
          burst: 42,
          name: '',
          keyTag: '',
          chargedWhenRejected: true,
        },
      ],
      names: [],
      unlimited: false,
      shadowMode: false,
      quotaMode: false,
      replaces: [],
      detailedMetric: false,
      valueToMetric: false,
      metadata: undefined,
    });
  });

  it('replaces a configured limit for the same entries', () => {
    const m = basic.match('basic', { ...desc('remote_address=10.0.0.1'), limit: override });
    expect(m?.rule.limits).toEqual([expect.objectContaining({ requestsPerUnit: 42, keyTag: '' })]);
    expect(m?.rule.fullKey).toBe('basic.remote_address_10.0.0.1');
  });

  it('freezes the override rule and its limits', () => {
    const rule = basic.match('basic', { ...desc('x=1'), limit: override })?.rule;
    expect(Object.isFrozen(rule)).toBe(true);
    expect(Object.isFrozen(rule?.limits)).toBe(true);
    expect(Object.isFrozen(rule?.limits[0])).toBe(true);
  });

  it('gives no limit for an unknown domain or a descriptor without entries', () => {
    expect(basic.match('nope', { ...desc('x=1'), limit: override })).toBeUndefined();
    expect(basic.match('basic', { entries: [], limit: override })).toBeUndefined();
  });
});
