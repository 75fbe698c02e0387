import type { AlgorithmModel, Evaluation, LimitParams } from './algorithm.js';

/**
 * Exact sliding log: a request of `hits` is admitted iff the hits admitted in
 * (now − unit, now] plus `hits` stay within the limit. State = the admitted
 * events, oldest first, each with its weight (hits), so memory grows with the
 * limit; the config validator caps `requests_per_unit` at 10,000.
 */
export interface LogEvent {
  /** When it was admitted, ms since the epoch. */
  readonly atMs: number;
  readonly hits: number;
}

export type SlidingLogState = readonly LogEvent[];

const EMPTY: SlidingLogState = Object.freeze([]);

export const slidingLog: AlgorithmModel<SlidingLogState> = {
  evaluate(state, limit, hits, nowMs): Evaluation<SlidingLogState> {
    const unit = limit.unitMs;
    const live = liveEvents(state ?? EMPTY, nowMs - unit);
    let used = 0;
    for (const event of live) used += event.hits;
    const max = limit.requestsPerUnit;
    const admitted = used + hits <= max;
    // never before the newest event: keeps the log sorted if the clock steps back (conservative)
    const newest = live[live.length - 1];
    const atMs = newest === undefined ? nowMs : Math.max(nowMs, newest.atMs);
    const charged = hits > 0 ? [...live, { atMs, hits }] : live;
    return {
      admitted,
      remainingIfCharged: Math.max(0, max - used - hits),
      remainingIfNotCharged: Math.max(0, max - used),
      resetIfChargedMs: restoredAt(charged, unit, nowMs) - nowMs,
      resetIfNotChargedMs: restoredAt(live, unit, nowMs) - nowMs,
      retryAfterMs: retryAt(live, used, hits, max, unit, nowMs) - nowMs,
      charged,
      uncharged: live,
      usedIfCharged: used + hits,
      usedIfNotCharged: used,
    };
  },
  expiresAtMs(state: SlidingLogState, limit: LimitParams): number {
    const last = state[state.length - 1];
    return last === undefined ? 0 : last.atMs + limit.unitMs;
  },
};

/** When the newest event leaves the window (now when there is none). */
function restoredAt(events: SlidingLogState, unit: number, nowMs: number): number {
  const last = events[events.length - 1];
  return last === undefined ? nowMs : last.atMs + unit;
}

/** Events still inside the window, i.e. admitted after `cutoffMs`. */
function liveEvents(events: SlidingLogState, cutoffMs: number): SlidingLogState {
  let first = 0;
  while (first < events.length && events[first]!.atMs <= cutoffMs) first++;
  return first === 0 ? events : events.slice(first);
}

/** When enough of the oldest events have left the window for `hits` to fit (never: when all have). */
function retryAt(
  live: SlidingLogState,
  used: number,
  hits: number,
  max: number,
  unit: number,
  nowMs: number,
) {
  if (used + hits <= max) return nowMs;
  if (hits > max) {
    const last = live[live.length - 1];
    return last === undefined ? nowMs : last.atMs + unit;
  }
  let inWindow = used;
  for (const event of live) {
    inWindow -= event.hits;
    if (inWindow + hits <= max) return event.atMs + unit;
  }
  return nowMs;
}
