import type { LocalOverLimitCache } from '../storage/over-limit-cache.js';
import type { ResilientCounterStore } from '../storage/resilient-store.js';
import type { ServiceMetrics } from './service-metrics.js';

/**
 * Pull-based: the stores keep their own counts and state; Prometheus copies
 * them at scrape time. `connected` says whether every backend connection is up.
 * Part of the composition root.
 */
export function exportResilienceMetrics(
  metrics: ServiceMetrics,
  resilient: ResilientCounterStore,
  cache: LocalOverLimitCache | undefined,
  connected: () => boolean,
): void {
  const backend = resilient.kind;
  // every known series shows from the start at 0, so a rate() or an alert over it returns 0
  // rather than nothing before the first error (and increase() sees the first burst)
  for (const reason of ['error', 'timeout'] as const) metrics.backendErrors.inc({ backend, reason }, 0);
  for (const mode of ['error', 'allow', 'local'] as const) metrics.degradedAnswers.inc({ mode }, 0);
  metrics.beforeScrape(() => {
    // read now, not on transitions: an open period shorter than a scrape interval is
    // also counted in circuit_opened_total
    metrics.circuitState.set(resilient.breakerState() === 'closed' ? 0 : 1);
    metrics.backendConnected.set(connected() ? 1 : 0);
    const stats = resilient.stats();
    metrics.syncTotal(metrics.circuitOpenings, stats.circuitOpenings);
    metrics.syncTotal(metrics.backendErrors, stats.primaryFailures, { backend, reason: 'error' });
    metrics.syncTotal(metrics.backendErrors, stats.primaryTimeouts, { backend, reason: 'timeout' });
    for (const mode of ['error', 'allow', 'local'] as const) {
      metrics.syncTotal(metrics.degradedAnswers, stats.degraded[mode], { mode });
    }
    if (cache !== undefined) {
      const cached = cache.stats();
      metrics.syncTotal(metrics.localCacheHits, cached.hits);
      metrics.syncTotal(metrics.localCacheMisses, cached.misses);
    }
  });
}
