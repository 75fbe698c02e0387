import type { AlgorithmModel, Evaluation, LimitParams } from './algorithm.js';
import { windowStartMs } from './key-layout.js';

/**
 * Fixed window, as envoyproxy/ratelimit counts: windows aligned to the Unix
 * epoch, the counter includes this request's hits, and `after > limit` is
 * over (hitting the limit exactly is still OK). Whether a rejected request
 * is charged is the limit's, not the algorithm's: see isChargedWhenRejected
 * in limit.ts (a lone `rate_limit` is, as in the reference).
 */
export interface FixedWindowState {
  /** Start of the window the count belongs to, ms since the epoch. */
  readonly windowStartMs: number;
  readonly count: number;
}

export const fixedWindow: AlgorithmModel<FixedWindowState> = {
  windowed: true,
  capacity: (limit) => limit.requestsPerUnit,
  evaluate(state, limit, hits, nowMs): Evaluation<FixedWindowState> {
    const start = windowStartMs(nowMs, limit.unitMs);
    const count = state !== undefined && state.windowStartMs === start ? state.count : 0;
    const after = count + hits;
    const untilWindowEnd = start + limit.unitMs - nowMs;
    return {
      admitted: after <= limit.requestsPerUnit,
      remainingIfCharged: Math.max(0, limit.requestsPerUnit - after),
      remainingIfNotCharged: Math.max(0, limit.requestsPerUnit - count),
      resetIfChargedMs: untilWindowEnd,
      resetIfNotChargedMs: untilWindowEnd,
      retryAfterMs: untilWindowEnd,
      charged: { windowStartMs: start, count: after },
      uncharged: { windowStartMs: start, count },
      usedIfCharged: after,
      usedIfNotCharged: count,
    };
  },
  expiresAtMs(state: FixedWindowState, limit: LimitParams): number {
    return state.windowStartMs + limit.unitMs;
  },
};
