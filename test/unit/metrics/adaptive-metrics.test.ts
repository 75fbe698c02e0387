import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { accessLogMetrics, adaptiveMetrics } from '../../../src/metrics/adaptive-metrics.js';

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const out: Record<string, number> = {};
  for (const v of (metric?.values ?? []) as { labels: Record<string, string>; value: number }[]) {
    out[Object.values(v.labels).join('/')] = v.value;
  }
  return out;
}

describe('adaptiveMetrics', () => {
  it('reports each controller under its domain and name, and drops its series when removed', async () => {
    const registry = new Registry();
    const factory = adaptiveMetrics(registry);
    const health = factory('api', 'health', 'error_rate');
    const abusers = factory('api', 'abusers', 'abuse');
    health.factor(0.5);
    health.shadowed();
    health.shadowed();
    health.stateError();
    abusers.boxed(3);
    expect(await values(registry, 'ratelimit_adaptive_factor')).toEqual({ 'api/health': 0.5 });
    expect(await values(registry, 'ratelimit_adaptive_penalized_values')).toEqual({ 'api/abusers': 3 });
    expect(await values(registry, 'ratelimit_adaptive_shadow_requests_total')).toMatchObject({
      'api/health': 2,
    });
    expect(await values(registry, 'ratelimit_adaptive_state_errors_total')).toMatchObject({
      'api/health': 1,
    });
    health.remove();
    expect(await values(registry, 'ratelimit_adaptive_factor')).toEqual({});
    expect(await values(registry, 'ratelimit_adaptive_penalized_values')).toEqual({ 'api/abusers': 3 });
  });
});

describe('accessLogMetrics', () => {
  it('counts the entries of each message by outcome', async () => {
    const registry = new Registry();
    const onSummary = accessLogMetrics(registry);
    const key = { upstreamCluster: 'c', routeName: 'r', authority: 'a' };
    onSummary({
      samples: [
        { key, total: 10, errors: 3, upstream429: 2 },
        { key: { ...key, upstreamCluster: 'd' }, total: 4, errors: 0, upstream429: 0 },
      ],
      skipped: 5,
      authorityTooLong: 0,
    });
    expect(await values(registry, 'ratelimit_adaptive_access_log_entries_total')).toEqual({
      ok: 9,
      error: 3,
      upstream429: 2,
      skipped: 5,
    });
  });
});
