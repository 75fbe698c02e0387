/** gRPC health service names we answer for: "" (the whole server) and the reference's "ratelimit". */
export const HEALTH_SERVICE_NAMES = ['', 'ratelimit'] as const;

/**
 * Where the serving status is published, per service name: the gRPC health
 * service (grpc-health-check's HealthImplementation satisfies this), so Watch
 * streams see every change.
 */
export interface HealthStatusSink {
  setStatus(service: string, status: 'SERVING' | 'NOT_SERVING'): void;
}

type Component = 'config' | 'backend' | 'draining';

export interface HealthOptions {
  /**
   * HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED: unhealthy until a config with at
   * least one domain loads, and again after a successful load with none.
   * Off (the reference's default): the config does not affect health.
   */
  readonly requireConfig?: boolean;
}

/**
 * Health as the reference defines it (envoyproxy/ratelimit
 * src/server/health.go): the process is healthy once the backend is up
 * (Redis: connected and warm), unless draining, and — only when asked for —
 * a config with a domain is loaded. A backend outage after
 * that does not make it unhealthy (a restart never fixes Redis); the backend
 * reports a lost connection only under REDIS_HEALTH_CHECK_ACTIVE_CONNECTION.
 * Degraded states (breaker open, Redis down) are reported by the detail view,
 * metrics and logs instead. Every change is pushed to the sink (the gRPC
 * health service) and read by HTTP /healthcheck.
 */
export class HealthState {
  private readonly problems = new Set<Component>(['backend']);
  private readonly listeners: ((serving: boolean) => void)[] = [];
  private readonly requireConfig: boolean;

  constructor(
    private readonly sink: HealthStatusSink,
    options: HealthOptions = {},
  ) {
    this.requireConfig = options.requireConfig ?? false;
    if (this.requireConfig) this.problems.add('config');
    this.publish();
  }

  isServing(): boolean {
    return this.problems.size === 0;
  }

  /** After each successful config load: how many domains it has. Failed loads change nothing. */
  setConfigDomains(domains: number): void {
    if (this.requireConfig) this.set('config', domains === 0);
  }

  /** The backend is up (Redis: warm, and connected where the active-connection check is on). */
  setBackendReady(ready: boolean): void {
    this.set('backend', !ready);
  }

  /** Called once on SIGTERM/SIGINT: from now on we report NOT_SERVING. */
  setDraining(): void {
    this.set('draining', true);
  }

  /** Why we are not serving, for logs and /healthcheck bodies. */
  reasons(): string[] {
    return [...this.problems].map((problem) =>
      problem === 'config'
        ? 'no config with a domain loaded (HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED)'
        : problem === 'backend'
          ? 'backend not ready'
          : 'shutting down',
    );
  }

  onChange(listener: (serving: boolean) => void): void {
    this.listeners.push(listener);
  }

  private set(component: Component, failing: boolean): void {
    const before = this.isServing();
    if (failing) this.problems.add(component);
    else this.problems.delete(component);
    if (before !== this.isServing()) this.publish();
  }

  private publish(): void {
    const status = this.isServing() ? 'SERVING' : 'NOT_SERVING';
    for (const name of HEALTH_SERVICE_NAMES) this.sink.setStatus(name, status);
    for (const listener of this.listeners) listener(this.isServing());
  }
}
