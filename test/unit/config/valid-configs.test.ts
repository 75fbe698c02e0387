import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { configFrom, expectConfig, fixtureNames, readFixture } from './fixtures.js';

const line = (key: string, unit: string, n: number, shadow = false, quota = false) =>
  `${key}: unit=${unit} requests_per_unit=${n}, shadow_mode: ${shadow}, quota_mode: ${quota}`;
/** A line with the algorithm (every limit but a lone fixed_window `rate_limit`); `burst` for token_bucket. */
const algo = (key: string, unit: string, n: number, algorithm: string, burst?: number, shadow = false) =>
  `${key}: unit=${unit} requests_per_unit=${n} algorithm=${algorithm}${burst === undefined ? '' : ` burst=${burst}`}, shadow_mode: ${shadow}, quota_mode: false`;

/** Every valid fixture with the `/rlconfig` lines it must produce (sorted, code-unit order). */
const CASES: readonly [fixture: string, lines: readonly string[]][] = [
  [
    'algorithms.yaml',
    [
      algo('algorithms.bucket', 'SECOND', 10, 'token_bucket', 40),
      algo('algorithms.bucket_default', 'SECOND', 10, 'token_bucket', 10),
      line('algorithms.default', 'SECOND', 3),
      line('algorithms.fixed', 'MINUTE', 60),
      algo('algorithms.log', 'HOUR', 10000, 'sliding_log'),
      algo('algorithms.sliding', 'MINUTE', 60, 'sliding_window'),
      algo('algorithms.small_burst', 'MINUTE', 600, 'token_bucket', 1),
    ],
  ],
  [
    'all-units.yaml',
    [
      line('units.d', 'DAY', 4),
      line('units.h', 'HOUR', 3),
      line('units.m', 'MINUTE', 2),
      line('units.mo', 'MONTH', 6),
      line('units.s', 'SECOND', 1),
      line('units.w', 'WEEK', 5),
      line('units.y', 'YEAR', 7),
    ],
  ],
  [
    'basic.yaml',
    [
      line('basic.account.user', 'MINUTE', 6),
      line('basic.account', 'MINUTE', 60),
      line('basic.remote_address', 'SECOND', 10),
      line('basic.remote_address_50.0.0.5', 'SECOND', 0),
      line('basic.to_number.from_number', 'DAY', 10),
      line('basic.to_number.from_number_2061111111', 'DAY', 100),
    ],
  ],
  [
    'merged-domain',
    [
      line('another.path', 'SECOND', 5),
      line('merged.path_/a*', 'SECOND', 1),
      line('merged.path_/ab*', 'SECOND', 3),
      line('merged.team', 'SECOND', 4),
      line('merged.user', 'SECOND', 2),
    ],
  ],
  [
    'modes-and-metadata.yaml',
    [
      line('modes.metrics', 'SECOND', 3),
      line('modes.plain', 'SECOND', 4),
      line('modes.quota', 'SECOND', 2, false, true),
      line('modes.shadow', 'SECOND', 1, true),
    ],
  ],
  [
    'rate-limits.yaml',
    [
      algo('api.account', 'SECOND', 10, 'token_bucket', 20),
      algo('api.account', 'DAY', 250000, 'fixed_window'),
      algo('api.plan_enterprise.single', 'MINUTE', 5, 'fixed_window'),
      algo('api.plan_enterprise', 'MINUTE', 1000, 'sliding_window', undefined, true),
      algo('api.plan_enterprise', 'HOUR', 50000, 'fixed_window', undefined, true),
      algo('api.plan_enterprise', 'MINUTE', 2000, 'fixed_window', undefined, true),
      algo('api.user', 'SECOND', 10, 'token_bucket', 40),
    ],
  ],
  [
    'share-threshold.yaml',
    [line('shared.files_/files/*', 'HOUR', 100), line('shared.tenant_team-*.path_/v1/*/items', 'HOUR', 5)],
  ],
  [
    'unlimited-and-replaces.yaml',
    [
      line('replaces.plan_premium', 'MINUTE', 1000),
      line('replaces.user', 'MINUTE', 100),
      'replaces.user_admin: unlimited, shadow_mode: false, quota_mode: false',
    ],
  ],
  [
    'wildcards.yaml',
    [
      line('wildcards.middle_bar*b', 'MINUTE', 2),
      line('wildcards.multiple_foo*bar*baz', 'MINUTE', 3),
      line('wildcards.path', 'MINUTE', 13),
      line('wildcards.path_/api/*', 'MINUTE', 10),
      line('wildcards.path_/api/exact', 'MINUTE', 12),
      line('wildcards.path_/api/v1*', 'MINUTE', 11),
      line('wildcards.trailing_foo*', 'MINUTE', 1),
    ],
  ],
  [
    'yaml-1-1.yaml',
    [
      line('yaml11.code_007', 'SECOND', 10, true),
      line('yaml11.flag_on', 'MINUTE', 32),
      line('yaml11.octal', 'MINUTE', 8),
      line('yaml11.placeholder.child', 'HOUR', 1000),
      line('yaml11.user', 'SECOND', 10),
      line('yaml11.user_42', 'SECOND', 10),
    ],
  ],
];

