import type { Clock } from '../core/clock.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Why the breaker changed state. */
export type BreakerReason =
  | 'failure_rate'
  | 'probe_failed'
  | 'backoff_elapsed'
  | 'backend_ready'
  | 'probe_succeeded';

/** One state change, as reported to `onStateChange`. */
export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: BreakerReason;
  /** When it happened, ms since the epoch (the injected clock). */
  readonly atMs: number;
  /** to = 'open' only: when a probe will be let through, ms since the epoch. */
  readonly retryAtMs?: number;
  /** to = 'open' by failure_rate only: the window's failures and finished calls. */
  readonly failures?: number;
  readonly calls?: number;
}

export interface CircuitBreakerOptions {
  readonly clock: Clock;
  /**
   * Failures (errors or timeouts) within the window that a closed breaker
   * needs before it opens. Default 10, ≥ 1. A minimum volume: a handful of
   * slow calls on a busy node must not cut a healthy backend off.
   */
  readonly minFailures?: number;
  /** Share of the window's finished calls that must have failed, (0, 1]. Default 0.5. */
  readonly failureRatio?: number;
  /** The sliding window the failure rate is measured over, ms. Default 1 000. */
  readonly windowMs?: number;
  /** Backoff of the first opening, ms. Default 100. */
  readonly minBackoffMs?: number;
  /** Cap of the backoff, ms. Default 10 000. */
  readonly maxBackoffMs?: number;
  /** Uniform in [0, 1); default Math.random. Injected by tests. */
  readonly random?: () => number;
  readonly onStateChange?: (transition: BreakerTransition) => void;
}

/** `acquire()`'s answer when the call must not go to the backend. */
export const DENIED = -1;

/** The window is kept as this many buckets (a sliding window at 1/10 of its length resolution). */
const BUCKETS = 10;

