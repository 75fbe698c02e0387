import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { HealthImplementation } from 'grpc-health-check';
import { AdaptiveEngine } from './adaptive/adaptive-engine.js';
import { type SignalApi, SignalRateBound } from './adaptive/signals/signal-gate.js';
import { type Settings, serviceOptionsOf } from './config/settings/settings.js';
import { workerConfigLoader } from './config/source/config-loader.js';
import { ConfigSource, type LoadOutcome } from './config/source/config-source.js';
import type { RulesSource } from './config/source/rules-source.js';
import { XdsConfigSource } from './config/xds/xds-config-source.js';
import { guardHttpServer, httpServerOptions } from './connections/http-limits.js';
import { createPortGuards } from './connections/port-guards.js';
import type { Clock } from './core/clock.js';
import { InitialConfigError } from './core/errors.js';
import { connectionCallTracking } from './grpc/call-tracking.js';
import { clientSanCheck } from './grpc/client-san.js';
import { createGrpcListener } from './grpc/grpc-listener.js';
import { createGrpcServer } from './grpc/grpc-server.js';
import { ReloadingServerCredentials } from './grpc/tls-credentials.js';
import { type BackendStatus, healthDetail } from './health/health-detail.js';
import { HealthState } from './health/health-state.js';
import { createDebugServer } from './http/debug-server.js';
import { createHttpServer } from './http/http-server.js';
import type { Logger } from './log/logger.js';
import { accessLogMetrics, adaptiveMetrics } from './metrics/adaptive-metrics.js';
import { exportConnectionMetrics } from './metrics/connection-metrics.js';
import { exportResilienceMetrics } from './metrics/resilience-metrics.js';
import { type MetricsExposition, ServiceMetrics } from './metrics/service-metrics.js';
import { StatsdSink } from './metrics/statsd-sink.js';
import { closeHttp, listen, shutdownGrpc } from './server-lifecycle.js';
import { decoratedRules } from './service/decorated-rules.js';
import { RateLimitService } from './service/rate-limit-service.js';
import { type Backend, createStoreBackend, type ReadyListener } from './storage/backend.js';
import type { CounterStore } from './storage/counter-store.js';
import { createMemoryBackend } from './storage/memory-backend.js';
import { LocalOverLimitCache } from './storage/over-limit-cache.js';
import { createRedisBackend } from './storage/redis/redis-backend.js';
import { ResilientCounterStore } from './storage/resilient-store.js';
import { TimedCounterStore } from './storage/timed-store.js';
import { createTracing } from './tracing/create-tracing.js';
import { TracingCounterStore } from './tracing/tracing-store.js';

export interface ListeningPorts {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly debugPort: number;
}

export interface App {
  readonly health: HealthState;
  /** Files (CONFIG_TYPE=FILE) or the xDS client (CONFIG_TYPE=GRPC_XDS_SOTW). */
  readonly configSource: RulesSource;
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

  // 1. Store pipeline: backend → timed → resilient → over-limit cache → traced.
  //    Only a remote backend (Redis) is timed and guarded; memory and an injected store answer in process.
  const backend = createBackend(settings, deps, (ready) => health.setBackendReady(ready));
  const guarded = backend.remote
    ? guardRemote(backend, settings, deps, metrics)
    : unguarded(backend, metrics);
  const store = tracing === undefined ? guarded.store : new TracingCounterStore(guarded.store, tracing);

  // 2. Rules pipeline: config source → adaptive engine (effective limits) → service.
  //    The engine shares factors and penalties through the backend (Redis: every replica).
  const adaptive = new AdaptiveEngine({
    state: backend.adaptiveState(),
    clock,
    logger,
    metrics: adaptiveMetrics(metrics.registry),
  });
  const onLoaded = (outcome: LoadOutcome): void => {
    (outcome.ok ? metrics.configLoadSuccess : metrics.configLoadError).inc();
    if (!outcome.ok) return;
    health.setConfigDomains(outcome.config.domains().length);
    adaptive.configure(outcome.config.adaptiveControllers());
  };
  const configSource: RulesSource =
    settings.xds !== undefined
      ? new XdsConfigSource({
          settings: settings.xds,
          mergeDomains: settings.mergeDomainConfig,
          limits: settings.configLoad.limits,
          // validated in a worker thread like a file load: answers go on from the last config
          loader: workerConfigLoader(settings.configLoad),
          logger,
          onLoaded,
        })
      : new ConfigSource({
          roots: [...settings.configPaths],
          ignoreDotfiles: settings.runtimeIgnoreDotfiles,
          mergeDomains: settings.mergeDomainConfig,
          // parsed and validated in a worker thread: answers go on from the last config meanwhile
          loader: workerConfigLoader(settings.configLoad),
          limits: settings.configLoad.limits,
          logger,
          debounceMs: settings.configReloadDebounceMs,
          onLoaded,
        });
  const rules = decoratedRules(() => configSource.current(), adaptive.decorate);

