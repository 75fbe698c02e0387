import type { Settings } from './config/settings/settings.js';
import type { Clock } from './core/clock.js';
import { BackendUnavailableError } from './core/errors.js';
import type { BackendStatus } from './health/health-detail.js';
import type { HealthState } from './health/health-state.js';
import type { Logger } from './log/logger.js';
import type { ServiceMetrics } from './metrics/service-metrics.js';
import type { CounterCheck, CounterDecision, CounterStore } from './storage/counter-store.js';
import { MemoryCounterStore } from './storage/memory-store.js';
import { LocalOverLimitCache } from './storage/over-limit-cache.js';
import { createRedisClient, type RedisConnection } from './storage/redis/redis-connection.js';
import { RedisCounterStore } from './storage/redis/redis-store.js';
import { ResilientCounterStore } from './storage/resilient-store.js';
import type { Tracing } from './tracing/tracing.js';
import { TracingCounterStore } from './tracing/tracing-store.js';

/** The store the service uses, and its lifecycle. Part of the composition root. */
export interface Backend {
  readonly store: CounterStore;
  /** Called before the listeners open; Redis connects in the background (health says when it is ready). */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): BackendStatus;
}

export interface BackendDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly health: HealthState;
  readonly metrics: ServiceMetrics;
  /** Replaces the backend chosen by settings (tests). */
  readonly store?: CounterStore | undefined;
  /** The backend can never become ready (credentials refused, startup time exhausted). */
  readonly onFatal?: ((error: Error) => void) | undefined;
  /** When set (tracing on), every store call gets a `backend apply` span; undefined leaves the store as is. */
  readonly tracing?: Tracing | undefined;
}

/**
 * memory, or Redis wrapped as: LocalOverLimitCache (when sized) →
 * ResilientCounterStore (time budget, circuit breaker, FAILURE_MODE) →
 * RedisCounterStore. Health follows what the chosen failure mode can answer.
 */
export function createBackend(settings: Settings, deps: BackendDeps): Backend {
  const backend = createUntracedBackend(settings, deps);
  if (deps.tracing === undefined) return backend;
  return {
    store: new TracingCounterStore(backend.store, deps.tracing),
    start: () => backend.start(),
    stop: () => backend.stop(),
    status: () => backend.status(),
  };
}

