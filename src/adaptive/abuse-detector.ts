import { Lru } from '../core/lru.js';
import type { AbuseParams } from './controller-params.js';

/** Values tracked by one detector unless the caller says otherwise. */
export const DEFAULT_ABUSE_DETECTOR_ENTRIES = 100_000;

/**
 * Weight of a new interval in a value's baseline (an EWMA of its decisions per active
 * interval): 0.2 ≈ the mean of its last 9 active intervals (span = 2 / weight − 1).
 */
export const DEFAULT_BASELINE_WEIGHT = 0.2;

export type OffenceReason = 'over_limit_ratio' | 'spike';

/** A value that offended in one closed interval: what goes to the penalty box. */
export interface Offender {
  readonly value: string;
  readonly reason: OffenceReason;
  /** Start of the interval, ms since the epoch. */
  readonly intervalStartMs: number;
  /** Decisions for the value in that interval, and how many were OVER_LIMIT. */
  readonly total: number;
  readonly overLimit: number;
  /** Its baseline (decisions per active interval) before that interval; undefined while none. */
  readonly baseline: number | undefined;
}

/** Per value: the open interval's counts and the baseline. Mutated in place (no allocation per observe). */
interface ValueState {
  /** Index of the open interval (ms / intervalMs). */
  index: number;
  total: number;
  overLimit: number;
  baseline: number;
  /** Active intervals folded into the baseline; 0 = no baseline yet. */
  baselineIntervals: number;
}

/**
 * Finds abusive values of one node's key from the service's own decisions, for an `abuse`
 * controller. Pure and clock-driven: time is passed in; intervals (aligned to multiples of
 * `intervalMs` since the epoch) close lazily, per value in `observe()` and for every value
 * in `offenders()`, which whoever drives the controller calls once per interval.
 *
 * At the close of an interval, a value with ≥ min_requests decisions is an offender when
 * - its OVER_LIMIT share is > over_limit_ratio ('over_limit_ratio'), or
 * - once it has a baseline, its count is > spike × baseline ('spike').
 *
 * The baseline is an EWMA of the value's decisions per interval over the intervals in which
 * it was active. Idle intervals do not pull it down: a client that comes back after a quiet
 * hour at its usual rate is not a spike. An offending interval is not folded in either, so a
 * burst does not teach the baseline that the burst is normal.
 *
 * Memory: at most `maxEntries` values (default 100 000), the one least recently active
 * (by interval) dropped first together with its baseline (a value seen again starts over); the offenders not yet
 * collected are bounded by the same number.
 */
export class AbuseDetector {
  private readonly values: Lru<ValueState>;
  private readonly pending = new Map<string, Offender>();
  private readonly maxEntries: number;
  private readonly weight: number;

  constructor(
    readonly params: AbuseParams,
    options: { readonly maxEntries?: number; readonly baselineWeight?: number } = {},
  ) {
    this.maxEntries = options.maxEntries ?? DEFAULT_ABUSE_DETECTOR_ENTRIES;
    this.values = new Lru<ValueState>(this.maxEntries);
    this.weight = options.baselineWeight ?? DEFAULT_BASELINE_WEIGHT;
  }

  /**
   * Counts one decision for `value` at `nowMs`. O(1); allocates only for a value not
   * tracked yet and for an offender found while closing its previous interval.
   */
  observe(value: string, overLimit: boolean, nowMs: number): void {
    const index = Math.floor(nowMs / this.params.intervalMs);
    // recency is refreshed once per interval per value, not per decision (an LRU touch is a
    // Map delete + set): eviction drops the values whose last active interval is oldest
    let state = this.values.peek(value);
    if (state === undefined) {
      state = { index, total: 0, overLimit: 0, baseline: 0, baselineIntervals: 0 };
      this.values.set(value, state);
    } else if (state.index < index) {
      this.values.get(value);
      this.close(value, state, index);
    }
    state.total++;
    if (overLimit) state.overLimit++;
  }

  /**
   * Closes every value's elapsed interval and returns the offenders found since the last
   * call (each value once, its latest offence), forgetting them. O(values tracked).
   */
  offenders(nowMs: number): Offender[] {
    const index = Math.floor(nowMs / this.params.intervalMs);
    for (const [value, state] of this.values.entries()) {
      if (state.index < index) this.close(value, state, index);
    }
    const found = [...this.pending.values()];
    this.pending.clear();
    return found;
  }

  /** Values tracked now. */
  get size(): number {
    return this.values.size;
  }

  /** Values dropped to keep within maxEntries since construction. */
  get evictions(): number {
    return this.values.evictions;
  }

  /** Judges the value's open interval, updates its baseline, and opens interval `index`. */
  private close(value: string, state: ValueState, index: number): void {
    if (state.total > 0) {
      const reason = this.judge(state);
      if (reason !== undefined) {
        this.report({
          value,
          reason,
          intervalStartMs: state.index * this.params.intervalMs,
          total: state.total,
          overLimit: state.overLimit,
          baseline: state.baselineIntervals > 0 ? state.baseline : undefined,
        });
      } else if (state.baselineIntervals === 0) {
        state.baseline = state.total;
        state.baselineIntervals = 1;
      } else {
        state.baseline += this.weight * (state.total - state.baseline);
        state.baselineIntervals++;
      }
    }
    state.index = index;
    state.total = 0;
    state.overLimit = 0;
  }

  private judge(state: ValueState): OffenceReason | undefined {
    const { minRequests, overLimitRatio, spike } = this.params;
    if (state.total < minRequests) return undefined;
    if (state.overLimit / state.total > overLimitRatio) return 'over_limit_ratio';
    if (state.baselineIntervals > 0 && state.total > spike * state.baseline) return 'spike';
    return undefined;
  }

  /** Keeps the latest offence per value, at most maxEntries (the oldest dropped first). */
  private report(offender: Offender): void {
    this.pending.delete(offender.value);
    this.pending.set(offender.value, offender);
    if (this.pending.size > this.maxEntries) {
      const oldest = this.pending.keys().next();
      if (oldest.done !== true) this.pending.delete(oldest.value);
    }
  }
}
