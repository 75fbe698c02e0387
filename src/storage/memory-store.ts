import type { Clock } from '../core/clock.js';
import { BackendUnavailableError } from '../core/errors.js';
import { type CounterDecision, fixedWindowDecision, fixedWindowStart } from '../core/fixed-window.js';
import type { CounterCheck, CounterStore } from './counter-store.js';

export interface MemoryCounterStoreOptions {
  /**
   * STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT: when any check of a call would go
   * over its limit, only the checks going over are charged; the others are
   * charged 0 (reference §4.5, but atomic here). Default false.
   */
  readonly stopIncrementWhenOverLimit?: boolean;
  /** Clock for the background sweep; without one, expired windows are swept only on `apply`. */
  readonly clock?: Clock;
  /** Period of the background sweep, ms (default 60 000; 0 disables it). The timer is unref'd. */
  readonly sweepIntervalMs?: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/**
 * The embedded backend: fixed-window counters in one process.
 *
 * Counter key = `${check.key}${windowStart}` (windowStart in Unix seconds,
 * epoch-aligned), the reference's Redis key. `apply` runs synchronously, so
 * every call is atomic, and returns a settled promise.
 *
 * Memory is bounded by live keys: every counter is filed in a bucket keyed by
 * the end of its window (Unix seconds). Buckets whose window has ended are
 * dropped whole at the start of the next `apply` at or after the earliest
 * bucket end, and by one unref'd interval when a clock is given, so expired
 * counters live at most until the next call (or interval tick). There is no
 * timer per key; a sweep costs O(buckets + expired keys), and there is at
 * most one live bucket per distinct window length in use.
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory';
  private readonly counters = new Map<string, number>();
  /** Window end (Unix seconds) → keys of counters in windows ending then. */
  private readonly buckets = new Map<number, string[]>();
  /** Earliest bucket end, Unix seconds; Infinity when there are no buckets. */
  private nextSweepSeconds = Number.POSITIVE_INFINITY;
  private readonly stopIncrementWhenOverLimit: boolean;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(options: MemoryCounterStoreOptions = {}) {
    this.stopIncrementWhenOverLimit = options.stopIncrementWhenOverLimit ?? false;
    const intervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    const clock = options.clock;
    if (clock !== undefined && intervalMs > 0) {
      this.timer = setInterval(() => this.sweep(clock.nowMs()), intervalMs);
      this.timer.unref();
    }
  }

  /**
   * Checks and charges every counter of one decision, in order (two checks on
   * one key charge it twice). `nowMs` is the service clock, ms since the epoch.
   */
  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    if (this.closed) return Promise.reject(new BackendUnavailableError('memory counter store is closed'));
    const nowSeconds = Math.floor(nowMs / 1000);
    if (nowSeconds >= this.nextSweepSeconds) this.sweep(nowMs);
    const charging = this.stopIncrementWhenOverLimit ? this.chargingMask(checks, nowSeconds) : undefined;
    const results: CounterDecision[] = new Array(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!;
      const windowStart = fixedWindowStart(nowSeconds, check.unitSeconds);
      const hits = charging === undefined || charging[i] ? check.hits : 0;
      const after = this.charge(`${check.key}${windowStart}`, hits, windowStart + check.unitSeconds);
      results[i] = fixedWindowDecision(after, check.requestsPerUnit, nowSeconds, check.unitSeconds);
    }
    return Promise.resolve(results);
  }

  /** Drops every counter whose window ended at or before `nowMs` (ms since the epoch). */
  sweep(nowMs: number): void {
    const nowSeconds = Math.floor(nowMs / 1000);
    let next = Number.POSITIVE_INFINITY;
    for (const [end, keys] of this.buckets) {
      if (end <= nowSeconds) {
        for (const key of keys) this.counters.delete(key);
        this.buckets.delete(end);
      } else if (end < next) next = end;
    }
    this.nextSweepSeconds = next;
  }

  /** Number of live counters (tests and memory metrics). */
  size(): number {
    return this.counters.size;
  }

  isReady(): boolean {
    return !this.closed;
  }

  /** Stops the background sweep and drops every counter; later `apply` calls reject. */
  close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.closed = true;
    this.counters.clear();
    this.buckets.clear();
    this.nextSweepSeconds = Number.POSITIVE_INFINITY;
    return Promise.resolve();
  }

  /**
   * Which checks to charge under STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, or
   * undefined for all. "Going over" compares each check with its counter as it
   * stood before this call, as the reference's GET pipeline does, so checks on
   * one key are judged alike and a check judged going over always ends over.
   */
  private chargingMask(checks: readonly CounterCheck[], nowSeconds: number): boolean[] | undefined {
    let mask: boolean[] | undefined;
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!;
      const key = `${check.key}${fixedWindowStart(nowSeconds, check.unitSeconds)}`;
      const goingOver = (this.counters.get(key) ?? 0) + check.hits > check.requestsPerUnit;
      if (goingOver) mask ??= new Array<boolean>(checks.length).fill(false);
      if (mask !== undefined) mask[i] = goingOver;
    }
    return mask;
  }

  /** Adds `hits` to the counter at `key` and returns its new value. Hits 0 create nothing. */
  private charge(key: string, hits: number, windowEnd: number): number {
    const before = this.counters.get(key);
    if (before === undefined) {
      if (hits === 0) return 0;
      this.counters.set(key, hits);
      this.file(key, windowEnd);
      return hits;
    }
    if (hits === 0) return before;
    const after = before + hits;
    this.counters.set(key, after);
    return after;
  }

  private file(key: string, windowEnd: number): void {
    const bucket = this.buckets.get(windowEnd);
    if (bucket === undefined) this.buckets.set(windowEnd, [key]);
    else bucket.push(key);
    if (windowEnd < this.nextSweepSeconds) this.nextSweepSeconds = windowEnd;
  }
}
