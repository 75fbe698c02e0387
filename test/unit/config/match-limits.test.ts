import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { configFrom, desc, expectConfig, matched, readFixture } from './fixtures.js';

const load = (fixture: string) =>
  expectConfig(buildConfig(readFixture('valid', fixture), { mergeDomains: false }));

describe('RateLimitConfig.match: algorithms, burst and key tags', () => {
  const config = load('algorithms.yaml');
  const limitOf = (key: string) => config.match('algorithms', desc(`${key}=x`))?.rule.limits;

  it('gives a lone fixed_window rate_limit the empty key tag (the reference key), written or defaulted', () => {
    for (const key of ['fixed', 'default']) {
      expect(limitOf(key)).toEqual([expect.objectContaining({ algorithm: 'fixed_window', keyTag: '' })]);
    }
  });

  it('charges rejected hits to a lone fixed_window rate_limit only (the reference), no other algorithm', () => {
    const charged = ['fixed', 'default', 'sliding', 'log', 'bucket'].map(
      (key) => limitOf(key)?.[0]?.chargedWhenRejected,
    );
    expect(charged).toEqual([true, true, false, false, false]);
  });

  it('tags every other algorithm with its short name and the unit in seconds', () => {
    expect(limitOf('sliding')?.[0]).toMatchObject({ algorithm: 'sliding_window', keyTag: 'sw60_' });
    expect(limitOf('log')?.[0]).toMatchObject({ algorithm: 'sliding_log', keyTag: 'sl3600_' });
    expect(limitOf('bucket')?.[0]).toMatchObject({ algorithm: 'token_bucket', keyTag: 'tb1_' });
  });

  it('uses the written burst, else requests_per_unit, for token_bucket', () => {
    expect(limitOf('bucket')?.[0]).toMatchObject({ requestsPerUnit: 10, burst: 40 });
    expect(limitOf('bucket_default')?.[0]).toMatchObject({ requestsPerUnit: 10, burst: 10 });
    expect(limitOf('small_burst')?.[0]).toMatchObject({ requestsPerUnit: 600, burst: 1 });
  });

  it('sets burst to requests_per_unit for the other algorithms', () => {
    expect(limitOf('sliding')?.[0]?.burst).toBe(60);
    expect(limitOf('log')?.[0]?.burst).toBe(10000);
  });

  it('reads the algorithm name case-insensitively, as units are', () => {
    expect(limitOf('bucket_default')?.[0]?.algorithm).toBe('token_bucket');
  });
});

describe('RateLimitConfig.match: rate_limits', () => {
  const config = load('rate-limits.yaml');

  it('returns one rule with every limit of the node, in written order', () => {
    const rule = config.match('api', desc('account=a1'))?.rule;
    expect(rule).toMatchObject({ fullKey: 'api.account', unlimited: false, names: [], replaces: [] });
    expect(rule?.limits).toEqual([
      {
        requestsPerUnit: 10,
        unit: 'SECOND',
        algorithm: 'token_bucket',
        burst: 20,
        name: '',
        keyTag: 'tb1_',
        chargedWhenRejected: false,
      },
      {
        requestsPerUnit: 250000,
        unit: 'DAY',
        algorithm: 'fixed_window',
        burst: 250000,
        name: '',
        keyTag: 'fw86400_',
        chargedWhenRejected: false,
      },
    ]);
  });

  it('tags even a single fixed_window entry, so it never shares the reference key', () => {
    expect(config.match('api', desc('plan=enterprise', 'single=s'))?.rule.limits).toEqual([
      expect.objectContaining({ algorithm: 'fixed_window', unit: 'MINUTE', keyTag: 'fw60_' }),
    ]);
  });

  it('never charges a rejected request to an entry, fixed_window included (a lone rate_limit would be)', () => {
    expect(config.match('api', desc('plan=enterprise', 'single=s'))?.rule.limits).toEqual([
      expect.objectContaining({ algorithm: 'fixed_window', chargedWhenRejected: false }),
    ]);
    expect(config.match('api', desc('account=a1'))?.rule.limits.map((l) => l.chargedWhenRejected)).toEqual([
      false,
      false,
    ]);
  });

  it('lists each non-empty name once and unions the replaces of every entry', () => {
    const rule = config.match('api', desc('plan=enterprise'))?.rule;
    expect(rule?.names).toEqual(['per-minute', 'per-hour']);
    expect(rule?.replaces).toEqual(['account-default', 'free']);
    expect(rule?.limits.map((l) => l.name)).toEqual(['per-minute', 'per-hour', 'per-minute']);
    expect(rule?.shadowMode).toBe(true);
  });

  it('gives every limit of a node its own key tag', () => {
    const rule = config.match('api', desc('plan=enterprise'))?.rule;
    expect(rule?.limits.map((l) => l.keyTag)).toEqual(['sw60_', 'fw3600_', 'fw60_']);
  });

  it('freezes the rule, its limits and its lists', () => {
    const rule = config.match('api', desc('account=a1'))?.rule;
    for (const part of [rule, rule?.limits, rule?.limits[0], rule?.names, rule?.replaces]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
  });

  it('treats a null rate_limits as absent: the node is a placeholder for its children', () => {
    const placeholder = configFrom(`
domain: p
descriptors:
  - key: a
    rate_limits: ~
    descriptors:
      - {key: b, rate_limits: [{unit: second, requests_per_unit: 1, algorithm: sliding_window}]}
`);
    expect(matched(placeholder, 'p', 'a=1')).toBeUndefined();
    expect(placeholder.match('p', desc('a=1', 'b=2'))?.rule.limits[0]?.keyTag).toBe('sw1_');
  });
});
