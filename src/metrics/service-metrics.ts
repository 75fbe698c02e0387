import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics, on their own registry (never prom-client's
 * global one). Names follow the reference's Prometheus mapping where one
 * exists (`ratelimit_service_*`). Served at GET /metrics on the HTTP port.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly configLoadSuccess = new Counter({
    name: 'ratelimit_service_config_load_success',
    help: 'Config loads (initial and reloads) that succeeded',
    registers: [this.registry],
  });
  readonly configLoadError = new Counter({
    name: 'ratelimit_service_config_load_error',
    help: 'Config loads that failed; the last good config stayed active',
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
    help: '1 while the circuit breaker keeps calls away from the backend, else 0',
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
  async expose(): Promise<{ contentType: string; body: string }> {
    for (const hook of this.scrapeHooks) hook();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
