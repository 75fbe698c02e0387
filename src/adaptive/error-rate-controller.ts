import type { ErrorRateParams } from './controller-params.js';

/** Samples of one interval: requests that reached the upstream, and how many of them failed. */
export interface IntervalTotals {
  readonly total: number;
  readonly errors: number;
}

/**
 * What the last closed interval did to the factor:
 * - 'decrease': ≥ minSamples and error ratio > threshold (also when already pinned at the floor);
 * - 'increase': ≥ minSamples, ratio ≤ threshold, and the factor rose;
 * - 'hold': healthy at a factor of 1 already, or no interval closed yet;
 * - 'insufficient_samples': fewer than minSamples (an idle interval included): no change.
 */
export type ErrorRateDecision = 'decrease' | 'increase' | 'hold' | 'insufficient_samples';

/** The factor is kept on a 1e-9 grid so that floor + n × increase reaches exactly 1. */
const GRID = 1e9;

/**
 * The AIMD rule, the one place it lives: the factor after an interval with `totals`.
 * Used by the local controller and by a shared store that sums an interval over replicas.
 * The result is in [floor, 1] whatever `current` is (a current outside it is clamped first).
 */
export function nextFactor(
  current: number,
  totals: IntervalTotals,
  params: Pick<ErrorRateParams, 'errorThreshold' | 'minSamples' | 'decrease' | 'increase' | 'floor'>,
): { factor: number; decision: ErrorRateDecision } {
  const factor = clamp(current, params.floor);
  if (!(totals.total >= params.minSamples)) return { factor, decision: 'insufficient_samples' };
  if (totals.errors / totals.total > params.errorThreshold) {
    return { factor: clamp(snap(factor * params.decrease), params.floor), decision: 'decrease' };
  }
  if (factor >= 1) return { factor: 1, decision: 'hold' };
  return { factor: clamp(snap(factor + params.increase), params.floor), decision: 'increase' };
}

/** What `/v1/adaptive` shows for one error_rate controller. */
export interface ErrorRateSnapshot {
  readonly factor: number;
  readonly decision: ErrorRateDecision;
  /** When the factor took its current value (the end of the interval that set it), ms; undefined while never changed. */
  readonly sinceMs: number | undefined;
  /** The last closed interval; undefined before the first closes. */
  readonly lastInterval:
    | { readonly startMs: number; readonly samples: number; readonly errors: number; readonly ratio: number }
    | undefined;
  /** Samples of the interval still open (local path only). */
  readonly current: { readonly startMs: number; readonly samples: number; readonly errors: number };
}

/**
 * One error_rate controller: AIMD on a factor in [floor, 1], one decision per interval.
 * Pure and clock-driven (the template is storage/circuit-breaker.ts): time is passed in,
 * nothing runs by itself; intervals close lazily when `factor()` is read.
 *
 * Intervals are aligned to multiples of `intervalMs` since the epoch, so replicas agree on
 * their boundaries. Two ways to close one:
 * - local: `record()` adds samples, `factor(now)` closes every elapsed interval with the
 *   samples recorded here (memory backend, one process);
 * - shared: a store sums an interval over replicas and calls `closeInterval(start, totals)`;
 *   construct with `{ closeOnRead: false }` so `factor()` does not close intervals with the
 *   local share alone. Both paths apply `nextFactor`.
 *
 * Idle time does NOT recover the factor: an interval with fewer than minSamples (no traffic
 * at all included) holds it. With no traffic there is no evidence of health, and restoring
 * the full limit blind would send a full interval of traffic at an upstream that may still be
 * failing, before the first decision could react. admission_control can forget its window
 * because it re-decides per request; this controller decides once per interval. Recovery
 * comes from the traffic the floor still lets through, so pick floor × limit × interval ≥
 * minSamples for every node that uses the controller.
 */
