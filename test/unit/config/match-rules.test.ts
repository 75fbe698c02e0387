import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { UNIT_SECONDS } from '../../../src/core/units.js';
import { desc, expectConfig, matched, readFixture } from './fixtures.js';

const load = (fixture: string) =>
  expectConfig(buildConfig(readFixture('valid', fixture), { mergeDomains: false }));

describe('RateLimitConfig.match: rule attributes', () => {
  const replaces = load('unlimited-and-replaces.yaml');
  const modes = load('modes-and-metadata.yaml');

  it('marks unlimited rules and keeps their replaces', () => {
    const rule = replaces.match('replaces', desc('user=admin'))?.rule;
    expect(rule).toMatchObject({
      unlimited: true,
      limits: [],
      names: [],
      replaces: ['per-user'],
      fullKey: 'replaces.user_admin',
    });
  });

  it('keeps the rule name and every replaced name', () => {
    expect(replaces.match('replaces', desc('user=bob'))?.rule).toMatchObject({
      names: ['per-user'],
      limits: [{ name: 'per-user' }],
      replaces: [],
    });
    expect(replaces.match('replaces', desc('plan=premium'))?.rule).toMatchObject({
      names: ['premium'],
      replaces: ['per-user', 'free'],
    });
  });

  it('carries shadow_mode, quota_mode, detailed_metric and value_to_metric from the descriptor', () => {
    expect(modes.match('modes', desc('shadow=x'))?.rule).toMatchObject({
      shadowMode: true,
      quotaMode: false,
    });
    expect(modes.match('modes', desc('quota=x'))?.rule).toMatchObject({
      quotaMode: true,
      detailedMetric: true,
    });
    expect(modes.match('modes', desc('metrics=x'))?.rule).toMatchObject({
      valueToMetric: true,
      shadowMode: false,
    });
  });

  it('keeps metadata as a deep-frozen plain object, and an empty map as none', () => {
    const metadata = modes.match('modes', desc('metrics=x'))?.rule.metadata;
    expect(metadata).toEqual({
      backend: 'blue',
      weight: 3,
      tags: ['a', 'b'],
      nested: { enabled: true, ratio: 0.5, none: null },
    });
    expect(Object.isFrozen(metadata)).toBe(true);
    expect(Object.isFrozen(metadata?.nested)).toBe(true);
    expect(modes.match('modes', desc('plain=x'))?.rule.metadata).toBeUndefined();
  });

  it('parses every unit case-insensitively', () => {
    const units = load('all-units.yaml');
    const got = ['s', 'm', 'h', 'd', 'w', 'mo', 'y'].map(
      (k) => units.match('units', desc(`${k}=1`))?.rule.limits[0]?.unit,
    );
    expect(got).toEqual(['SECOND', 'MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR']);
    expect(got.map((u) => (u === undefined ? 0 : UNIT_SECONDS[u]))).toEqual([
      1, 60, 3_600, 86_400, 604_800, 2_592_000, 31_536_000,
    ]);
  });

  it('reads YAML 1.1 as the reference does: merge keys, yes/on, integers as written', () => {
    const yaml11 = load('yaml-1-1.yaml');
    expect(yaml11.match('yaml11', desc('user=42'))?.rule.limits).toMatchObject([
      { unit: 'SECOND', requestsPerUnit: 10 },
    ]);
    expect(yaml11.match('yaml11', desc('code=007'))?.rule.shadowMode).toBe(true);
    expect(matched(yaml11, 'yaml11', 'code=7')).toBeUndefined();
    expect(matched(yaml11, 'yaml11', 'flag=on')).toBe('yaml11.flag_on');
    expect(yaml11.match('yaml11', desc('octal=1'))?.rule.limits[0]?.requestsPerUnit).toBe(8);
  });

  it('treats an empty rate_limit as a placeholder without a limit', () => {
    const yaml11 = load('yaml-1-1.yaml');
    expect(matched(yaml11, 'yaml11', 'placeholder=p')).toBeUndefined();
    expect(matched(yaml11, 'yaml11', 'placeholder=p', 'child=c')).toBe('yaml11.placeholder.child');
  });
});
