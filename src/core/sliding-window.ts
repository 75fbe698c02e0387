import type { AlgorithmModel, Evaluation, LimitParams } from './algorithm.js';
import { windowStartMs } from './key-layout.js';

/**
 * Sliding window counter (the two-window weighted estimate of Cloudflare,
 * Kong and Upstash): O(1) state per key. At `now`, in the epoch-aligned
 * window starting at `ws`,
 *
 *     estimate = previous × (1 − (now − ws) / unit) + current
 *
 * and a request of `hits` is admitted iff estimate + hits ≤ limit.
 *
 * Accuracy (the bound the property tests check): `current` never exceeds the
 * limit, so no aligned window admits more than the limit; in any sliding
 * interval of one unit, fewer than 2 × limit are admitted (the estimate
 * assumes the previous window's requests were spread evenly; bunched at its
 * end they can add up to `previous` on top). Compared with the exact log it
 * may also reject early, when the previous window's requests were bunched at
 * its start.
 */
export interface SlidingWindowState {
  /** Start of the window `current` counts, ms since the epoch. */
  readonly windowStartMs: number;
  readonly current: number;
  readonly previous: number;
}

export const slidingWindow: AlgorithmModel<SlidingWindowState> = {
  // aligned windows, but the estimate carries across them: the key has no window
  windowed: false,
  capacity: (limit) => limit.requestsPerUnit,
  evaluate(state, limit, hits, nowMs): Evaluation<SlidingWindowState> {
    const unit = limit.unitMs;
    const ws = windowStartMs(nowMs, unit);
    const { current, previous } = roll(state, ws, unit);
    // multiply before dividing: whole-number estimates stay exact (25 × 0.56 would give 14.000000000000002)
    const estimate = (previous * (unit - (nowMs - ws))) / unit + current;
    const max = limit.requestsPerUnit;
    const admitted = estimate + hits <= max;
    const charged = { windowStartMs: ws, current: current + hits, previous };
    const uncharged = { windowStartMs: ws, current, previous };
    return {
      admitted,
      remainingIfCharged: Math.max(0, Math.floor(max - estimate - hits)),
      remainingIfNotCharged: Math.max(0, Math.floor(max - estimate)),
      resetIfChargedMs: Math.max(0, fullyRestoredAt(charged, unit) - nowMs),
      resetIfNotChargedMs: Math.max(0, fullyRestoredAt(uncharged, unit) - nowMs),
      retryAfterMs: retryAt(ws, unit, current, previous, hits, max, nowMs) - nowMs,
      charged,
      uncharged,
      usedIfCharged: estimate + hits,
      usedIfNotCharged: estimate,
    };
  },
  expiresAtMs(state: SlidingWindowState, limit: LimitParams): number {
    return state.windowStartMs + 2 * limit.unitMs;
  },
};

/** Counts as seen from the window starting at `ws`: the stored current becomes previous one window later. */
function roll(state: SlidingWindowState | undefined, ws: number, unit: number) {
  if (state === undefined) return { current: 0, previous: 0 };
  if (state.windowStartMs === ws) return { current: state.current, previous: state.previous };
  if (state.windowStartMs === ws - unit) return { current: 0, previous: state.current };
  return { current: 0, previous: 0 };
}

/** When the estimate reaches 0: the end of the next window if `current` > 0, else of this one. */
function fullyRestoredAt(state: SlidingWindowState, unit: number): number {
  if (state.current > 0) return state.windowStartMs + 2 * unit;
  if (state.previous > 0) return state.windowStartMs + unit;
  return state.windowStartMs;
}

/**
 * Earliest time ≥ now at which `hits` would be admitted with no other traffic.
 * Within this window the previous count decays linearly; from the next one on,
 * today's current count decays the same way. Never admissible (hits > limit):
 * the time the window is fully restored.
 */
function retryAt(
  ws: number,
  unit: number,
  current: number,
  previous: number,
  hits: number,
  max: number,
  nowMs: number,
): number {
  if (hits > max) return Math.max(nowMs, fullyRestoredAt({ windowStartMs: ws, current, previous }, unit));
  const roomNow = max - hits - current;
  if (roomNow >= 0) {
    if (previous <= roomNow) return nowMs;
    // previous × (1 − (t − ws)/unit) ≤ roomNow
    return Math.max(nowMs, ws + unit * (1 - roomNow / previous));
  }
  // next window: current × (1 − (t − ws − unit)/unit) ≤ max − hits
  const roomNext = max - hits;
  if (current <= roomNext) return ws + unit;
  return ws + unit + unit * (1 - roomNext / current);
}
