import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServiceMetrics } from '../../../src/metrics/service-metrics.js';
import type { PrimaryMessage } from '../../../src/workers/messages.js';
import { type MetricsSource, PodMetricsAggregation } from '../../../src/workers/metrics-aggregation.js';

/** How each gauge combines across workers; a new gauge fails the test below until it is decided here. */
const GAUGE_AGGREGATORS: Readonly<Record<string, string>> = {
  ratelimit_backend_circuit_open: 'max',
  ratelimit_backend_connected: 'min',
  // open connections of every worker add up to the pod's
  ratelimit_connections_open: 'sum',
};

/** A worker that answers a collection with `metrics`' snapshot (or not at all). */
function worker(
  id: number,
  aggregation: PodMetricsAggregation,
  metrics: ServiceMetrics | undefined,
): MetricsSource {
  return {
    id,
    isConnected: () => true,
    send(message: PrimaryMessage) {
      if (message.type === 'ratelimit:metrics-collect' && metrics !== undefined) {
        metrics.snapshot().then((snapshot) => aggregation.receive(id, message.id, snapshot, undefined));
      }
      return true;
    },
  };
}

function sample(body: string, name: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PodMetricsAggregation', () => {
  it('sums counters and histograms, and takes the max of the breaker flag and config loads', async () => {
    const [a, b] = [new ServiceMetrics(), new ServiceMetrics()];
    for (let i = 0; i < 3; i++) a.grpcCall('ShouldRateLimit', 0.001);
    for (let i = 0; i < 4; i++) b.grpcCall('ShouldRateLimit', 0.002);
    a.configLoadSuccess.inc();
    b.configLoadSuccess.inc();
    a.circuitState.set(1);
    b.circuitState.set(0);
    const aggregation = new PodMetricsAggregation(1_000);
    const { body, contentType } = await aggregation.collect([
      worker(1, aggregation, a),
      worker(2, aggregation, b),
    ]);
    expect(contentType).toContain('text/plain');
    expect(sample(body, 'ratelimit_service_total_requests{grpc_method="ShouldRateLimit"}')).toBe(7);
    expect(sample(body, 'ratelimit_service_response_time_seconds_count{grpc_method="ShouldRateLimit"}')).toBe(
      7,
    );
    expect(
      sample(
        body,
        'ratelimit_service_response_time_seconds_bucket{le="0.001",grpc_method="ShouldRateLimit"}',
      ),
    ).toBe(3);
    expect(sample(body, 'ratelimit_backend_circuit_open')).toBe(1);
    expect(sample(body, 'ratelimit_service_config_load_success')).toBe(1);
  });

  it('declares for every gauge how workers combine (summing a 0/1 flag would count workers)', async () => {
    const metrics = new ServiceMetrics();
    metrics.ruleStats(0.8);
    const gauges = (await metrics.registry.getMetricsAsJSON()).filter((m) => String(m.type) === 'gauge');
    expect(gauges.length).toBeGreaterThan(0);
    for (const gauge of gauges)
      expect([gauge.name, gauge.aggregator]).toEqual([gauge.name, GAUGE_AGGREGATORS[gauge.name]]);
  });

  it('leaves out a worker that exits during the collection', async () => {
    const live = new ServiceMetrics();
    live.grpcCall('ShouldRateLimit', 0.001);
    const aggregation = new PodMetricsAggregation(1_000);
    const scrape = aggregation.collect([worker(1, aggregation, live), worker(2, aggregation, undefined)]);
    aggregation.forget(2);
    const { body } = await scrape;
    expect(sample(body, 'ratelimit_service_total_requests{grpc_method="ShouldRateLimit"}')).toBe(1);
  });

  it('fails the scrape when a worker does not answer in time, rather than report a smaller total', async () => {
    vi.useFakeTimers();
    const aggregation = new PodMetricsAggregation(500);
    const scrape = aggregation.collect([
      worker(1, aggregation, new ServiceMetrics()),
      worker(2, aggregation, undefined),
    ]);
    const outcome = expect(scrape).rejects.toThrow('worker 2 sent no metrics within 500 ms');
    await vi.advanceTimersByTimeAsync(500);
    await outcome;
  });

  it('answers with no samples when no worker listens yet', async () => {
    const { body } = await new PodMetricsAggregation(1_000).collect([]);
    expect(body.trim()).toBe('');
  });
});
