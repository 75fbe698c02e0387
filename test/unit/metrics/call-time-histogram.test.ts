import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CallTimeHistogram } from '../../../src/metrics/call-time-histogram.js';

const BOUNDS = [0.001, 0.01, 0.1];
const SAMPLES: [string, number][] = [
  ['ShouldRateLimit', 0.0005],
  ['ShouldRateLimit', 0.001], // on a bound: counted in that bucket (le is inclusive)
  ['ShouldRateLimit', 0.05],
  ['Other', 3],
  ['ShouldRateLimit', 0.2],
];

function both() {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new CallTimeHistogram('t_seconds', 'call time', ['grpc_method'], BOUNDS, ours);
  const reference = new Histogram({
    name: 't_seconds',
    help: 'call time',
    labelNames: ['grpc_method'] as const,
    buckets: BOUNDS,
    registers: [theirs],
  });
  for (const [method, value] of SAMPLES) {
    fast.series(method).observe(value);
    reference.observe({ grpc_method: method }, value);
  }
  return { ours, theirs, fast };
}

describe('CallTimeHistogram', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('t_seconds_bucket{le="0.001",grpc_method="ShouldRateLimit"} 2');
    expect(text).toContain('t_seconds_count{grpc_method="Other"} 1');
  });

  it('sums across cluster workers like prom-client’s histograms', async () => {
    const a = both();
    const b = both();
    const merged = AggregatorRegistry.aggregate([
      await a.ours.getMetricsAsJSON(),
      await b.ours.getMetricsAsJSON(),
    ]);
    const reference = AggregatorRegistry.aggregate([
      await a.theirs.getMetricsAsJSON(),
      await b.theirs.getMetricsAsJSON(),
    ]);
    expect(await merged.metrics()).toBe(await reference.metrics());
    expect(await merged.metrics()).toContain('t_seconds_count{grpc_method="ShouldRateLimit"} 8');
  });

  it('keeps one series per label combination, in label-name order', async () => {
    const registry = new Registry();
    const h = new CallTimeHistogram('b_seconds', 'backend time', ['backend', 'outcome'], BOUNDS, registry);
    expect(h.series('redis', 'ok')).toBe(h.series('redis', 'ok'));
    h.series('redis', 'ok').observe(0.002);
    h.series('redis', 'error').observe(0.5);
    const text = await registry.metrics();
    expect(text).toContain('b_seconds_bucket{le="0.01",backend="redis",outcome="ok"} 1');
    expect(text).toContain('b_seconds_count{backend="redis",outcome="error"} 1');
  });

  it('reset drops every series', async () => {
    const { ours, fast } = both();
    fast.reset();
    expect(await ours.metrics()).not.toContain('t_seconds_bucket');
  });
});
