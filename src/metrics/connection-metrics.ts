import type { GuardReason } from '../connections/connection-guard.js';
import type { PortGuards } from '../connections/port-guards.js';
import type { ServiceMetrics } from './service-metrics.js';

const REASONS: readonly GuardReason[] = ['refused', 'evicted', 'handshake_timeout'];

/**
 * Pull-based, as the resilience metrics: each port's ConnectionGuard keeps its
 * counts; Prometheus copies them at scrape time. `guards` are the ports' (grpc, http, debug). Part of the composition root.
 */
export function exportConnectionMetrics(metrics: ServiceMetrics, guards: PortGuards): void {
  metrics.beforeScrape(() => {
    for (const [port, guard] of Object.entries(guards) as [string, PortGuards['grpc']][]) {
      const { open, closed } = guard.stats();
      metrics.connectionsOpen.set({ port }, open);
      for (const reason of REASONS) {
        metrics.syncTotal(metrics.connectionsClosed, closed[reason], { port, reason });
      }
    }
  });
}