describe('buildConfig accepts valid configs', () => {
  it.each(CASES)('%s builds and describes every rule', (fixture, lines) => {
    const config = expectConfig(buildConfig(readFixture('valid', fixture), { mergeDomains: true }));
    expect(config.describe()).toEqual(lines);
  });

  it('has a table row for every valid fixture', () => {
    expect(CASES.map(([fixture]) => fixture).sort()).toEqual(fixtureNames('valid'));
  });

  it('summarises domains sorted by name with their files (in load order) and rule counts', () => {
    const config = expectConfig(buildConfig(readFixture('valid', 'merged-domain'), { mergeDomains: true }));
    expect(config.domains()).toEqual([
      { domain: 'another', files: ['merged-domain/c.yaml'], limits: 1, algorithms: ['fixed_window'] },
      {
        domain: 'merged',
        files: ['merged-domain/a.yaml', 'merged-domain/b.yaml'],
        limits: 4,
        algorithms: ['fixed_window'],
      },
    ]);
  });

  it('counts one limit per rate_limit and per rate_limits entry, and lists the algorithms in use', () => {
    const config = expectConfig(
      buildConfig(readFixture('valid', 'rate-limits.yaml'), { mergeDomains: false }),
    );
    expect(config.domains()).toEqual([
      {
        domain: 'api',
        files: ['rate-limits.yaml'],
        limits: 7,
        algorithms: ['fixed_window', 'sliding_window', 'token_bucket'],
      },
    ]);
  });

  it('counts an unlimited rule as one limit without an algorithm', () => {
    const config = configFrom('domain: u\ndescriptors:\n  - {key: a, rate_limit: {unlimited: true}}\n');
    expect(config.domains()).toEqual([{ domain: 'u', files: ['a.yaml'], limits: 1, algorithms: [] }]);
  });

  it('builds an empty config from no files', () => {
    const config = expectConfig(buildConfig([], { mergeDomains: false }));
    expect(config.domains()).toEqual([]);
    expect(config.describe()).toEqual([]);
  });

  it('keeps a domain without descriptors', () => {
    const config = expectConfig(
      buildConfig([{ path: 'a.yaml', content: 'domain: empty\n' }], { mergeDomains: false }),
    );
    expect(config.hasDomain('empty')).toBe(true);
    expect(config.domains()).toEqual([{ domain: 'empty', files: ['a.yaml'], limits: 0, algorithms: [] }]);
  });

  it('returns copies from domains() and describe(), and is frozen', () => {
    const config = expectConfig(buildConfig(readFixture('valid', 'basic.yaml'), { mergeDomains: false }));
    config.describe().pop();
    config.domains()[0]?.files.pop();
    expect(config.describe()).toHaveLength(6);
    expect(config.domains()[0]?.files).toEqual(['basic.yaml']);
    expect(Object.isFrozen(config)).toBe(true);
  });
});
