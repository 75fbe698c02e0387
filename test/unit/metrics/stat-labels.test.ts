import { describe, expect, it } from 'vitest';
import { configuredValues, labelsOf, sanitizeValue, statLevels } from '../../../src/metrics/stat-labels.js';
import { entries } from '../../support/rule-set-builder.js';

describe('configuredValues', () => {
  it('reads explicit values, key-only defaults and wildcard patterns per level', () => {
    const e = entries([
      ['path', '/api/users'],
      ['user', 'alice'],
      ['method', 'GET'],
    ]);
    expect(configuredValues('shop.path_/api/*.user.method_GET', 'shop', e)).toEqual([
      '/api/*',
      undefined,
      'GET',
    ]);
  });

  it('keeps a configured value containing dots whole', () => {
    const e = entries([
      ['remote_address', '10.0.0.1'],
      ['path', 'x'],
    ]);
    expect(configuredValues('edge.remote_address_10.0.0.1.path', 'edge', e)).toEqual(['10.0.0.1', undefined]);
  });

  it('handles keys that contain underscores', () => {
    expect(configuredValues('d.remote_address', 'd', entries([['remote_address', '1.2.3.4']]))).toEqual([
      undefined,
    ]);
  });
});

describe('statLevels and labelsOf', () => {
  const e = entries([
    ['path', '/api/users'],
    ['user', 'alice'],
    ['method', 'GET'],
  ]);
  const configured = ['/api/*', undefined, 'GET'];

  it('shows configured values only, by default (bounded by the config)', () => {
    const levels = statLevels(configured, e, false);
    expect(levels).toEqual(['path_/api/*', 'user', 'method_GET']);
    expect(labelsOf('shop', levels)).toEqual({
      domain: 'shop',
      key1: 'path_/api/*',
      key2: 'user.method_GET',
    });
  });

  it('shows runtime values at every level for detailed_metric / value_to_metric', () => {
    expect(statLevels(configured, e, true)).toEqual(['path_/api/users', 'user_alice', 'method_GET']);
  });

  it('leaves key2 empty for a one-level path', () => {
    expect(labelsOf('shop', ['user'])).toEqual({ domain: 'shop', key1: 'user', key2: '' });
  });

  it('sanitizes values as statsd names: colon, pipe and dot become underscores', () => {
    expect(sanitizeValue('10.0.0.1:80|x')).toBe('10_0_0_1_80_x');
    expect(statLevels([], entries([['ip', '10.0.0.1']]), true)).toEqual(['ip_10_0_0_1']);
  });
});
