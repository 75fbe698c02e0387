import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { desc, expectConfig, matched, readFixture } from './fixtures.js';

const wildcards = expectConfig(buildConfig(readFixture('valid', 'wildcards.yaml'), { mergeDomains: false }));
const shared = expectConfig(
  buildConfig(readFixture('valid', 'share-threshold.yaml'), { mergeDomains: false }),
);

describe("RateLimitConfig.match: wildcards (the reference's examples)", () => {
  it.each([
    ['trailing', 'foo1', 'wildcards.trailing_foo*'],
    ['trailing', 'foo', 'wildcards.trailing_foo*'],
    ['trailing', 'fo', undefined],
    ['middle', 'barab', 'wildcards.middle_bar*b'],
    ['middle', 'bar123b', 'wildcards.middle_bar*b'],
    ['middle', 'barb', 'wildcards.middle_bar*b'],
    ['middle', 'bara', undefined],
    ['middle', 'xbarb', undefined],
    ['multiple', 'foobarbaz', 'wildcards.multiple_foo*bar*baz'],
    ['multiple', 'foo123bar456baz', 'wildcards.multiple_foo*bar*baz'],
    ['multiple', 'foo123baz', undefined],
    ['multiple', 'bar456baz', undefined],
  ])('%s: value %s matches %s', (key, value, fullKey) => {
    expect(matched(wildcards, 'wildcards', `${key}=${value}`)).toBe(fullKey);
  });

  it('prefers the exact value over a matching wildcard', () => {
    expect(matched(wildcards, 'wildcards', 'path=/api/exact')).toBe('wildcards.path_/api/exact');
  });

  it('takes the first matching wildcard in declaration order, not the most specific', () => {
    expect(matched(wildcards, 'wildcards', 'path=/api/v1/users')).toBe('wildcards.path_/api/*');
  });

  it('falls back to the key-only default when no wildcard matches', () => {
    expect(matched(wildcards, 'wildcards', 'path=/other')).toBe('wildcards.path');
  });

  it('keeps the runtime value in the counter entries without share_threshold', () => {
    expect(wildcards.match('wildcards', desc('trailing=foo1'))?.counterEntries).toEqual([
      { key: 'trailing', value: 'foo1' },
    ]);
  });
});

describe('RateLimitConfig.match: share_threshold', () => {
  it('puts the pattern in the counter entries so every matching value shares one counter', () => {
    const a = shared.match('shared', desc('files=/files/a.txt'));
    const b = shared.match('shared', desc('files=/files/b/c.txt'));
    expect(a?.rule.fullKey).toBe('shared.files_/files/*');
    expect(a?.counterEntries).toEqual([{ key: 'files', value: '/files/*' }]);
    expect(b?.counterEntries).toEqual(a?.counterEntries);
  });

  it('shares an upper level matched by a share_threshold wildcard while deeper levels keep their values', () => {
    const d = desc('tenant=team-a', 'path=/v1/x/items');
    const m = shared.match('shared', d);
    expect(m?.rule.fullKey).toBe('shared.tenant_team-*.path_/v1/*/items');
    expect(m?.counterEntries).toEqual([
      { key: 'tenant', value: 'team-*' },
      { key: 'path', value: '/v1/x/items' },
    ]);
    expect(d.entries[0]?.value).toBe('team-a');
  });
});

describe('RateLimitConfig.match: wildcard order across merged files', () => {
  const merged = expectConfig(buildConfig(readFixture('valid', 'merged-domain'), { mergeDomains: true }));

  it("tries the earlier file's wildcards first", () => {
    expect(matched(merged, 'merged', 'path=/abc')).toBe('merged.path_/a*');
  });

  it('matches descriptors contributed by every file of the domain', () => {
    expect(matched(merged, 'merged', 'user=u')).toBe('merged.user');
    expect(matched(merged, 'merged', 'team=t')).toBe('merged.team');
    expect(matched(merged, 'another', 'path=/abc')).toBe('another.path');
  });
});