export class ErrorRateController {
  private current: number = 1;
  private decision: ErrorRateDecision = 'hold';
  private sinceMs: number | undefined;
  private openStartMs: number;
  private openTotal = 0;
  private openErrors = 0;
  private lastClosed: ErrorRateSnapshot['lastInterval'];
  private readonly closeOnRead: boolean;

  constructor(
    readonly params: ErrorRateParams,
    startMs: number,
    options: { readonly closeOnRead?: boolean } = {},
  ) {
    this.openStartMs = this.intervalStart(startMs);
    this.closeOnRead = options.closeOnRead ?? true;
  }

  /** Adds samples to the interval open at `nowMs`. Negative or non-finite counts are ignored. */
  record(total: number, errors: number, nowMs: number): void {
    if (!(total > 0) || !(errors >= 0) || !Number.isFinite(total) || !Number.isFinite(errors)) return;
    if (this.closeOnRead) this.closeElapsed(nowMs);
    else this.rollOpen(nowMs);
    this.openTotal += total;
    this.openErrors += Math.min(errors, total);
  }

  /** The factor at `nowMs`, in [floor, 1]; closes elapsed intervals first (local path). */
  factor(nowMs: number): number {
    if (this.closeOnRead) this.closeElapsed(nowMs);
    return this.current;
  }

  /**
   * Applies the totals of the interval that started at `intervalStartMs` (shared path: summed
   * over replicas). An interval at or before the last one applied is ignored, so a late or
   * repeated close cannot apply twice. Returns whether it was applied.
   */
  closeInterval(intervalStartMs: number, totals: IntervalTotals): boolean {
    if (this.lastClosed !== undefined && intervalStartMs <= this.lastClosed.startMs) return false;
    this.apply(intervalStartMs, totals);
    if (intervalStartMs >= this.openStartMs) {
      this.openStartMs = intervalStartMs + this.params.intervalMs;
      this.openTotal = 0;
      this.openErrors = 0;
    }
    return true;
  }

  /** Start of the interval containing `nowMs`, ms since the epoch. */
  intervalStart(nowMs: number): number {
    return Math.floor(nowMs / this.params.intervalMs) * this.params.intervalMs;
  }

  snapshot(): ErrorRateSnapshot {
    return {
      factor: this.current,
      decision: this.decision,
      sinceMs: this.sinceMs,
      lastInterval: this.lastClosed,
      current: { startMs: this.openStartMs, samples: this.openTotal, errors: this.openErrors },
    };
  }

  /** Closes the open interval if it has elapsed; the empty ones after it hold the factor. */
  private closeElapsed(nowMs: number): void {
    const start = this.intervalStart(nowMs);
    if (start <= this.openStartMs) return;
    this.apply(this.openStartMs, { total: this.openTotal, errors: this.openErrors });
    const lastElapsed = start - this.params.intervalMs;
    if (lastElapsed > this.openStartMs) this.apply(lastElapsed, { total: 0, errors: 0 });
    this.openStartMs = start;
    this.openTotal = 0;
    this.openErrors = 0;
  }

  /** Shared path: samples of an interval the store has not closed yet start a new local one. */
  private rollOpen(nowMs: number): void {
    const start = this.intervalStart(nowMs);
    if (start <= this.openStartMs) return;
    this.openStartMs = start;
    this.openTotal = 0;
    this.openErrors = 0;
  }

  /** Applies one closed interval; a changed factor dates from the interval's end. */
  private apply(startMs: number, totals: IntervalTotals): void {
    const next = nextFactor(this.current, totals, this.params);
    if (next.factor !== this.current) this.sinceMs = startMs + this.params.intervalMs;
    this.current = next.factor;
    this.decision = next.decision;
    this.lastClosed = {
      startMs,
      samples: totals.total,
      errors: totals.errors,
      ratio: totals.total > 0 ? totals.errors / totals.total : 0,
    };
  }
}

function clamp(factor: number, floor: number): number {
  if (!(factor >= floor)) return floor;
  return Math.min(factor, 1);
}

function snap(x: number): number {
  return Math.round(x * GRID) / GRID;
}