  // 3. Observers: every decision and failure goes to each, in order (per-rule metrics; abuse detection).
  const observers = [metrics.ruleStats(settings.nearLimitRatio), adaptive];

  const service = new RateLimitService({
    rules,
    store,
    clock,
    observers,
    options: serviceOptionsOf(settings),
  });
  // 4. Signals into the adaptive engine: POST /v1/signals and SignalService (one rate bound), Envoy's access logs.
  const signals: SignalApi = {
    sink: adaptive,
    token: settings.signals.token,
    limits: settings.signals.limits,
    rate: new SignalRateBound(settings.signals.maxPerSecond, clock),
    onOutcome: (source, outcome) => metrics.signal(source, outcome),
  };
  const accessLog = {
    sink: adaptive,
    limits: settings.signals.accessLog,
    onSummary: accessLogMetrics(metrics.registry),
    onUnexpectedError: (error: unknown) => logger.error({ err: error }, 'access log stream failed'),
  };

  // 5. Listeners: each port's connections under a guard (cap, eviction, handshake deadline).
  const guards = createPortGuards(settings.connections, clock, logger);
  exportConnectionMetrics(metrics, guards);
  const tls = settings.grpcTls;
  const grpcCredentials =
    tls &&
    new ReloadingServerCredentials(tls, {
      logger,
      handshakeTimeoutMs: settings.connections.handshakeTimeoutMs,
    });
  const grpcServer = createGrpcServer({
    handler: service,
    health: grpcHealth,
    logger,
    maxConnectionAgeMs: settings.grpcMaxConnectionAgeMs,
    maxConnectionAgeGraceMs: settings.grpcMaxConnectionAgeGraceMs,
    maxConnectionIdleMs: settings.connections.grpcMaxConnectionIdleMs,
    maxConcurrentStreams: settings.connections.grpcMaxConcurrentStreams,
    // the SAN check last, i.e. outermost: the call tracking sees the status it sends
    interceptors: [
      connectionCallTracking(guards.grpc),
      ...(tls?.clientSan === undefined ? [] : [clientSanCheck(tls.clientSan)]),
    ],
    onCall: (method, seconds) => metrics.grpcCall(method, seconds),
    tracing,
    requestLimits: settings.requestLimits,
    signals,
    accessLog,
  });
  const grpcListener = createGrpcListener(grpcServer, guards.grpc, grpcCredentials);
  const serverOptions = httpServerOptions(settings.connections);
  const podExpose = deps.podMetrics?.(metrics);
  const httpServer = createHttpServer({
    handler: service,
    authOverLimitStatus: settings.authOverLimitStatus,
    requestLimits: settings.requestLimits,
    isServing: () => health.isServing(),
    healthDetail: () => healthDetail(health, guarded.status(), configSource.current()?.domains().length),
    logger,
    metrics:
      podExpose === undefined
        ? metrics
        : { expose: podExpose, httpCall: (route, code, seconds) => metrics.httpCall(route, code, seconds) },
    serverOptions,
    signals,
  });
  guardHttpServer(httpServer, guards.http);
  const debugServer = createDebugServer({
    describeConfig: () => {
      const config = configSource.current();
      return config === undefined
        ? undefined
        : adaptive.describe(config.describe(), [...config.adaptiveControllers().keys()]);
    },
    adaptive: () => adaptive.view(),
    serverOptions,
  });
  guardHttpServer(debugServer, guards.debug);
  health.onChange((serving) =>
    logger.info({ serving, reasons: health.reasons() }, serving ? 'health: SERVING' : 'health: NOT_SERVING'),
  );