function createUntracedBackend(settings: Settings, deps: BackendDeps): Backend {
  const { logger, clock, health } = deps;
  if (deps.store !== undefined) {
    const store = deps.store;
    return {
      store,
      start: async () => health.setBackendReady(store.isReady()),
      stop: () => store.close(),
      status: () => ({ kind: store.kind, warm: true, connected: store.isReady() }),
    };
  }
  const redis = settings.redis;
  if (settings.backend === 'memory' || redis === undefined) {
    // the clock lets the store sweep expired windows on a timer even when no traffic arrives
    const store = new MemoryCounterStore({
      stopIncrementWhenOverLimit: settings.stopCacheKeyIncrementWhenOverlimit,
      clock,
    });
    return {
      store,
      async start() {
        logger.warn(
          'backend memory: limits are counted per instance, NOT shared across replicas; set REDIS_URL (or BACKEND_TYPE=redis) for global limits',
        );
        health.setBackendReady(store.isReady());
      },
      stop: () => store.close(),
      status: () => ({ kind: 'memory', warm: true, connected: true }),
    };
  }
  // The service needs its store now; the Redis store is built in start() (TLS files and scripts are read async).
  let redisStore: RedisCounterStore | undefined;
  const lazyRedis: CounterStore = {
    kind: 'redis',
    apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
      if (redisStore === undefined)
        return Promise.reject(new BackendUnavailableError('redis backend not started'));
      const started = performance.now();
      const observe = (outcome: 'ok' | 'error') =>
        deps.metrics.backendCall('redis', outcome, (performance.now() - started) / 1000);
      return redisStore.apply(checks, nowMs).then(
        (decisions) => {
          observe('ok');
          return decisions;
        },
        (error: unknown) => {
          observe('error');
          throw error;
        },
      );
    },
    isReady: () => redisStore?.isReady() ?? false,
    close: async () => redisStore?.close(),
  };
  const { resilience } = settings;
  const resilient = new ResilientCounterStore({
    primary: lazyRedis,
    clock,
    failureMode: resilience.failureMode,
    timeoutMs: resilience.backendTimeoutMs,
    breaker: resilience.breaker,
    stopIncrementWhenOverLimit: settings.stopCacheKeyIncrementWhenOverlimit,
    logger,
  });
  const cacheEntries = resilience.localCacheEntries;
  const cache =
    cacheEntries > 0
      ? new LocalOverLimitCache({
          inner: resilient,
          maxEntries: cacheEntries,
          stopIncrementWhenOverLimit: settings.stopCacheKeyIncrementWhenOverlimit,
        })
      : undefined;

  let stopping = false;
  /** Every connection was up and warm at least once: health waits for this (a warm start). */
  let warm = false;
  const connections: RedisConnection[] = [];
  /** Connections that are ready and have the script loaded. */
  const up = new Set<RedisConnection>();
  const allUp = () => connections.length > 0 && up.size === connections.length;
  // Health as the reference's: up once warm; a later outage counts only with
  // REDIS_HEALTH_CHECK_ACTIVE_CONNECTION (a restart never fixes Redis).
  const updateHealth = () => health.setBackendReady(warm && (allUp() || !redis.healthCheckActiveConnection));
  exportResilienceMetrics(deps.metrics, resilient, cache, allUp);

  /** A connection reported ready: load the script on it, then count it up and let the breaker probe. */
  const warmUp = (connection: RedisConnection, store: RedisCounterStore) => {
    store.warmUp(connection.client).then(
      () => markUp(connection),
      (error: Error) => {
        // calls still work (EVALSHA falls back to EVAL); a broken connection shows there
        logger.warn({ error: error.message, redis: connection.description }, 'redis: SCRIPT LOAD failed');
        markUp(connection);
      },
    );
  };
  const markUp = (connection: RedisConnection) => {
    if (stopping || connection.client.status !== 'ready') return;
    up.add(connection);
    if (!allUp()) return;
    if (!warm) logger.info('backend redis: connected and warm');
    warm = true;
    resilient.backendReady();
    updateHealth();
  };
  return {
    store: cache ?? resilient,
    async start() {
      for (const endpoint of redis.perSecond === undefined ? [redis.main] : [redis.main, redis.perSecond]) {
        connections.push(await createRedisClient(redis, logger, endpoint));
      }
      const [main, perSecond] = connections as [RedisConnection, RedisConnection | undefined];
      const store = await RedisCounterStore.create({
        client: main.client,
        perSecondClient: perSecond?.client,
        expirationJitterMaxSeconds: redis.expirationJitterMaxSeconds,
        stopIncrementWhenOverLimit: settings.stopCacheKeyIncrementWhenOverlimit,
        clockSource: 'redis',
      });
      redisStore = store;
      for (const connection of connections) {
        connection.onStateChange((state) => {
          if (state === 'ready') return warmUp(connection, store);
          up.delete(connection);
          updateHealth();
        });
        connection.connect().catch((error: Error) => {
          if (stopping) return;
          logger.fatal({ error: error.message }, 'redis backend cannot start');
          deps.onFatal?.(error);
        });
      }
      logger.info(
        {
          redis: connections.map((c) => c.description),
          failureMode: resilience.failureMode,
          localCacheEntries: cacheEntries,
        },
        'backend redis: connecting',
      );
    },
    async stop() {
      stopping = true;
      await (cache ?? resilient).close();
      await Promise.all(connections.map((connection) => connection.close()));
    },
    status: () => ({
      kind: 'redis',
      warm,
      connected: allUp(),
      circuit: resilient.breakerState(),
      failureMode: resilience.failureMode,
    }),
  };
}

/** Pull-based: the stores keep their own counts and state; Prometheus copies them at scrape time. */
function exportResilienceMetrics(
  metrics: ServiceMetrics,
  resilient: ResilientCounterStore,
  cache: LocalOverLimitCache | undefined,
  connected: () => boolean,
): void {
  metrics.beforeScrape(() => {
    // read now, not on transitions: an open period shorter than a scrape interval is
    // also counted in circuit_opened_total
    metrics.circuitState.set(resilient.breakerState() === 'closed' ? 0 : 1);
    metrics.backendConnected.set(connected() ? 1 : 0);
    const stats = resilient.stats();
    metrics.syncTotal(metrics.circuitOpenings, stats.circuitOpenings);
    metrics.syncTotal(metrics.backendErrors, stats.primaryFailures, { backend: 'redis', reason: 'error' });
    metrics.syncTotal(metrics.backendErrors, stats.primaryTimeouts, { backend: 'redis', reason: 'timeout' });
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
