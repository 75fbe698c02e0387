import { Counter, Gauge, type Registry } from 'prom-client';
import type { ControllerMetrics, ControllerMetricsFactory } from '../adaptive/controller-metrics.js';
import type { AccessLogSummary } from '../adaptive/signals/access-log-classifier.js';

/**
 * The adaptive module's series (docs/metrics.md), on the service's registry. Each
 * controller's series are bound once, so reporting from the hot path (shadow mode)
 * is one increment. Under --workers N every worker reads the same shared state, so
 * the gauges agree; `min` and `max` keep a worker that has not refreshed yet from
 * being summed in.
 */
export function adaptiveMetrics(registry: Registry): ControllerMetricsFactory {
  const labelNames = ['domain', 'controller'] as const;
  const factor = new Gauge({
    name: 'ratelimit_adaptive_factor',
    help: "An error_rate controller's factor (configured limits × factor = effective limits); computed in shadow mode too",
    labelNames,
    aggregator: 'min',
    registers: [registry],
  });
  const boxed = new Gauge({
    name: 'ratelimit_adaptive_penalized_values',
    help: "Values in an abuse controller's penalty box now",
    labelNames,
    aggregator: 'max',
    registers: [registry],
  });
  const shadowed = new Counter({
    name: 'ratelimit_adaptive_shadow_requests_total',
    help: 'Requests a shadow_mode controller would have limited more tightly (its factor < 1) and did not',
    labelNames,
    registers: [registry],
  });
  const stateErrors = new Counter({
    name: 'ratelimit_adaptive_state_errors_total',
    help: 'Refreshes or writes of the shared adaptive state that failed; the configured limits apply meanwhile (fail static)',
    labelNames,
    registers: [registry],
  });
  return (domain, controller, type): ControllerMetrics => {
    const labels = { domain, controller };
    const factorSeries = type === 'error_rate' ? factor.labels(labels) : undefined;
    const boxedSeries = type === 'abuse' ? boxed.labels(labels) : undefined;
    const shadowSeries = shadowed.labels(labels);
    const errorSeries = stateErrors.labels(labels);
    shadowSeries.inc(0);
    errorSeries.inc(0);
    return {
      factor: (value) => factorSeries?.set(value),
      boxed: (count) => boxedSeries?.set(count),
      shadowed: () => shadowSeries.inc(),
      stateError: () => errorSeries.inc(),
      remove: () => {
        for (const metric of [factor, boxed, shadowed, stateErrors]) metric.remove(labels);
      },
    };
  };
}

/**
 * Envoy access-log entries received on the gRPC port, by what the classifier made of
 * them (error, upstream429, ok: counted for the controllers whose match selects them;
 * skipped: the rate limiter's own answers, RL/RLSE). An operator whose controller sees no
 * samples starts here.
 */
export function accessLogMetrics(registry: Registry): (summary: AccessLogSummary) => void {
  const entries = new Counter({
    name: 'ratelimit_adaptive_access_log_entries_total',
    help: 'Envoy access-log entries received, by outcome (ok, error, upstream429, skipped = the rate limiter answered them itself)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const ok = entries.labels('ok');
  const error = entries.labels('error');
  const upstream429 = entries.labels('upstream429');
  const skipped = entries.labels('skipped');
  // from the start at 0: a dashboard's rate() shows 0 before the first entry, not nothing
  for (const series of [ok, error, upstream429, skipped]) series.inc(0);
  return (summary) => {
    let total = 0;
    let errors = 0;
    let tooMany = 0;
    for (const sample of summary.samples) {
      total += sample.total;
      errors += sample.errors;
      tooMany += sample.upstream429;
    }
    if (total - errors - tooMany > 0) ok.inc(total - errors - tooMany);
    if (errors > 0) error.inc(errors);
    if (tooMany > 0) upstream429.inc(tooMany);
    if (summary.skipped > 0) skipped.inc(summary.skipped);
  };
}
