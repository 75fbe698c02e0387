import type { MetricsSnapshot } from './service-metrics.js';

/**
 * The running totals of this process under envoyproxy/ratelimit's gostats
 * names (reference §7.3), read from the Prometheus registry's JSON: per rule
 * `ratelimit.service.rate_limit.<statKey>.<stat>`, the service's
 * `ratelimit.service.*` and the gRPC server's `ratelimit_server.<Method>.*`.
 */
export interface StatsdTotals {
  /** Counter name → running total. */
  readonly counters: Map<string, number>;
  /** Timer name → running sum (ms) and count of observations. */
  readonly timers: Map<string, { sumMs: number; count: number }>;
}

const RULE_STATS: Readonly<Record<string, string>> = {
  ratelimit_service_rate_limit_total_hits: 'total_hits',
  ratelimit_service_rate_limit_over_limit: 'over_limit',
  ratelimit_service_rate_limit_near_limit: 'near_limit',
  ratelimit_service_rate_limit_within_limit: 'within_limit',
  ratelimit_service_rate_limit_shadow_mode: 'shadow_mode',
};

const RESPONSE_TIME = 'ratelimit_service_response_time_seconds';

/** Maps one snapshot (ServiceMetrics.snapshot()) to the reference's statsd names. */
export function statsdTotals(snapshot: MetricsSnapshot): StatsdTotals {
  const counters = new Map<string, number>();
  const timers = new Map<string, { sumMs: number; count: number }>();
  const add = (name: string, value: number) => counters.set(name, (counters.get(name) ?? 0) + value);
  for (const metric of snapshot) {
    const suffix = RULE_STATS[metric.name];
    for (const { labels, value, metricName } of metric.values as readonly SnapshotValue[]) {
      if (suffix !== undefined) {
        add(`ratelimit.service.rate_limit.${statKey(labels)}.${suffix}`, value);
        continue;
      }
      switch (metric.name) {
        case 'ratelimit_service_domain_not_found':
          add(`ratelimit.service.rate_limit.${String(labels.domain)}.domain_not_found`, value);
          break;
        case 'ratelimit_service_config_load_success':
          add('ratelimit.service.config_load_success', value);
          break;
        case 'ratelimit_service_config_load_error':
          add('ratelimit.service.config_load_error', value);
          break;
        // the reference has two: a backend failure, and anything else (bad request, no config …)
        case 'ratelimit_service_should_rate_limit_error':
          add(
            `ratelimit.service.call.should_rate_limit.${labels.err_type === 'redis_error' ? 'redis_error' : 'service_error'}`,
            value,
          );
          break;
        case 'ratelimit_service_total_requests':
          add(`ratelimit_server.${String(labels.grpc_method)}.total_requests`, value);
          break;
        case RESPONSE_TIME: {
          const name = `ratelimit_server.${String(labels.grpc_method)}.response_time`;
          const timer = timers.get(name) ?? { sumMs: 0, count: 0 };
          if (metricName === `${RESPONSE_TIME}_sum`) timer.sumMs += value * 1000;
          else if (metricName === `${RESPONSE_TIME}_count`) timer.count += value;
          timers.set(name, timer);
          break;
        }
      }
    }
  }
  return { counters, timers };
}

interface SnapshotValue {
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly value: number;
  readonly metricName?: string;
}

/** `domain.key1[.key2]`: the reference's statKey, from the labels stat-labels.ts made of it. */
function statKey(labels: SnapshotValue['labels']): string {
  let key = String(labels.domain ?? '');
  for (const part of [labels.key1, labels.key2]) {
    if (part !== undefined && part !== '') key += `.${String(part)}`;
  }
  return key;
}

/**
 * gostats' tag serialisation for plain statsd: `name.__k=v` per tag, sorted by
 * key, `.`, `:` and `|` in values replaced by `_` (lyft/gostats internal/tags).
 */
export function gostatsTaggedName(name: string, tags: readonly (readonly [string, string])[]): string {
  let out = name;
  for (const [key, value] of tags) out += `.__${key}=${value.replace(/[.:|]/g, '_')}`;
  return out;
}
