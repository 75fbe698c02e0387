import type { Clock } from '../core/clock.js';
import { BackendUnavailableError } from '../core/errors.js';
import { applyChecks, type StateAccess } from './apply-checks.js';
import type { CounterCheck, CounterDecision, CounterStore } from './counter-store.js';

export interface MemoryCounterStoreOptions {
  /**
   * STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT: when the request is going over,
   * checks charged when rejected (lone fixed windows) that are still within
   * their limit are not charged (envoyproxy/ratelimit src/limiter/base_limiter.go,
   * but atomic here). Default false.
   */
  readonly stopIncrementWhenOverLimit?: boolean;
  /** Clock for the background sweep; without one, expired state is swept only on `apply`. */
  readonly clock?: Clock;
  /** Period of the background sweep, ms (default 60 000; 0 disables it). The timer is unref'd. */
  readonly sweepIntervalMs?: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

interface Entry {
  state: unknown;
  /**
   * When the state stops mattering, Unix seconds rounded up: a small integer,
   * which V8 stores inline (a ms timestamp would be a 16-byte heap number per key).
   */
  expiresAtSeconds: number;
}

/**
 * The embedded backend: every algorithm's state in one process, through the
 * same core models and decision procedure as every store (`applyChecks`).
 * `apply` runs synchronously, so every decision is atomic.
 *
 * Memory is bounded by live keys: each key is filed in a bucket by the second
 * its state expires. Buckets that have ended are swept at the start of the
 * next `apply` at or after the earliest one, and by one unref'd interval when
 * a clock is given; a key whose state was extended since it was filed is
 * filed again rather than dropped. No timer per key; a sweep costs
 * O(buckets + keys filed in ended buckets).
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  /** Expiry (Unix seconds, rounded up) → keys filed then. */
  private readonly buckets = new Map<number, string[]>();
  /** Earliest bucket, Unix seconds; Infinity when there are none. */
  private nextSweepSeconds = Number.POSITIVE_INFINITY;
  private readonly stopIncrementWhenOverLimit: boolean;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Sink for the character read that flattens a new key (kept so the read is not optimized away). */
  private flattened = 0;
  private readonly access: StateAccess = {
    get: (key) => this.entries.get(key)?.state,
    set: (key, state, expiresAtMs) => this.put(key, state, expiresAtMs),
  };

  constructor(options: MemoryCounterStoreOptions = {}) {
    this.stopIncrementWhenOverLimit = options.stopIncrementWhenOverLimit ?? false;
    const intervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    const clock = options.clock;
    if (clock !== undefined && intervalMs > 0) {
      this.timer = setInterval(() => this.sweep(clock.nowMs()), intervalMs);
      this.timer.unref();
    }
  }

  /** Checks and charges every limit of one decision; `nowMs` is the service clock. */
  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    if (this.closed) return Promise.reject(new BackendUnavailableError('memory counter store is closed'));
    if (nowMs / 1000 >= this.nextSweepSeconds) this.sweep(nowMs);
    return Promise.resolve(
      applyChecks(checks, nowMs, this.access, {
        stopIncrementWhenOverLimit: this.stopIncrementWhenOverLimit,
      }),
    );
  }

  /** Drops every state that expired at or before `nowMs`. */
  sweep(nowMs: number): void {
    const nowSeconds = nowMs / 1000;
    let next = Number.POSITIVE_INFINITY;
    const refile: string[] = [];
    for (const [second, keys] of this.buckets) {
      if (second > nowSeconds) {
        if (second < next) next = second;
        continue;
      }
      this.buckets.delete(second);
      for (const key of keys) {
        const entry = this.entries.get(key);
        if (entry === undefined) continue;
        if (entry.expiresAtSeconds <= nowSeconds) this.entries.delete(key);
        else refile.push(key);
      }
    }
    this.nextSweepSeconds = next;
    for (const key of refile) this.file(key, this.entries.get(key)!.expiresAtSeconds);
  }

  /** Number of live keys (tests and memory metrics). */
  size(): number {
    return this.entries.size;
  }

  isReady(): boolean {
    return !this.closed;
  }

  /** Stops the background sweep and drops every state; later `apply` calls reject. */
  close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.closed = true;
    this.entries.clear();
    this.buckets.clear();
    this.nextSweepSeconds = Number.POSITIVE_INFINITY;
    return Promise.resolve();
  }

  private put(key: string, state: unknown, expiresAtMs: number): void {
    const expiresAtSeconds = Math.ceil(expiresAtMs / 1000);
    const entry = this.entries.get(key);
    if (entry === undefined) {
      // Keys arrive as concatenations (ropes of several pieces, larger than the flat
      // string: docs/performance.md);
      // reading a character makes V8 flatten the key before the map keeps it.
      this.flattened ^= key.charCodeAt(0);
      this.entries.set(key, { state, expiresAtSeconds });
      this.file(key, expiresAtSeconds);
      return;
    }
    // filed under its old expiry; a later expiry is noticed (and refiled) when that bucket is swept
    entry.state = state;
    if (expiresAtSeconds < entry.expiresAtSeconds) this.file(key, expiresAtSeconds);
    entry.expiresAtSeconds = expiresAtSeconds;
  }

  private file(key: string, second: number): void {
    const bucket = this.buckets.get(second);
    if (bucket === undefined) this.buckets.set(second, [key]);
    else bucket.push(key);
    if (second < this.nextSweepSeconds) this.nextSweepSeconds = second;
  }
}
