/**
 * The contract every counting algorithm implements: a pure function of
 * (state, limit, hits, now) → evaluation, with no I/O and no clock. The
 * memory store runs these directly; the Redis Lua scripts implement the same
 * maths, and one contract table holds both to the same answers.
 *
 * Times are milliseconds since the Unix epoch; durations are milliseconds.
 */
export type Algorithm = 'fixed_window' | 'sliding_window' | 'sliding_log' | 'token_bucket';

export const ALGORITHMS: readonly Algorithm[] = [
  'fixed_window',
  'sliding_window',
  'sliding_log',
  'token_bucket',
];

/** The numbers of one limit that the maths needs. */
export interface LimitParams {
  /** Requests admitted per unit (0 blocks every request with hits > 0). */
  readonly requestsPerUnit: number;
  /** Unit length, ms. */
  readonly unitMs: number;
  /** token_bucket capacity, in requests (≥ 1); ignored by the other algorithms. */
  readonly burst: number;
}

/** What one limit says about `hits` at `nowMs`, and the state to store either way. */
export interface Evaluation<S> {
  /** The limit on its own admits the request (hits 0: the limit is not exceeded). */
  readonly admitted: boolean;
  /** Whole requests (hits of 1) still admitted now if this request is charged. */
  readonly remainingIfCharged: number;
  /** Whole requests still admitted now if it is not charged. */
  readonly remainingIfNotCharged: number;
  /** ms until the limit is fully restored if this request is charged: `duration_until_reset` on OK. */
  readonly resetIfChargedMs: number;
  /** ms until the limit is fully restored if it is not charged. */
  readonly resetIfNotChargedMs: number;
  /**
   * ms until this same request would be admitted with no other traffic:
   * `duration_until_reset` on OVER_LIMIT (a client's Retry-After). When the
   * request can never be admitted (hits above the limit or burst), the time
   * until fully restored.
   */
  readonly retryAfterMs: number;
  /** State after charging the hits. */
  readonly charged: S;
  /** State without charging (expired parts may be dropped). */
  readonly uncharged: S;
  /** Units in use if this request is charged, for near-limit statistics. */
  readonly usedIfCharged: number;
  /** Units in use if it is not charged. */
  readonly usedIfNotCharged: number;
}

/**
 * What stores, decorators and the key layout need to know about an algorithm
 * besides its maths: read from the model, never from comparing algorithm names.
 * (Whether a rejected request is charged depends on the rule too: see
 * isChargedWhenRejected in limit.ts, carried on each check.)
 */
export interface AlgorithmTraits {
  /**
   * Its key carries the epoch-aligned window start (key-layout.ts), and its state
   * and every answer hold until that window ends: an OVER_LIMIT answer may be
   * cached until then. True for fixed_window only.
   */
  readonly windowed: boolean;
  /** Requests an untouched limit admits at once (FAILURE_MODE allow's remaining): burst for token_bucket, else requests_per_unit. */
  capacity(limit: Pick<LimitParams, 'requestsPerUnit' | 'burst'>): number;
}

/** One algorithm: its traits, evaluation, and when a state stops mattering (it then equals no state). */
export interface AlgorithmModel<S> extends AlgorithmTraits {
  evaluate(state: S | undefined, limit: LimitParams, hits: number, nowMs: number): Evaluation<S>;
  /** ms since the epoch after which `state` is equivalent to no state and may be deleted. */
  expiresAtMs(state: S, limit: LimitParams): number;
}

/** Sub-millisecond slack for float comparisons of times (token bucket). */
export const TIME_EPSILON_MS = 1e-6;

/** A duration in ms as whole seconds for the wire: rounded up, never below 1. */
export function toResetSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000 - 1e-9));
}
