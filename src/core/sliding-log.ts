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
  windowed: false,
  capacity: (limit) => limit.requestsPerUnit,
  evaluate(state, limit, hits, nowMs): Evaluation<SlidingLogState> {
    const unit = limit.unitMs;
    const live = liveEvents(state ?? EMPTY, nowMs - unit);
    const used = hitsIn(live);
    const max = limit.requestsPerUnit;
    const admitted = used + hits <= max;
    // never before the newest event: keeps the log sorted if the clock steps back (conservative)
    const newest = live[live.length - 1];
    const atMs = newest === undefined ? nowMs : Math.max(nowMs, newest.atMs);
    // The charged log (a copy with one more event) is built only if asked for: a store
    // asks when the request is admitted, so a rejection at the cap copies nothing.
    let charged: SlidingLogState | undefined;
    const chargedLog = (): SlidingLogState => {
      if (charged === undefined) {
        charged = hits > 0 ? [...live, { atMs, hits }] : live;
        sums.set(charged, used + hits);
      }
      return charged;
    };
    return {
      admitted,
      remainingIfCharged: Math.max(0, max - used - hits),
      remainingIfNotCharged: Math.max(0, max - used),
      resetIfChargedMs: (hits > 0 ? atMs + unit : restoredAt(live, unit, nowMs)) - nowMs,
      resetIfNotChargedMs: restoredAt(live, unit, nowMs) - nowMs,
      retryAfterMs: retryAt(live, used, hits, max, unit, nowMs) - nowMs,
      get charged() {
        return chargedLog();
      },
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

/**
 * Hits of each log the model has summed or built. Logs are never changed once
 * built, so a log's sum stays right; a log that is answered again (the stored
 * state of a hot key between admits) is not summed again: O(1) instead of
 * O(limit) per rejected request at the cap.
 */
const sums = new WeakMap<SlidingLogState, number>();

function hitsIn(events: SlidingLogState): number {
  let used = sums.get(events);
  if (used === undefined) {
    used = 0;
    for (const event of events) used += event.hits;
    sums.set(events, used);
  }
  return used;
}

/** When the newest event leaves the window (now when there is none). */
function restoredAt(events: SlidingLogState, unit: number, nowMs: number): number {
  const last = events[events.length - 1];
  return last === undefined ? nowMs : last.atMs + unit;
}

/** Events still inside the window, i.e. admitted after `cutoffMs` (its sum from the dropped ones when known). */
function liveEvents(events: SlidingLogState, cutoffMs: number): SlidingLogState {
  let first = 0;
  let dropped = 0;
  while (first < events.length && events[first]!.atMs <= cutoffMs) dropped += events[first++]!.hits;
  if (first === 0) return events;
  const live = events.slice(first);
  const before = sums.get(events);
  if (before !== undefined) sums.set(live, before - dropped);
  return live;
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
