import type { HealthImplementation } from 'grpc-health-check';

/** gRPC health service names we answer for: "" (the whole server) and the reference's "ratelimit". */
export const HEALTH_SERVICE_NAMES = ['', 'ratelimit'] as const;

type Component = 'config' | 'backend' | 'draining';

/**
 * Serving = a config is loaded AND the backend can answer AND we are not
 * draining. Every change is pushed to the gRPC health service (so Watch
 * streams see it) and read by HTTP /healthcheck.
 */
export class HealthState {
  private readonly problems = new Set<Component>(['config', 'backend']);
  private readonly listeners: ((serving: boolean) => void)[] = [];

  constructor(private readonly grpcHealth: HealthImplementation) {
    this.publish();
  }

  isServing(): boolean {
    return this.problems.size === 0;
  }

  setConfigLoaded(loaded: boolean): void {
    this.set('config', !loaded);
  }

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
        ? 'no valid config loaded'
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
    for (const name of HEALTH_SERVICE_NAMES) this.grpcHealth.setStatus(name, status);
    for (const listener of this.listeners) listener(this.isServing());
  }
}
