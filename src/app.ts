import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { HealthImplementation } from 'grpc-health-check';
import { buildConfig } from './config/rules/build-config.js';
import { type Settings, serviceOptionsOf } from './config/settings/settings.js';
import { ConfigSource } from './config/source/config-source.js';
import type { Clock } from './core/clock.js';
import { InitialConfigError } from './core/errors.js';
import { undecorated } from './core/rule-set.js';
import { createGrpcServer } from './grpc/grpc-server.js';
import { type BackendStatus, healthDetail } from './health/health-detail.js';
import { HealthState } from './health/health-state.js';
import { createDebugServer } from './http/debug-server.js';
import { createHttpServer } from './http/http-server.js';
import type { Logger } from './log/logger.js';
import { type MetricsExposition, ServiceMetrics } from './metrics/service-metrics.js';
import { exportResilienceMetrics } from './resilience-metrics.js';
import { bindGrpc, closeHttp, listen, shutdownGrpc } from './server-lifecycle.js';
import { decoratedRules } from './service/decorated-rules.js';
import { RateLimitService } from './service/rate-limit-service.js';
import { type Backend, createStoreBackend, type ReadyListener } from './storage/backend.js';
import type { CounterStore } from './storage/counter-store.js';
import { createMemoryBackend } from './storage/memory-backend.js';
import { LocalOverLimitCache } from './storage/over-limit-cache.js';
import { createRedisBackend } from './storage/redis/redis-backend.js';
import { ResilientCounterStore, type ResilientCounterStoreOptions } from './storage/resilient-store.js';
import { type CallTimer, TimedCounterStore } from './storage/timed-store.js';
import { createTracing } from './tracing/create-tracing.js';
import { TracingCounterStore } from './tracing/tracing-store.js';

export interface ListeningPorts {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly debugPort: number;
}

export interface App {
  readonly health: HealthState;
  readonly configSource: ConfigSource;
  /** Loads the config, starts watching it, binds the three listeners. */
  start(): Promise<ListeningPorts>;
  /** Graceful stop: NOT_SERVING, refuse new calls, let in-flight ones finish within the grace period. */
  stop(): Promise<void>;
}

export interface AppDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Replaces the backend chosen by settings (tests use it to slow or break the store). */
  readonly store?: CounterStore | undefined;
  /**
   * The backend can never become ready: Redis refused the credentials, or
   * REDIS_STARTUP_MAX_ELAPSED_TIME passed. The CLI should exit non-zero (as
   * the reference does); without it the app logs at fatal and stays NOT_SERVING.
   */
  readonly onFatal?: ((error: Error) => void) | undefined;
  /** With tracing on, replaces the batch processor + OTLP exporter (tests inject an in-memory exporter). */
  readonly spanProcessor?: SpanProcessor | undefined;
  /**
   * Under --workers N: given this process's metrics, returns what GET /metrics
   * serves instead, the whole pod's (workers/worker-link.ts). Unset: this
   * process's own.
   */
  readonly podMetrics?: ((local: ServiceMetrics) => () => Promise<MetricsExposition>) | undefined;
}

