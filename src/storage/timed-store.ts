import type { CounterCheck, CounterDecision, CounterStore } from './counter-store.js';

/** Receives the time of one store call, seconds, by the store's kind and whether it failed. */
export type CallTimer = (kind: string, outcome: 'ok' | 'error', seconds: number) => void;

/**
 * A CounterStore decorator that times every call (from `apply` to its answer
 * or error) and hands the time to `observe`, e.g. the backend call histogram.
 * `nowMs` is a monotonic clock, ms (default `performance.now`).
 */
export class TimedCounterStore implements CounterStore {
  readonly kind: string;

  constructor(
    private readonly inner: CounterStore,
    private readonly observe: CallTimer,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.kind = inner.kind;
  }

  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    const started = this.nowMs();
    return this.inner.apply(checks, nowMs).then(
      (decisions) => {
        this.record('ok', started);
        return decisions;
      },
      (error: unknown) => {
        this.record('error', started);
        throw error;
      },
    );
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private record(outcome: 'ok' | 'error', startedMs: number): void {
    this.observe(this.kind, outcome, (this.nowMs() - startedMs) / 1000);
  }
}
