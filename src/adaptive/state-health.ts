import type { Logger } from '../log/logger.js';
import type { ControllerId } from './adaptive-state.js';
import type { ControllerMetrics } from './controller-metrics.js';

/**
 * Whether one controller's shared state is readable (fail static while it is not: the
 * runtime applies the configured limits). Every failure is counted; an outage is logged
 * once when it starts and once when it ends, not per refresh.
 */
export class SharedStateHealth {
  ok = true;

  constructor(
    private readonly id: ControllerId,
    private readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
  ) {}

  /** The log fields naming the controller. */
  fields(): { domain: string; controller: string } {
    return { domain: this.id.domain, controller: this.id.name };
  }

  /** A read or write of the shared state failed. */
  failed(error: unknown): void {
    this.metrics.stateError();
    if (this.ok) {
      this.logger.warn(
        { ...this.fields(), error: error instanceof Error ? error.message : String(error) },
        'adaptive: shared state unreadable; the configured limits apply until it is back',
      );
    }
    this.ok = false;
  }

  /** A refresh read the shared state. */
  succeeded(): void {
    if (!this.ok) this.logger.info(this.fields(), 'adaptive: shared state readable again');
    this.ok = true;
  }
}
