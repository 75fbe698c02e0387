import { DEFAULT_BACKEND_TIMEOUT_MS, type FailureMode } from '../config/settings/resilience-settings.js';
import type { Clock } from '../core/clock.js';
import { BackendUnavailableError } from '../core/errors.js';
import { MODELS } from '../core/models.js';
import type { Logger } from '../log/logger.js';
import {
  type BreakerState,
  type BreakerTransition,
  CircuitBreaker,
  type CircuitBreakerOptions,
  DENIED,
} from './circuit-breaker.js';
import type { CounterCheck, CounterDecision, CounterStore } from './counter-store.js';
import { MemoryCounterStore } from './memory-store.js';
import { TickDeadlines } from './tick-deadlines.js';

export interface ResilientCounterStoreOptions {
  /** The backend being protected, e.g. Redis. Closed by `close()`. */
  readonly primary: CounterStore;
  /** Drives the breaker's backoff; decisions use the `nowMs` passed to `apply`. */
  readonly clock: Clock;
  /** Default 'error'. */
  readonly failureMode?: FailureMode;
  /**
   * Budget of one primary call, ms (default {@link DEFAULT_BACKEND_TIMEOUT_MS}).
   * 0 = no budget: then only the primary's own timeout bounds a call (and a
   * half-open probe). The budget judges the backend, not this process: it
   * starts once the tick's commands are written, and a reply already waiting
   * on the socket when it runs out still counts (see TickDeadlines).
   */
  readonly timeoutMs?: number;
  /** Breaker thresholds and backoff (clock and callback are supplied here). */
  readonly breaker?: Omit<CircuitBreakerOptions, 'clock' | 'onStateChange'>;
  /**
   * Primary calls that timed out and have not settled yet, beyond which new
   * calls fail fast instead of piling onto a hung backend. Default 1024.
   */
  readonly maxAbandoned?: number;
  /** Mode 'local': the fallback store's STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT. */
  readonly stopIncrementWhenOverLimit?: boolean;
  /** Mode 'local': builds the fallback (default: a MemoryCounterStore). One per outage. */
  readonly createFallback?: () => CounterStore;
  /**
   * Arm one unref'd timer per open period that reports half-open when the
   * backoff ends, so the state change is logged when it happens, not at the
   * next call. Default true.
   */
  readonly wakeAfterBackoff?: boolean;
  readonly logger?: Logger;
}

/** Counters since start, for tests and metrics. */
export interface ResilienceStats {
  primaryCalls: number;
  primaryFailures: number;
  primaryTimeouts: number;
  /** Requests refused the primary: not connected, breaker open, probe already out, or too many abandoned calls. */
  shortCircuited: number;
  /** Times the breaker opened. */
  circuitOpenings: number;
  /** Primary calls that timed out and have not settled yet (their answers will be ignored). */
  abandoned: number;
  /** Requests answered by the failure mode, by mode ('error' = rejected with BackendUnavailableError). */
  degraded: { error: number; allow: number; local: number };
  /** Live keys of the 'local' fallback store right now (0 when there is none). */
  fallbackKeys: number;
}

/**
 * A CounterStore decorator that keeps answering when the primary backend
 * fails or hangs (the reference blocks up to REDIS_TIMEOUT = 10 s; issue #978).
 * Every primary call gets `timeoutMs`; errors and timeouts feed a
 * CircuitBreaker; while it is open the primary is not called at all. A request
 * the primary does not answer gets the failure mode: 'error' rejects with
 * BackendUnavailableError (gRPC UNAVAILABLE, Envoy's failure_mode_deny
 * decides), 'allow' answers OK (decisions marked `degraded: 'allow'`),
 * 'local' answers from an in-memory store (marked `degraded: 'local'`) that is
 * dropped when the breaker closes again, so each outage starts from zero.
 *
 * Nothing is queued while the backend is down: memory is the fallback's live
 * keys plus a count of abandoned calls (whose promises the primary holds).
 */
