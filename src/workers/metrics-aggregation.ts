import { AggregatorRegistry } from 'prom-client';
import type { MetricsExposition, MetricsSnapshot } from '../metrics/service-metrics.js';
import type { PrimaryMessage } from './messages.js';

/** What the aggregation needs of a worker (node:cluster's Worker has it). */
export interface MetricsSource {
  readonly id: number;
  send(message: PrimaryMessage): boolean;
  isConnected(): boolean;
}

interface Collection {
  readonly pending: Set<number>;
  readonly snapshots: MetricsSnapshot[];
  readonly timer: NodeJS.Timeout;
  settle(error: Error | undefined): void;
}

/**
 * The primary's half of a pod-wide scrape: asks every listening worker for
 * its metrics (JSON, over cluster IPC), merges them with prom-client's
 * `AggregatorRegistry.aggregate` (each metric's `aggregator`: sum unless it
 * says otherwise) and returns the Prometheus text.
 *
 * Why not `AggregatorRegistry#clusterMetrics()`: its worker side answers from
 * prom-client's module-wide registry list and skips our scrape hooks (the
 * Redis error counts are copied into counters only at scrape time), and it
 * asks every connected worker, including one still starting that cannot
 * answer yet. A worker that exits during a collection is left out (its counts
 * end with it, as a restarted pod's do); one that does not answer within
 * `timeoutMs` fails the scrape rather than returning a total that drops.
 */
export class PodMetricsAggregation {
  private nextId = 0;
  private readonly collections = new Map<number, Collection>();

  constructor(private readonly timeoutMs: number) {}

  /** Metrics of `sources` (the workers that are listening), merged. */
  collect(sources: Iterable<MetricsSource>): Promise<MetricsExposition> {
    const id = this.nextId++;
    return new Promise<MetricsSnapshot[]>((resolve, reject) => {
      const collection: Collection = {
        pending: new Set(),
        snapshots: [],
        timer: setTimeout(() => {
          const missing = [...collection.pending].join(', ');
          collection.settle(new Error(`worker ${missing} sent no metrics within ${this.timeoutMs} ms`));
        }, this.timeoutMs),
        settle: (error) => {
          if (!this.collections.delete(id)) return;
          clearTimeout(collection.timer);
          if (error === undefined) resolve(collection.snapshots);
          else reject(error);
        },
      };
      this.collections.set(id, collection);
      for (const source of sources) {
        if (source.isConnected() && source.send({ type: 'ratelimit:metrics-collect', id })) {
          collection.pending.add(source.id);
        }
      }
      if (collection.pending.size === 0) collection.settle(undefined);
    }).then(async (snapshots) => {
      const registry = AggregatorRegistry.aggregate(snapshots);
      return { contentType: registry.contentType, body: await registry.metrics() };
    });
  }

  /** A worker's answer to collection `id`. */
  receive(
    workerId: number,
    id: number,
    metrics: MetricsSnapshot | undefined,
    error: string | undefined,
  ): void {
    const collection = this.collections.get(id);
    if (collection === undefined || !collection.pending.delete(workerId)) return;
    if (metrics === undefined) {
      collection.settle(new Error(`worker ${workerId} could not read its metrics: ${error ?? 'no reason'}`));
      return;
    }
    collection.snapshots.push(metrics);
    if (collection.pending.size === 0) collection.settle(undefined);
  }

  /** A worker exited: stop waiting for it. */
  forget(workerId: number): void {
    for (const collection of [...this.collections.values()]) {
      if (collection.pending.delete(workerId) && collection.pending.size === 0) collection.settle(undefined);
    }
  }
}
