import type { CounterDecision } from '../core/fixed-window.js';
import type { Algorithm } from '../core/limit.js';

/** One counter to check and charge within a decision. */
export interface CounterCheck {
  /**
   * Counter identity without the window: CACHE_KEY_PREFIX + domain + "_" +
   * ("key_value_" per entry), built by storage/cache-key.ts only.
   */
  readonly key: string;
  readonly requestsPerUnit: number;
  readonly unitSeconds: number;
  readonly algorithm: Algorithm;
  /** Hits to charge; 0 checks without charging. */
  readonly hits: number;
}

/**
 * The storage port. One call = one decision: every check of a request is
 * evaluated and committed together (for the memory store: synchronously, so
 * atomically; for Redis: one script call per node).
 */
export interface CounterStore {
  /** Short name for logs and metrics, e.g. "memory" or "redis". */
  readonly kind: string;
  /** Results in the order of `checks`. `nowMs` is the service clock. */
  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]>;
  /** True while the store can answer (health). */
  isReady(): boolean;
  close(): Promise<void>;
}