export class ResilientCounterStore implements CounterStore {
  readonly kind: string;
  readonly failureMode: FailureMode;
  private readonly primary: CounterStore;
  private readonly clock: Clock;
  private readonly breaker: CircuitBreaker;
  private readonly timeoutMs: number;
  /** The budgets of primary calls (undefined: no budget). */
  private readonly deadlines: TickDeadlines | undefined;
  private readonly maxAbandoned: number;
  private readonly createFallback: () => CounterStore;
  private readonly wakeAfterBackoff: boolean;
  private readonly logger: Logger | undefined;
  private readonly listeners: ((transition: BreakerTransition) => void)[] = [];
  private fallback: CounterStore | undefined;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastError: unknown;
  private closed = false;
  private readonly counters: ResilienceStats = {
    primaryCalls: 0,
    primaryFailures: 0,
    primaryTimeouts: 0,
    shortCircuited: 0,
    circuitOpenings: 0,
    abandoned: 0,
    degraded: { error: 0, allow: 0, local: 0 },
    fallbackKeys: 0,
  };

  constructor(options: ResilientCounterStoreOptions) {
    this.primary = options.primary;
    this.kind = options.primary.kind;
    this.clock = options.clock;
    this.failureMode = options.failureMode ?? 'error';
    this.timeoutMs = options.timeoutMs ?? DEFAULT_BACKEND_TIMEOUT_MS;
    this.deadlines = this.timeoutMs > 0 ? new TickDeadlines(this.timeoutMs) : undefined;
    this.maxAbandoned = options.maxAbandoned ?? 1024;
    const stopIncrementWhenOverLimit = options.stopIncrementWhenOverLimit ?? false;
    const clock = options.clock;
    this.createFallback =
      options.createFallback ?? (() => new MemoryCounterStore({ stopIncrementWhenOverLimit, clock }));
    this.wakeAfterBackoff = options.wakeAfterBackoff ?? true;
    this.logger = options.logger;
    this.breaker = new CircuitBreaker({
      ...options.breaker,
      clock,
      onStateChange: (transition) => this.changed(transition),
    });
  }

