import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { CounterCheck, CounterDecision, CounterStore } from '../storage/counter-store.js';
import type { Tracing } from './tracing.js';

export const BACKEND_SPAN = 'backend apply';

/**
 * A CounterStore decorator that records one `backend apply` span per call,
 * child of the traced ShouldRateLimit call it serves. Calls made outside a
 * traced call (the HTTP /auth endpoint) pass straight through. Only built
 * when tracing is on.
 */
export class TracingCounterStore implements CounterStore {
  readonly kind: string;

  constructor(
    private readonly inner: CounterStore,
    private readonly tracing: Tracing,
  ) {
    this.kind = inner.kind;
  }

  async apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    const span = this.tracing.startChild(BACKEND_SPAN, {
      kind: SpanKind.INTERNAL,
      attributes: { 'ratelimit.backend': this.kind, 'ratelimit.checks': checks.length },
    });
    if (span === undefined) return this.inner.apply(checks, nowMs);
    try {
      const decisions = await this.inner.apply(checks, nowMs);
      const degraded = decisions.find((decision) => decision.degraded !== undefined)?.degraded;
      if (degraded !== undefined) span.setAttribute('ratelimit.degraded', degraded);
      return decisions;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