/** Composition root: builds every part from settings and wires them; nothing here reads env or argv. */
export function createApp(settings: Settings, deps: AppDeps): App {
  const { logger, clock } = deps;
  // grpc.health.v1, served by the gRPC server; HealthState publishes every change to it
  const grpcHealth = new HealthImplementation();
  const health = new HealthState(grpcHealth, { requireConfig: settings.healthyWithAtLeastOneConfigLoaded });
  const metrics = new ServiceMetrics();
  const tracing = createTracing(settings.tracing, { spanProcessor: deps.spanProcessor });

  const backend = createBackend(settings, deps, (ready) => health.setBackendReady(ready));
  // Store pipeline: backend → timed → resilient → over-limit cache → traced.
  // Only a remote backend (Redis) is timed and guarded, and cached when
  // LOCAL_CACHE_* sizes the cache; memory and an injected store are not.
  // Tracing wraps whatever is below it when TRACING_ENABLED.
  const timed = backend.remote ? new TimedCounterStore(backend.store, timeBackendCall(metrics)) : undefined;
  const resilient = timed && new ResilientCounterStore(resilientOptions(timed, settings, deps));
  const cache =
    resilient && settings.resilience.localCacheEntries > 0 ? overLimitCache(resilient, settings) : undefined;
  const guarded = cache ?? resilient ?? backend.store;
  const store = tracing === undefined ? guarded : new TracingCounterStore(guarded, tracing);
  if (resilient !== undefined) {
    backend.onUp(() => resilient.backendReady());
    exportResilienceMetrics(metrics, resilient, cache, () => backend.status().connected);
  }
  const backendStatus = (): BackendStatus =>
    resilient === undefined
      ? backend.status()
      : { ...backend.status(), circuit: resilient.breakerState(), failureMode: resilient.failureMode };

  const configSource = new ConfigSource({
    roots: [...settings.configPaths],
    ignoreDotfiles: settings.runtimeIgnoreDotfiles,
    mergeDomains: settings.mergeDomainConfig,
    build: buildConfig,
    logger,
    debounceMs: settings.configReloadDebounceMs,
    onLoaded: (outcome) => {
      (outcome.ok ? metrics.configLoadSuccess : metrics.configLoadError).inc();
      if (outcome.ok) health.setConfigDomains(outcome.config.domains().length);
    },
  });
  // rules pipeline: config source → RuleSet decorator (the adaptive module's slot; none yet) → service
  const service = new RateLimitService({
    rules: decoratedRules(() => configSource.current(), undecorated),
    store,
    clock,
    observers: [metrics.ruleStats(settings.nearLimitRatio)],
    options: serviceOptionsOf(settings),
  });
  const grpcServer = createGrpcServer({
    handler: service,
    health: grpcHealth,
    logger,
    maxConnectionAgeMs: settings.grpcMaxConnectionAgeMs,
    maxConnectionAgeGraceMs: settings.grpcMaxConnectionAgeGraceMs,
    onCall: (method, seconds) => metrics.grpcCall(method, seconds),
    tracing,
  });
  const podExpose = deps.podMetrics?.(metrics);
  const httpServer = createHttpServer({
    handler: service,
    authOverLimitStatus: settings.authOverLimitStatus,
    isServing: () => health.isServing(),
    healthDetail: () => healthDetail(health, backendStatus(), configSource.current()?.domains().length),
    logger,
    metrics:
      podExpose === undefined
        ? metrics
        : { expose: podExpose, httpCall: (route, code, seconds) => metrics.httpCall(route, code, seconds) },
  });
  const debugServer = createDebugServer({ describeConfig: () => configSource.current()?.describe() });
  health.onChange((serving) =>
    logger.info({ serving, reasons: health.reasons() }, serving ? 'health: SERVING' : 'health: NOT_SERVING'),
  );

  return {
    health,
    configSource,
    async start() {
      const outcome = await configSource.load();
      if (!outcome.ok && !settings.forceStartWithoutInitialConfig)
        throw new InitialConfigError(outcome.problems);
      if (!outcome.ok) logger.warn('starting without a valid config (FORCE_START_WITHOUT_INITIAL_CONFIG)');
      configSource.watch();
      await backend.start();
      const ports = {
        grpcPort: await bindGrpc(grpcServer, settings.grpcHost, settings.grpcPort),
        httpPort: await listen(httpServer, settings.httpHost, settings.httpPort),
        debugPort: await listen(debugServer, settings.debugHost, settings.debugPort),
      };
      logger.info({ ...ports, backend: store.kind }, 'listening');
      return ports;
    },
    async stop() {
      health.setDraining();
      logger.info({ graceMs: settings.shutdownGraceMs }, 'shutting down: finishing in-flight calls');
      await Promise.all([
        shutdownGrpc(grpcServer, settings.shutdownGraceMs),
        closeHttp(httpServer, settings.shutdownGraceMs),
        closeHttp(debugServer, settings.shutdownGraceMs),
      ]);
      await configSource.close();
      await store.close();
      await backend.stop();
      // spans of the last calls are still queued in the batch processor
      await tracing
        ?.shutdown(settings.shutdownGraceMs)
        .catch((error: Error) =>
          logger.warn({ error: error.message }, 'tracing: could not export the last spans'),
        );
      logger.info('stopped');
    },
  };
}

/** One factory per backend (BACKEND_TYPE); a test may inject a ready-made store instead. */
function createBackend(settings: Settings, deps: AppDeps, setReady: ReadyListener): Backend {
  const { logger, clock } = deps;
  const stopIncrementWhenOverLimit = settings.stopCacheKeyIncrementWhenOverlimit;
  const { failureMode, localCacheEntries } = settings.resilience;
  if (deps.store !== undefined) return createStoreBackend(deps.store, setReady);
  if (settings.redis !== undefined) {
    return createRedisBackend({
      redis: settings.redis,
      stopIncrementWhenOverLimit,
      logger,
      setReady,
      onFatal: deps.onFatal,
      logFields: { failureMode, localCacheEntries },
    });
  }
  return createMemoryBackend({ stopIncrementWhenOverLimit, clock, logger, setReady });
}

/** The backend call histogram, by backend kind and outcome. */
function timeBackendCall(metrics: ServiceMetrics): CallTimer {
  return (kind, outcome, seconds) => metrics.backendCall(kind, outcome, seconds);
}

/** BACKEND_TIMEOUT, CIRCUIT_BREAKER_* and FAILURE_MODE around `primary`. */
function resilientOptions(
  primary: CounterStore,
  settings: Settings,
  deps: AppDeps,
): ResilientCounterStoreOptions {
  const { resilience } = settings;
  return {
    primary,
    clock: deps.clock,
    failureMode: resilience.failureMode,
    timeoutMs: resilience.backendTimeoutMs,
    breaker: resilience.breaker,
    stopIncrementWhenOverLimit: settings.stopCacheKeyIncrementWhenOverlimit,
    logger: deps.logger,
  };
}

/** LOCAL_CACHE_SIZE_IN_BYTES / LOCAL_CACHE_ENTRIES: over-limit answers kept in front of `inner`. */
function overLimitCache(inner: CounterStore, settings: Settings): LocalOverLimitCache {
  return new LocalOverLimitCache({
    inner,
    maxEntries: settings.resilience.localCacheEntries,
    stopIncrementWhenOverLimit: settings.stopCacheKeyIncrementWhenOverlimit,
  });
}
