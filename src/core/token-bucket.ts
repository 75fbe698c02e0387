import { type AlgorithmModel, type Evaluation, type LimitParams, TIME_EPSILON_MS } from './algorithm.js';

/**
 * Token bucket in GCRA form: one number of state, the theoretical arrival
 * time (TAT). Tokens refill continuously at requests_per_unit per unit, up to
 * `burst`. With emission interval T = unit / rate and capacity τ = burst × T:
 *
 *     tat' = max(tat, now) + hits × T,   admitted iff tat' − now ≤ τ
 *
 * `tat − now` is how far the bucket is from full, in time, so the bucket is
 * full again at `tat` (the reset) and a rejected request fits once
 * `tat' − τ` has passed (its retry). A rate of 0 admits nothing but hits 0.
 *
 * T is rounded up to a multiple of 2⁻¹⁰ ms (about 1 µs): at epoch-sized times
 * (~1.7e12 ms, float spacing 2⁻¹² ms) adding an unrounded T such as 1000/6 ms
 * rounds every time, and a full bucket of `burst` at one instant then admitted
 * only burst − 1. On that grid every sum is exact until the year 2248, so
 * ties are decided exactly (and the Lua script gets the same answers); rounding
 * up means the rate is never above the configured one.
 */
export interface TokenBucketState {
  /** Theoretical arrival time, ms since the epoch (≤ now means a full bucket). */
  readonly tatMs: number;
}

export const tokenBucket: AlgorithmModel<TokenBucketState> = {
  windowed: false,
  capacity: (limit) => limit.burst,
  evaluate(state, limit, hits, nowMs): Evaluation<TokenBucketState> {
    if (limit.requestsPerUnit === 0) return blocked(state, limit, hits, nowMs);
    const interval = emissionIntervalMs(limit);
    const capacity = limit.burst * interval;
    const base = Math.max(state?.tatMs ?? nowMs, nowMs);
    const tat = base + hits * interval;
    const admitted = tat - nowMs <= capacity + TIME_EPSILON_MS;
    const tokens = (end: number) => Math.max(0, Math.floor((capacity - (end - nowMs)) / interval + 1e-9));
    return {
      admitted,
      remainingIfCharged: tokens(tat),
      remainingIfNotCharged: tokens(base),
      resetIfChargedMs: tat - nowMs,
      resetIfNotChargedMs: base - nowMs,
      retryAfterMs: hits > limit.burst ? base - nowMs : Math.max(0, tat - capacity - nowMs),
      charged: { tatMs: tat },
      uncharged: { tatMs: base },
      usedIfCharged: limit.burst - tokens(tat),
      usedIfNotCharged: limit.burst - tokens(base),
    };
  },
  expiresAtMs(state: TokenBucketState): number {
    return state.tatMs;
  },
};

/** Multiples of this (ms) are exact when added to epoch-ms times below 2⁴³ ms. */
const INTERVAL_GRID_MS = 2 ** -10;

/** T = unit / rate, rounded up to the grid (never 0 for a rate > 0). */
function emissionIntervalMs(limit: LimitParams): number {
  return Math.ceil(limit.unitMs / limit.requestsPerUnit / INTERVAL_GRID_MS) * INTERVAL_GRID_MS;
}

function blocked(
  state: TokenBucketState | undefined,
  limit: LimitParams,
  hits: number,
  nowMs: number,
): Evaluation<TokenBucketState> {
  const same = { tatMs: Math.max(state?.tatMs ?? nowMs, nowMs) };
  return {
    admitted: hits === 0,
    remainingIfCharged: 0,
    remainingIfNotCharged: 0,
    resetIfChargedMs: limit.unitMs,
    resetIfNotChargedMs: limit.unitMs,
    retryAfterMs: limit.unitMs,
    charged: same,
    uncharged: same,
    usedIfCharged: hits,
    usedIfNotCharged: 0,
  };
}