  /** Primary answer when it can give one in time, else the failure mode's answer. */
  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    if (this.closed) return Promise.reject(new BackendUnavailableError(`${this.kind} store is closed`));
    // A client that is reconnecting fails every call at once: answer for it without
    // spending a breaker probe or lengthening its backoff (backendReady() resumes).
    if (!this.primary.isReady()) {
      this.counters.shortCircuited++;
      return this.degrade(checks, nowMs, NOT_CONNECTED);
    }
    const ticket = this.counters.abandoned >= this.maxAbandoned ? DENIED : this.breaker.acquire();
    if (ticket === DENIED) {
      this.counters.shortCircuited++;
      return this.degrade(checks, nowMs, undefined);
    }
    this.counters.primaryCalls++;
    return new Promise<CounterDecision[]>((resolve) => {
      let pending: Promise<CounterDecision[]>;
      try {
        pending = this.primary.apply(checks, nowMs);
      } catch (error) {
        pending = Promise.reject(error);
      }
      const settle = () => {
        call.settled = true;
        if (group !== undefined) this.deadlines?.done(group);
      };
      const call = {
        settled: false,
        expire: () => {
          settle();
          this.counters.primaryTimeouts++;
          this.counters.abandoned++;
          this.lastError = new Error(`no answer within ${this.timeoutMs} ms`);
          this.breaker.failure(ticket, 'timeout');
          resolve(this.degrade(checks, nowMs, this.lastError));
        },
      };
      // added after primary.apply queued its command, so the budget starts once it is written
      const group = this.deadlines?.add(call);
      // Both handlers are always attached, so a late rejection is handled (and ignored).
      pending.then(
        (decisions) => {
          if (call.settled) {
            this.counters.abandoned--;
            // a call we gave up on was answered: the backend is back, probe now
            this.breaker.wake();
            return;
          }
          settle();
          this.breaker.success(ticket);
          resolve(decisions);
        },
        (error: unknown) => {
          if (call.settled) return void this.counters.abandoned--;
          settle();
          this.counters.primaryFailures++;
          this.lastError = error;
          this.breaker.failure(ticket, 'error');
          resolve(this.degrade(checks, nowMs, error));
        },
      );
    });
  }

  /**
   * The primary reports it can answer again (its client reconnected and is
   * warm): an open breaker lets the next call probe at once instead of
   * waiting out its backoff.
   */
  backendReady(): void {
    this.breaker.wake();
  }

  /**
   * False only where the mode cannot answer: 'error' while the breaker is open
   * or the primary is down. Not a health signal (a Redis outage does not make
   * the process unhealthy; DESIGN.md "Health, defaults and load").
   */
  isReady(): boolean {
    if (this.closed) return false;
    if (this.failureMode !== 'error') return true;
    return !this.breaker.isOpen() && this.primary.isReady();
  }

  /** The breaker's state now (an elapsed backoff reads as half-open). */
  breakerState(): BreakerState {
    return this.breaker.state();
  }

  /** Calls `listener` on every breaker transition (health, metrics). Listener errors are logged, not thrown. */
  onStateChange(listener: (transition: BreakerTransition) => void): void {
    this.listeners.push(listener);
  }

  /** A snapshot of the counters. */
  stats(): ResilienceStats {
    const fallback = this.fallback;
    const fallbackKeys = fallback instanceof MemoryCounterStore ? fallback.size() : 0;
    return { ...this.counters, degraded: { ...this.counters.degraded }, fallbackKeys };
  }

  /** Closes the primary and the fallback; later `apply` calls reject. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.wakeTimer);
    const fallback = this.fallback;
    this.fallback = undefined;
    await Promise.all([this.primary.close(), fallback?.close()]);
  }

  /** The failure mode's answer; `cause` is the primary's error or timeout (undefined when short-circuited). */
  private degrade(
    checks: readonly CounterCheck[],
    nowMs: number,
    cause: unknown,
  ): Promise<CounterDecision[]> {
    if (this.failureMode === 'allow') {
      this.counters.degraded.allow++;
      return Promise.resolve(checks.map(allowDecision));
    }
    if (this.failureMode === 'local' && !this.closed) {
      this.counters.degraded.local++;
      this.fallback ??= this.createFallback();
      return this.fallback.apply(checks, nowMs).then(markLocal);
    }
    this.counters.degraded.error++;
    const why =
      cause === undefined
        ? `circuit ${this.breaker.state()}`
        : cause === NOT_CONNECTED
          ? 'not connected'
          : describe(cause);
    return Promise.reject(new BackendUnavailableError(`${this.kind} store unavailable: ${why}`, cause));
  }

  private changed(transition: BreakerTransition): void {
    const opened = transition.to === 'open';
    this.logger?.[opened ? 'warn' : 'info'](
      { ...transition, error: opened ? describe(this.lastError) : undefined },
      `${this.kind} backend circuit ${transition.to}; failure mode ${this.failureMode}`,
    );
    if (opened) {
      this.counters.circuitOpenings++;
      this.armWake(transition);
    }
    if (transition.to === 'closed' && this.fallback !== undefined) {
      const fallback = this.fallback;
      this.fallback = undefined;
      void fallback.close().catch(() => undefined);
    }
    for (const listener of this.listeners) {
      try {
        listener(transition);
      } catch (error) {
        this.logger?.error({ err: error }, 'circuit state listener failed');
      }
    }
  }

  private armWake(transition: BreakerTransition): void {
    if (!this.wakeAfterBackoff || this.closed || transition.retryAtMs === undefined) return;
    clearTimeout(this.wakeTimer);
    const delayMs = Math.max(0, transition.retryAtMs - this.clock.nowMs());
    this.wakeTimer = setTimeout(() => {
      this.breaker.poll();
      // a timer may fire a little before the clock says so: try again shortly
      const retryAtMs = this.breaker.retryAtMs();
      if (retryAtMs !== undefined)
        this.armWake({ ...transition, retryAtMs: Math.max(retryAtMs, this.clock.nowMs() + 10) });
    }, delayMs);
    this.wakeTimer.unref();
  }
}

/** The degrade cause of a call refused because the primary is not connected. */
const NOT_CONNECTED = Symbol('not connected');

/** FAILURE_MODE allow: OK with the limit untouched (remaining = capacity, reset = one unit). */
function allowDecision(check: CounterCheck): CounterDecision {
  return {
    overLimit: false,
    remaining: MODELS[check.algorithm].capacity(check),
    resetSeconds: check.unitSeconds,
    used: 0,
    degraded: 'allow',
  };
}

function markLocal(decisions: CounterDecision[]): CounterDecision[] {
  return decisions.map((decision) => ({ ...decision, degraded: 'local' as const }));
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