  // USE_STATSD / USE_DOG_STATSD: the same totals /metrics serves, pushed once per STATS_FLUSH_INTERVAL
  const statsd =
    settings.stats.sink === undefined
      ? undefined
      : new StatsdSink(settings.stats.sink, () => metrics.snapshot(), logger);

  return {
    health,
    configSource,
    async start() {
      if (settings.xds === undefined) {
        const outcome = await configSource.load();
        if (!outcome.ok && !settings.forceStartWithoutInitialConfig)
          throw new InitialConfigError(outcome.problems, outcome.problemCount);
        if (!outcome.ok) logger.warn('starting without a valid config (FORCE_START_WITHOUT_INITIAL_CONFIG)');
      } else if (!settings.forceStartWithoutInitialConfig) {
        // as the reference: wait for the management server's first response; a rejected one
        // (NACKed) does not stop the start, a later push may fix it
        logger.info('waiting for the first rate limit config from the xDS management server');
        const outcome = await configSource.load();
        if (!outcome.ok) logger.warn('starting without a valid config: the first xDS config was rejected');
      }
      configSource.watch();
      await backend.start();
      adaptive.start();
      statsd?.start();
      grpcCredentials?.watch();
      const ports = {
        grpcPort: await listen(grpcListener, settings.grpcHost, settings.grpcPort),
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
        shutdownGrpc(grpcServer, grpcListener, settings.shutdownGraceMs),
        closeHttp(httpServer, settings.shutdownGraceMs),
        closeHttp(debugServer, settings.shutdownGraceMs),
      ]);
      for (const guard of Object.values(guards)) guard.stop();
      grpcCredentials?.close();
      await configSource.close();
      await adaptive.stop();
      await store.close();
      await backend.stop();
      // the last interval's counts, then the socket closes
      await statsd?.close();
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
      keyPrefix: settings.cacheKeyPrefix,
      logFields: { failureMode, localCacheEntries },
    });
  }
  return createMemoryBackend({ stopIncrementWhenOverLimit, clock, logger, setReady });
}

/** A store and what /healthcheck?detail says about it. */
interface GuardedStore {
  readonly store: CounterStore;
  status(): BackendStatus;
}

function unguarded(backend: Backend, metrics: ServiceMetrics): GuardedStore {
  // backend_connected is 0 until set: an in-process store is always "connected" (else the
  // RateLimitBackendDisconnected alert would fire on every memory-backend instance)
  metrics.beforeScrape(() => metrics.backendConnected.set(backend.status().connected ? 1 : 0));
  return { store: backend.store, status: () => backend.status() };
}

/**
 * A remote backend's decorators, inside out: timed (backend call histogram),
 * resilient (BACKEND_TIMEOUT, CIRCUIT_BREAKER_*, FAILURE_MODE), then the local
 * over-limit cache when LOCAL_CACHE_* sizes it.
 */
function guardRemote(
  backend: Backend,
  settings: Settings,
  deps: AppDeps,
  metrics: ServiceMetrics,
): GuardedStore {
  const { resilience } = settings;
  const stopIncrementWhenOverLimit = settings.stopCacheKeyIncrementWhenOverlimit;
  const timed = new TimedCounterStore(backend.store, (kind, outcome, seconds) =>
    metrics.backendCall(kind, outcome, seconds),
  );
  const resilient = new ResilientCounterStore({
    primary: timed,
    clock: deps.clock,
    failureMode: resilience.failureMode,
    timeoutMs: resilience.backendTimeoutMs,
    breaker: resilience.breaker,
    stopIncrementWhenOverLimit,
    logger: deps.logger,
  });
  const cache =
    resilience.localCacheEntries > 0
      ? new LocalOverLimitCache({
          inner: resilient,
          maxEntries: resilience.localCacheEntries,
          stopIncrementWhenOverLimit,
        })
      : undefined;
  // Redis became reachable again: the breaker probes at once instead of waiting out its backoff
  backend.onUp(() => resilient.backendReady());
  exportResilienceMetrics(metrics, resilient, cache, () => backend.status().connected);
  return {
    store: cache ?? resilient,
    status: () => ({
      ...backend.status(),
      circuit: resilient.breakerState(),
      failureMode: resilient.failureMode,
    }),
  };
}