/**
 * A circuit breaker for one backend: pure, driven by the injected clock, no
 * timers (whoever wants a wake-up at `retryAtMs()` schedules it).
 *
 * closed → open when, within the last `windowMs`, at least `minFailures`
 * calls failed and they are at least `failureRatio` of the calls that
 * finished: a sustained failure rate over a minimum volume (the SRE-book
 * rule), not a run of a few timeouts, which a CPU-saturated event loop can
 * produce while the backend is healthy. Open for a backoff; then half-open,
 * where exactly one probe goes through: its success closes the breaker, its
 * failure re-opens it with the next backoff. Backoff n (n = openings since
 * the last close, from 0) is drawn uniformly ("full jitter") from
 * [min, min(max, min·2ⁿ)], so the first is exactly `minBackoffMs` and a fleet
 * of replicas does not probe in lockstep.
 *
 * `wake()` ends an open period at once: the backend itself said it can answer
 * (its client reconnected, or a call it had been given answered), so the
 * next call probes instead of waiting out a backoff.
 *
 * Every permitted call gets a ticket (the breaker's generation); outcomes are
 * reported with it, and outcomes of calls started before the last state
 * change are ignored, so a late answer can neither close nor re-open it.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private generation = 0;
  /** Openings since the breaker was last closed (backoff exponent). */
  private openings = 0;
  private reopenAtMs = 0;
  private probeInFlight = false;
  /** Per bucket: its index (ms / bucketMs), finished calls and failures. */
  private readonly bucketIndex = new Array<number>(BUCKETS).fill(Number.NEGATIVE_INFINITY);
  private readonly bucketCalls = new Array<number>(BUCKETS).fill(0);
  private readonly bucketFailures = new Array<number>(BUCKETS).fill(0);
  private readonly clock: Clock;
  private readonly minFailures: number;
  private readonly failureRatio: number;
  private readonly bucketMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly listener: ((transition: BreakerTransition) => void) | undefined;

  constructor(options: CircuitBreakerOptions) {
    this.clock = options.clock;
    this.minFailures = Math.max(1, options.minFailures ?? 10);
    this.failureRatio = Math.min(1, Math.max(Number.MIN_VALUE, options.failureRatio ?? 0.5));
    this.bucketMs = Math.max(1, (options.windowMs ?? 1_000) / BUCKETS);
    this.minBackoffMs = Math.max(0, options.minBackoffMs ?? 100);
    this.maxBackoffMs = Math.max(this.minBackoffMs, options.maxBackoffMs ?? 10_000);
    this.random = options.random ?? Math.random;
    this.listener = options.onStateChange;
  }

  /** The state now; an open breaker whose backoff has elapsed turns half-open (and reports it). */
  state(): BreakerState {
    this.poll();
    return this.current;
  }

  /** True while calls are refused outright: open and the backoff has not elapsed. Pure read. */
  isOpen(): boolean {
    return this.current === 'open' && this.clock.nowMs() < this.reopenAtMs;
  }

  /** When an open breaker lets a probe through, ms since the epoch; undefined unless open. */
  retryAtMs(): number | undefined {
    return this.current === 'open' ? this.reopenAtMs : undefined;
  }

  /** Moves open → half-open once the backoff has elapsed. Call it from a wake-up timer. */
  poll(): void {
    if (this.current === 'open' && this.clock.nowMs() >= this.reopenAtMs) {
      this.move('half_open', 'backoff_elapsed');
    }
  }

  /**
   * The backend reports that it can answer now (reconnected, or answered a
   * call): an open breaker turns half-open at once, so the next call probes.
   * Does nothing in any other state.
   */
  wake(): void {
    if (this.current === 'open') this.move('half_open', 'backend_ready');
  }

  /**
   * Asks to call the backend. Returns a ticket (≥ 0) to report the outcome
   * with, or DENIED: open, or half-open with its one probe already out.
   */
  acquire(): number {
    this.poll();
    if (this.current === 'closed') return this.generation;
    if (this.current === 'open' || this.probeInFlight) return DENIED;
    this.probeInFlight = true;
    return this.generation;
  }

  /** The call made with `ticket` succeeded. */
  success(ticket: number): void {
    if (ticket !== this.generation) return;
    if (this.current === 'half_open') {
      this.move('closed', 'probe_succeeded');
      return;
    }
    this.bucketCalls[this.bucketAt(this.clock.nowMs())]!++;
  }

  /** The call made with `ticket` failed: an error, or no answer within its budget. */
  failure(ticket: number, _kind: 'error' | 'timeout'): void {
    if (ticket !== this.generation) return;
    if (this.current === 'half_open') {
      this.move('open', 'probe_failed');
      return;
    }
    if (this.current !== 'closed') return;
    const nowMs = this.clock.nowMs();
    const at = this.bucketAt(nowMs);
    this.bucketCalls[at]!++;
    this.bucketFailures[at]!++;
    const { calls, failures } = this.windowTotals(nowMs);
    if (failures >= this.minFailures && failures >= this.failureRatio * calls) {
      this.move('open', 'failure_rate', { failures, calls });
    }
  }

  /** The backoff ceiling of opening n (from 0), ms: min·2ⁿ capped at max. */
  backoffCeilingMs(n: number): number {
    return Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(n, 52));
  }

  /** The bucket slot for `nowMs`, emptied first when it last held an older period. */
  private bucketAt(nowMs: number): number {
    const index = Math.floor(nowMs / this.bucketMs);
    const slot = ((index % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.bucketIndex[slot] !== index) {
      this.bucketIndex[slot] = index;
      this.bucketCalls[slot] = 0;
      this.bucketFailures[slot] = 0;
    }
    return slot;
  }

  /** Finished calls and failures in the buckets of the last window (a clock that went back counts as new). */
  private windowTotals(nowMs: number): { calls: number; failures: number } {
    const newest = Math.floor(nowMs / this.bucketMs);
    let calls = 0;
    let failures = 0;
    for (let slot = 0; slot < BUCKETS; slot++) {
      const index = this.bucketIndex[slot]!;
      if (index > newest - BUCKETS && index <= newest) {
        calls += this.bucketCalls[slot]!;
        failures += this.bucketFailures[slot]!;
      }
    }
    return { calls, failures };
  }

  private move(to: BreakerState, reason: BreakerReason, rate?: { failures: number; calls: number }): void {
    const from = this.current;
    const atMs = this.clock.nowMs();
    this.current = to;
    this.generation++;
    this.probeInFlight = false;
    this.bucketIndex.fill(Number.NEGATIVE_INFINITY);
    let retryAtMs: number | undefined;
    if (to === 'open') {
      const ceiling = this.backoffCeilingMs(this.openings);
      this.openings++;
      this.reopenAtMs = atMs + this.minBackoffMs + this.random() * (ceiling - this.minBackoffMs);
      retryAtMs = this.reopenAtMs;
    } else if (to === 'closed') {
      this.openings = 0;
    }
    this.listener?.({
      from,
      to,
      reason,
      atMs,
      ...(retryAtMs === undefined ? {} : { retryAtMs }),
      ...(rate === undefined ? {} : rate),
    });
  }
}
