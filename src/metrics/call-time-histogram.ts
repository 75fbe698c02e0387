import type { Metric, MetricObjectWithValues, MetricType, MetricValueWithName, Registry } from 'prom-client';

/** prom-client declares MetricType as an enum in its typings only; at run time it is the string. */
const HISTOGRAM = 'histogram' as unknown as MetricType;

/** One label combination's counts; `observe` is a short scan of the bounds and three additions. */
export class HistogramSeries {
  /** Non-cumulative count per bucket; the last slot counts values above every bound (+Inf). */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.buckets[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

/**
 * A Prometheus histogram for per-call hot paths. Callers get a label
 * combination's series once (`series`) and observe on it: no label
 * validation, hashing or bound-to-property-key conversion per observation,
 * which prom-client's Histogram does at a noticeable share of a decision's own
 * cost (figures in docs/performance.md). Read through the registry like any
 * prom-client metric: `get()` returns the same structure (`_bucket` with `le`
 * first, `_sum`, `_count`; sum aggregation across cluster workers), so the
 * exposition text is the same.
 */
export class CallTimeHistogram {
  readonly type = HISTOGRAM;
  readonly aggregator = 'sum';
  private readonly all = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label combination (values in `labelNames` order), created on first use. */
  series(...values: string[]): HistogramSeries {
    const id = values.join('\0');
    let series = this.all.get(id);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? '';
      });
      series = new HistogramSeries(labels, this.bounds);
      this.all.set(id, series);
    }
    return series;
  }

  reset(): void {
    this.all.clear();
  }

  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.all.values()) {
      const { labels } = series;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.buckets[i]!;
        values.push({ metricName: bucket, labels: { le: this.bounds[i]!, ...labels }, value: cumulative });
      }
      values.push({ metricName: bucket, labels: { le: '+Inf', ...labels }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: HISTOGRAM,
      values,
      aggregator: this.aggregator,
      collect: () => {},
    });
  }
}
