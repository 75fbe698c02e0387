import { describe, expect, it } from 'vitest';
import {
  abuseParams,
  DEFAULTS,
  errorRateParams,
  validateAbuseParams,
  validateErrorRateParams,
} from '../../../src/adaptive/controller-params.js';

const fields = (problems: { field: string }[]) => problems.map((p) => p.field);

describe('controller params', () => {
  it('fills every absent error_rate field from DEFAULTS and validates the result', () => {
    const params = errorRateParams({ name: 'checkout-health', match: { upstreamCluster: 'checkout' } });
    expect(params).toMatchObject({ ...DEFAULTS.errorRate, type: 'error_rate', name: 'checkout-health' });
    expect(params.match).toEqual({ upstreamCluster: 'checkout' });
    expect(Object.isFrozen(params)).toBe(true);
    expect(validateErrorRateParams(params)).toEqual([]);
  });

  it('fills absent penalty fields one by one and keeps the given ones', () => {
    const params = abuseParams({ name: 'abusers', penalty: { factor: 0 }, spike: undefined });
    expect(params.penalty).toEqual({ ...DEFAULTS.abuse.penalty, factor: 0 });
    expect(params.spike).toBe(DEFAULTS.abuse.spike);
    expect(validateAbuseParams(params)).toEqual([]);
  });

  it.each([
    [{ errorThreshold: 1.5 }, 'error_threshold'],
    [{ errorThreshold: -0.1 }, 'error_threshold'],
    [{ floor: 1.1 }, 'floor'],
    [{ floor: -0.1 }, 'floor'],
    [{ decrease: 1 }, 'decrease'],
    [{ decrease: 0 }, 'decrease'],
    [{ increase: 0 }, 'increase'],
    [{ intervalMs: 999 }, 'interval'],
    [{ minSamples: 0 }, 'min_samples'],
    [{ minSamples: 1.5 }, 'min_samples'],
    [{ match: { routeName: '' } }, 'match.route_name'],
    [{ errorThreshold: Number.NaN }, 'error_threshold'],
  ])('error_rate %o is reported at %s', (override, field) => {
    expect(fields(validateErrorRateParams(errorRateParams({ name: 'x', ...override })))).toEqual([field]);
  });

  it.each([
    [{ overLimitRatio: 2 }, 'over_limit_ratio'],
    [{ spike: 1 }, 'spike'],
    [{ minRequests: 0 }, 'min_requests'],
    [{ intervalMs: 500 }, 'interval'],
    [{ penalty: { factor: 1 } }, 'penalty.factor'],
    [{ penalty: { factor: -0.5 } }, 'penalty.factor'],
    [{ penalty: { ttlMs: 0, maxTtlMs: 10 } }, 'penalty.ttl'],
    [{ penalty: { escalate: 0.5 } }, 'penalty.escalate'],
    [{ penalty: { ttlMs: 60_000, maxTtlMs: 59_999 } }, 'penalty.max_ttl'],
  ])('abuse %o is reported at %s', (override, field) => {
    expect(fields(validateAbuseParams(abuseParams({ name: 'x', ...override })))).toEqual([field]);
  });

  it('reports every problem at once, not only the first', () => {
    const params = errorRateParams({ name: '', errorThreshold: 2, floor: 2, increase: -1 });
    expect(fields(validateErrorRateParams(params))).toEqual(['name', 'error_threshold', 'increase', 'floor']);
  });
});
