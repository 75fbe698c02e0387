import type { Algorithm } from '../core/algorithm.js';

/** One limit to check and charge within a decision. */
export interface CounterCheck {
  /**
   * Counter identity of the descriptor: CACHE_KEY_PREFIX + domain + "_" +
   * ("key_value_" per entry), parts escaped unless CACHE_KEY_FORMAT=reference;
   * built by counterKey in core/key-layout.ts only.
   * All limits of one descriptor share it (Redis Cluster: one hash slot).
   */
  readonly key: string;
  /** The limit's key tag (see Limit.keyTag), appended to `key`; '' keeps the reference's key. */
  readonly tag: string;
  readonly requestsPerUnit: number;
  readonly unitSeconds: number;
  readonly algorithm: Algorithm;
  /** token_bucket capacity (requests); requestsPerUnit for the other algorithms. */
  readonly burst: number;
  /** Hits to charge; 0 checks without charging. */
  readonly hits: number;
  /**
   * Whether this limit rejecting the request stops the other limits of the
   * request being charged. False for shadow-mode and quota-mode rules, whose
   * "over" does not reject the request.
   */
  readonly blocking: boolean;
  /**
   * Whether this check is charged when the request is rejected: Limit.chargedWhenRejected,
   * decided by core's isChargedWhenRejected (true only for a lone fixed_window `rate_limit`).
   * True: charged even when rejected, unless STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, which
   * judges it against its count before the request (the reference). False: charged only
   * when the whole request is admitted.
   */
  readonly chargedWhenRejected: boolean;
}

/** A store's answer for one check. */
export interface CounterDecision {
  readonly overLimit: boolean;
  /** Whole requests still admitted now. */
  readonly remaining: number;
  /**
   * duration_until_reset, whole seconds ≥ 1: on OK until the limit is fully
   * restored, on OVER_LIMIT until this request would be admitted.
   */
  readonly resetSeconds: number;
  /** Units in use after this decision (this request's hits included only if charged), for statistics. */
  readonly used: number;
  /** Set when the answer did not come from the configured backend: FAILURE_MODE allow or local. */
  readonly degraded?: 'allow' | 'local';
}

/**
 * The storage port. One call = one decision, atomic: every check is evaluated
 * first; then, unless a blocking check rejected the request, every admitted
 * check is charged. A check `chargedWhenRejected` (a lone fixed_window) is the
 * exception the reference needs: its hits are charged even when rejected,
 * unless STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT.
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
