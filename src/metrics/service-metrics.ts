import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SIGNAL_REQUEST_OUTCOMES, SIGNAL_SOURCES } from '../adaptive/signals/signal-gate.js';
import { CallTimeHistogram, type HistogramSeries } from './call-time-histogram.js';
import { RuleStats } from './rule-stats.js';

/**
 * The service's Prometheus metrics, on their own registry (never prom-client's
 * global one). Names follow the reference's Prometheus mapping where one
 * exists (`ratelimit_service_*`). Served at GET /metrics on the HTTP port.
 *
 * Under --workers N each worker process keeps its own; the primary merges them
 * with prom-client's AggregatorRegistry by each metric's `aggregator`: counters
 * and histograms sum (the default), every gauge must name its own (a test
 * checks), see docs/workers.md.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  // every worker loads the same files on the same events: one reload is one event for the pod, not N
  readonly configLoadSuccess = new Counter({
    name: 'ratelimit_service_config_load_success',
    help: 'Config loads (initial and reloads) that succeeded',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly configLoadError = new Counter({
    name: 'ratelimit_service_config_load_error',
    help: 'Config loads that failed; the last good config stayed active',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly backendErrors = new Counter({
    name: 'ratelimit_backend_errors_total',
    help: 'Backend (Redis) calls that failed or timed out',
    labelNames: ['backend', 'reason'] as const,
    registers: [this.registry],
  });
  readonly degradedAnswers = new Counter({
    name: 'ratelimit_failure_mode_answers_total',
    help: 'Requests answered without the backend, by FAILURE_MODE (error: rejected UNAVAILABLE; allow: OK uncounted; local: from memory)',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  readonly circuitState = new Gauge({
    name: 'ratelimit_backend_circuit_open',
    help: '1 while the circuit breaker is open or half-open (calls go to the failure mode), else 0; read at scrape time',
    // a 0/1 flag: 1 when any worker's breaker is open (a sum would count workers)
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly circuitOpenings = new Counter({
    name: 'ratelimit_backend_circuit_opened_total',
    help: 'Times the circuit breaker opened (shows open periods shorter than a scrape interval)',
    registers: [this.registry],
  });
  readonly backendConnected = new Gauge({
    name: 'ratelimit_backend_connected',
    help: '1 while every backend (Redis) connection is up and warm, else 0; read at scrape time',
    // 0 when any worker is disconnected
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly localCacheHits = new Counter({
    name: 'ratelimit_local_cache_hits_total',
    help: 'Checks answered OVER_LIMIT from the local over-limit cache without the backend',
    registers: [this.registry],
  });
  readonly localCacheMisses = new Counter({
    name: 'ratelimit_local_cache_misses_total',
    help: 'Checks not found in the local over-limit cache',
    registers: [this.registry],
  });

  readonly connectionsClosed = new Counter({
    name: 'ratelimit_connections_closed_total',
    help: 'Connections the connection limits closed, by port (grpc, http, debug) and reason (refused: new connection at the cap with every connection busy; evicted: idle connection displaced at the cap; handshake_timeout)',
    labelNames: ['port', 'reason'] as const,
    registers: [this.registry],
  });
  readonly connectionsOpen = new Gauge({
    name: 'ratelimit_connections_open',
    help: 'Open connections by port (grpc, http, debug); read at scrape time',
    labelNames: ['port'] as const,
    // connections of every worker add up to the pod's
    aggregator: 'sum',
    registers: [this.registry],
  });

  /** gRPC calls by method, counted in plain numbers per call and published when read. */
  /** The response-time series per method; its count is also the method's call count. */
  private readonly grpcTimes = new Map<string, HistogramSeries>();
  readonly grpcRequests = grpcCallCounter(this.registry, this.grpcTimes);
  readonly grpcResponseTime = new CallTimeHistogram(
    'ratelimit_service_response_time_seconds',
    'gRPC call time in seconds, from the handler receiving the call to handing the answer to grpc-js, by method',
    ['grpc_method'],
    RESPONSE_TIME_BUCKETS,
    this.registry,
  );
  readonly backendCallTime = new CallTimeHistogram(
    'ratelimit_backend_call_seconds',
    'Backend (Redis) call time in seconds, one script round trip per call, by backend and outcome',
    ['backend', 'outcome'],
    RESPONSE_TIME_BUCKETS,
    this.registry,
  );
  /** Series bound per method and per backend outcome: the per-call paths skip every label lookup. */
  private readonly backendTimes = new Map<string, { ok: HistogramSeries; error: HistogramSeries }>();
  readonly httpRequests = new Counter({
    name: 'ratelimit_http_requests_total',
    help: 'HTTP requests on the service port, by route and status code',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly httpResponseTime = new Histogram({
    name: 'ratelimit_http_response_time_seconds',
    help: 'HTTP request time in seconds, from the request arriving to the answer being written, by route',
    labelNames: ['route'] as const,
    buckets: [...RESPONSE_TIME_BUCKETS],
    registers: [this.registry],
  });
  readonly adaptiveSignals = new Counter({
    name: 'ratelimit_adaptive_signals_total',
    help: 'Signal API requests (POST /v1/signals, gRPC SignalService) by source (http, grpc) and outcome (accepted, invalid, unauthorized, forbidden, too_many, error)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  private rules: RuleStats | undefined;

  constructor() {
    // every signal series shows from the start at 0, so rate() over it returns 0, not nothing
    for (const source of SIGNAL_SOURCES) {
      for (const outcome of SIGNAL_REQUEST_OUTCOMES) this.adaptiveSignals.inc({ source, outcome }, 0);
    }
  }

  /** Counts one signal API request (SignalApi.onOutcome). */
  signal(source: string, outcome: string): void {
    this.adaptiveSignals.labels(source, outcome).inc();
  }

  /** The per rule statistics (created once, on this registry); the service's DecisionObserver. */
  ruleStats(nearLimitRatio: number): RuleStats {
    this.rules ??= new RuleStats(this.registry, nearLimitRatio);
    return this.rules;
  }

  /** Counts one gRPC call of `method` (e.g. `ShouldRateLimit`) that took `seconds`. */
  grpcCall(method: string, seconds: number): void {
    let time = this.grpcTimes.get(method);
    if (time === undefined) {
      time = this.grpcResponseTime.series(method);
      this.grpcTimes.set(method, time);
    }
    time.observe(seconds);
  }

  /** Times one backend call (`outcome` ok or error). */
  backendCall(backend: string, outcome: 'ok' | 'error', seconds: number): void {
    let times = this.backendTimes.get(backend);
    if (times === undefined) {
      times = {
        ok: this.backendCallTime.series(backend, 'ok'),
        error: this.backendCallTime.series(backend, 'error'),
      };
      this.backendTimes.set(backend, times);
    }
    times[outcome].observe(seconds);
  }

  /**
   * Counts one HTTP request. `route` is one of the server's fixed routes
   * (`/json`, `/auth`, `/healthcheck`, `/metrics`, `/v1/signals`, or `other`), never the raw
   * path, so label cardinality stays bounded.
   */
  httpCall(route: string, code: number, seconds: number): void {
    this.httpRequests.labels(route, String(code)).inc();
    this.httpResponseTime.labels(route).observe(seconds);
  }

  private readonly scrapeHooks: (() => void)[] = [];
  private readonly synced = new Map<string, number>();

  /** Runs `hook` before every scrape, to copy counts that other parts keep themselves. */
  beforeScrape(hook: () => void): void {
    this.scrapeHooks.push(hook);
  }

  /** Raises `counter` (with `labels`) to `total`, a running count kept elsewhere that only grows. */
  syncTotal<L extends string>(counter: Counter<L>, total: number, labels?: Partial<Record<L, string>>): void {
    const id = `${(counter as unknown as { name: string }).name}${JSON.stringify(labels ?? {})}`;
    const last = this.synced.get(id) ?? 0;
    if (total <= last) return;
    if (labels === undefined) counter.inc(total - last);
    else counter.inc(labels, total - last);
    this.synced.set(id, total);
  }

  /** The text exposition format and its content type. */
  async expose(): Promise<MetricsExposition> {
    for (const hook of this.scrapeHooks) hook();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Every metric as prom-client JSON (what AggregatorRegistry.aggregate merges), after the scrape hooks. */
  async snapshot(): Promise<MetricsSnapshot> {
    for (const hook of this.scrapeHooks) hook();
    return this.registry.getMetricsAsJSON();
  }
}

/** A scrape answer: Prometheus text and its content type. */
export interface MetricsExposition {
  readonly contentType: string;
  readonly body: string;
}

/** One process's metrics as `Registry.getMetricsAsJSON()` returns them. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** ratelimit_service_total_requests, published from each method's response-time count whenever it is read. */
function grpcCallCounter(
  registry: Registry,
  times: ReadonlyMap<string, HistogramSeries>,
): Counter<'grpc_method'> {
  return new Counter({
    name: 'ratelimit_service_total_requests',
    help: 'gRPC calls received, by method (errors included)',
    labelNames: ['grpc_method'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [method, series] of times) this.inc({ grpc_method: method }, series.count);
    },
  });
}

/** Seconds: 50 µs to 250 ms, dense below 10 ms where a healthy decision lands. */
const RESPONSE_TIME_BUCKETS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
]);
