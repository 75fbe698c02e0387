import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../../src/metrics/service-metrics.js';
import { gostatsTaggedName, statsdTotals } from '../../../src/metrics/statsd-names.js';

describe('statsdTotals', () => {
  it("maps the service's totals to the reference's gostats names", async () => {
    const metrics = new ServiceMetrics();
    metrics.configLoadSuccess.inc(2);
    metrics.configLoadError.inc();
    metrics.ruleStats(0.8).domainNotFound('ghost');
    metrics.ruleStats(0.8).failed(new Error('boom'));
    metrics.grpcCall('ShouldRateLimit', 0.002);
    metrics.grpcCall('ShouldRateLimit', 0.004);
    const { counters, timers } = statsdTotals(await metrics.snapshot());
    expect(counters.get('ratelimit.service.config_load_success')).toBe(2);
    expect(counters.get('ratelimit.service.config_load_error')).toBe(1);
    expect(counters.get('ratelimit.service.rate_limit.ghost.domain_not_found')).toBe(1);
    expect(counters.get('ratelimit.service.call.should_rate_limit.service_error')).toBe(1);
    expect(counters.get('ratelimit_server.ShouldRateLimit.total_requests')).toBe(2);
    const time = timers.get('ratelimit_server.ShouldRateLimit.response_time');
    expect(time?.count).toBe(2);
    expect(time?.sumMs).toBeCloseTo(6, 9);
  });
});

describe('gostatsTaggedName', () => {
  it('appends .__key=value per tag, with . : | in values turned into _', () => {
    expect(
      gostatsTaggedName('ratelimit.service.config_load_success', [
        ['env', 'prod'],
        ['zone', 'eu.west:1|a'],
      ]),
    ).toBe('ratelimit.service.config_load_success.__env=prod.__zone=eu_west_1_a');
  });
});
