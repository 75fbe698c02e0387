import type { Clock } from '../core/clock.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Why the breaker changed state. */
export type BreakerReason =
  | 'consecutive_failures'
  | 'timeout_storm'
  | 'probe_failed'
  | 'backoff_elapsed'
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
}

export interface CircuitBreakerOptions {
  readonly clock: Clock;
  /** Consecutive failures (errors or timeouts) that open a closed breaker. Default 3, ≥ 1. */
  readonly failureThreshold?: number;
  /** Backoff of the first opening, ms. Default 100. */
  readonly minBackoffMs?: number;
  /** Cap of the backoff, ms. Default 10 000. */
  readonly maxBackoffMs?: number;
  /**
   * Timeout storm: within one window of `stormWindowMs` (default 1000), at least
   * `stormMinTimeouts` (default 10) calls timed out and they are at least
   * `stormRatio` (default 0.5) of the calls that finished in it. Opens the
   * breaker even when successes keep breaking the run of consecutive failures.
   */
  readonly stormWindowMs?: number;
  readonly stormMinTimeouts?: number;
  readonly stormRatio?: number;
  /** Uniform in [0, 1); default Math.random. Injected by tests. */
  readonly random?: () => number;
  readonly onStateChange?: (transition: BreakerTransition) => void;
}

/** `acquire()`'s answer when the call must not go to the backend. */
export const DENIED = -1;

/**
 * A circuit breaker for one backend: pure, driven by the injected clock, no
 * timers (whoever wants a wake-up at `retryAtMs()` schedules it).
 *
 * closed → open after `failureThreshold` consecutive failures or a timeout
 * storm; open for a backoff; then half-open, where exactly one probe goes
 * through: its success closes the breaker, its failure re-opens it with the
 * next backoff. Backoff n (n = openings since the last close, from 0) is drawn
 * uniformly ("full jitter") from [min, min(max, min·2ⁿ)], so the first is
 * exactly `minBackoffMs` and a fleet of replicas does not probe in lockstep.
 *
 * Every permitted call gets a ticket (the breaker's generation); outcomes are
 * reported with it, and outcomes of calls started before the last state
 * change are ignored, so a late answer can neither close nor re-open it.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private generation = 0;
  private consecutiveFailures = 0;
  /** Openings since the breaker was last closed (backoff exponent). */
  private openings = 0;
  private reopenAtMs = 0;
  private probeInFlight = false;
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private windowCalls = 0;
  private windowTimeouts = 0;
  private readonly clock: Clock;
  private readonly threshold: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly stormWindowMs: number;
  private readonly stormMinTimeouts: number;
  private readonly stormRatio: number;
  private readonly random: () => number;
  private readonly listener: ((transition: BreakerTransition) => void) | undefined;

  constructor(options: CircuitBreakerOptions) {
    this.clock = options.clock;
    this.threshold = Math.max(1, options.failureThreshold ?? 3);
    this.minBackoffMs = Math.max(0, options.minBackoffMs ?? 100);
    this.maxBackoffMs = Math.max(this.minBackoffMs, options.maxBackoffMs ?? 10_000);
    this.stormWindowMs = options.stormWindowMs ?? 1000;
    this.stormMinTimeouts = options.stormMinTimeouts ?? 10;
    this.stormRatio = options.stormRatio ?? 0.5;
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
    this.consecutiveFailures = 0;
    this.countInWindow(false);
  }

  /** The call made with `ticket` failed: an error, or no answer within its budget. */
  failure(ticket: number, kind: 'error' | 'timeout'): void {
    if (ticket !== this.generation) return;
    if (this.current === 'half_open') {
      this.move('open', 'probe_failed');
      return;
    }
    if (this.current !== 'closed') return;
    this.consecutiveFailures++;
    const storm = this.countInWindow(kind === 'timeout');
    if (this.consecutiveFailures >= this.threshold) this.move('open', 'consecutive_failures');
    else if (storm) this.move('open', 'timeout_storm');
  }

  /** The backoff ceiling of opening n (from 0), ms: min·2ⁿ capped at max. */
  backoffCeilingMs(n: number): number {
    return Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(n, 52));
  }

  /** Counts a finished call in the storm window; true when this timeout completes a storm. */
  private countInWindow(timedOut: boolean): boolean {
    const nowMs = this.clock.nowMs();
    if (nowMs - this.windowStartMs >= this.stormWindowMs || nowMs < this.windowStartMs) {
      this.windowStartMs = nowMs;
      this.windowCalls = 0;
      this.windowTimeouts = 0;
    }
    this.windowCalls++;
    if (!timedOut) return false;
    this.windowTimeouts++;
    return (
      this.windowTimeouts >= this.stormMinTimeouts &&
      this.windowTimeouts >= this.stormRatio * this.windowCalls
    );
  }

  private move(to: BreakerState, reason: BreakerReason): void {
    const from = this.current;
    const atMs = this.clock.nowMs();
    this.current = to;
    this.generation++;
    this.probeInFlight = false;
    this.consecutiveFailures = 0;
    this.windowStartMs = Number.NEGATIVE_INFINITY;
    let retryAtMs: number | undefined;
    if (to === 'open') {
      const ceiling = this.backoffCeilingMs(this.openings);
      this.openings++;
      this.reopenAtMs = atMs + this.minBackoffMs + this.random() * (ceiling - this.minBackoffMs);
      retryAtMs = this.reopenAtMs;
    } else if (to === 'closed') {
      this.openings = 0;
    }
    this.listener?.(
      retryAtMs === undefined ? { from, to, reason, atMs } : { from, to, reason, atMs, retryAtMs },
    );
  }
}
