import { localCacheKey, windowStartSeconds } from '../core/key-layout.js';
import { Lru } from '../core/lru.js';
import { MODELS } from '../core/models.js';
import type { CounterCheck, CounterDecision, CounterStore } from './counter-store.js';

export interface LocalOverLimitCacheOptions {
  /** The store that decides (Redis, or the resilient store around it). */
  readonly inner: CounterStore;
  /** Bound of the LRU, entries; 0 turns the cache off (every call goes to `inner`). */
  readonly maxEntries: number;
  /**
   * STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, as the inner store applies it
   * (envoyproxy/ratelimit src/limiter/base_limiter.go).
   */
  readonly stopIncrementWhenOverLimit?: boolean;
}

/** Counters since start (`entries` is the current size), for tests and metrics. */
export interface OverLimitCacheStats {
  /** Checks answered from the cache. */
  hits: number;
  /** Checks looked up and not found (or found expired). */
  misses: number;
  entries: number;
  /** Entries dropped by the LRU bound. */
  evictions: number;
  /** Entries found past their time and dropped. */
  expired: number;
}

/**
 * LOCAL_CACHE_SIZE_IN_BYTES (envoyproxy/ratelimit src/limiter/base_limiter.go,
 * its local cache of over-limit keys), as a CounterStore decorator: a
 * check the inner store answered OVER_LIMIT is answered OVER_LIMIT locally
 * (remaining 0, not charged) until the time T the inner store said it would
 * be admitted, never later; a bounded LRU holds the entries.
 *
 * - T: a windowed algorithm (AlgorithmModel.windowed: fixed_window), the end
 *   of its window (its answer then starts over); the others, now +
 *   (resetSeconds − 1) s, because resetSeconds is rounded up and a token
 *   bucket refilling every 100 ms must not be blocked for a whole second. So
 *   those are cached only when the wait is ≥ 2 s.
 *   `resetSeconds` from the cache counts the inner store's answer down.
 * - The key (localCacheKey in key-layout.ts) holds the counter key, the window
 *   start, the hits and the limit: a changed limit or a per-request override
 *   never reuses an entry.
 * - Degraded answers (FAILURE_MODE allow/local) are never cached.
 * - A request whose checks all hit the cache makes no inner call. Otherwise
 *   the rest go to the inner store in one call, adjusted so it charges what
 *   it would have charged had it seen the cached checks (over) itself: if a
 *   cached check is blocking, the request is rejected, so the checks not
 *   `chargedWhenRejected` (every limit but a lone fixed window) are sent
 *   check-only (hits 0) while lone fixed windows keep their hits (the reference
 *   charges them anyway); with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT any cached
 *   lone fixed window or blocking check sends lone fixed windows check-only too
 *   (the reference's "all other keys are incremented by 0").
 * - Non-blocking (shadow, quota) checks are cached and answered OVER_LIMIT
 *   like any other (the service shadows them to OK); they do not reject the
 *   request, so the other checks are charged normally.
 */
export class LocalOverLimitCache implements CounterStore {
  readonly kind: string;
  private readonly inner: CounterStore;
  private readonly lru: Lru<number> | undefined;
  private readonly stopIncrement: boolean;
  private hits = 0;
  private misses = 0;
  private expired = 0;

  constructor(options: LocalOverLimitCacheOptions) {
    this.inner = options.inner;
    this.kind = options.inner.kind;
    this.lru = options.maxEntries > 0 ? new Lru<number>(options.maxEntries) : undefined;
    this.stopIncrement = options.stopIncrementWhenOverLimit ?? false;
  }

  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    const lru = this.lru;
    if (lru === undefined) return this.inner.apply(checks, nowMs);
    const keys = new Array<string>(checks.length);
    let cached: (number | undefined)[] | undefined;
    let cachedCount = 0;
    let rejected = false;
    let stop = false;
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!;
      const key = localCacheKey(check, MODELS[check.algorithm].windowed, nowMs);
      keys[i] = key;
      let untilMs = lru.get(key);
      if (untilMs !== undefined && untilMs <= nowMs) {
        lru.delete(key);
        this.expired++;
        untilMs = undefined;
      }
      if (untilMs === undefined) {
        this.misses++;
        continue;
      }
      this.hits++;
      cached ??= new Array<number | undefined>(checks.length);
      cached[i] = untilMs;
      cachedCount++;
      if (check.blocking) rejected = true;
      if (this.stopIncrement && (check.blocking || check.chargedWhenRejected)) stop = true;
    }
    if (cached === undefined) {
      return this.inner
        .apply(checks, nowMs)
        .then((decisions) => this.remember(checks, keys, decisions, nowMs));
    }
    const known = cached;
    if (cachedCount === checks.length) {
      return Promise.resolve(checks.map((check, i) => fromCache(check, known[i]!, nowMs)));
    }
    const forward: CounterCheck[] = [];
    const forwardKeys: string[] = [];
    for (let i = 0; i < checks.length; i++) {
      if (known[i] !== undefined) continue;
      const check = checks[i]!;
      const checkOnly = check.hits !== 0 && (check.chargedWhenRejected ? stop : rejected);
      forward.push(checkOnly ? { ...check, hits: 0 } : check);
      forwardKeys.push(keys[i]!);
    }
    return this.inner.apply(forward, nowMs).then((answers) => {
      this.remember(forward, forwardKeys, answers, nowMs);
      const decisions = new Array<CounterDecision>(checks.length);
      let next = 0;
      for (let i = 0; i < checks.length; i++) {
        const untilMs = known[i];
        // a short answer stays short, so the service reports the store's fault
        const answer = untilMs === undefined ? answers[next++] : fromCache(checks[i]!, untilMs, nowMs);
        if (answer === undefined) return answers;
        decisions[i] = answer;
      }
      return decisions;
    });
  }

  stats(): OverLimitCacheStats {
    const lru = this.lru;
    return {
      hits: this.hits,
      misses: this.misses,
      entries: lru?.size ?? 0,
      evictions: lru?.evictions ?? 0,
      expired: this.expired,
    };
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Files every over-limit answer under its check's key; `keys` are those of `checks` (original hits). */
  private remember(
    checks: readonly CounterCheck[],
    keys: readonly string[],
    decisions: CounterDecision[],
    nowMs: number,
  ): CounterDecision[] {
    const lru = this.lru!;
    if (decisions.length !== checks.length) return decisions;
    for (let i = 0; i < decisions.length; i++) {
      const decision = decisions[i]!;
      if (!decision.overLimit || decision.degraded !== undefined) continue;
      const untilMs = admittedAtMs(checks[i]!, decision.resetSeconds, nowMs);
      if (untilMs > nowMs) lru.set(keys[i]!, untilMs);
    }
    return decisions;
  }
}

/** The earliest time (ms) the inner store's over answer can turn, never later than it said. */
function admittedAtMs(check: CounterCheck, resetSeconds: number, nowMs: number): number {
  if (MODELS[check.algorithm].windowed) {
    const windowEndMs = (windowStartSeconds(nowMs, check.unitSeconds) + check.unitSeconds) * 1000;
    return Math.min(windowEndMs, nowMs + resetSeconds * 1000);
  }
  return nowMs + (resetSeconds - 1) * 1000;
}

/**
 * OVER_LIMIT from the cache. `used` is the limit: the cache only knows the
 * counter is at or past it. resetSeconds counts down the inner store's answer
 * (for rounded algorithms, T lies up to 1 s before it).
 */
function fromCache(check: CounterCheck, untilMs: number, nowMs: number): CounterDecision {
  const lead = MODELS[check.algorithm].windowed ? 0 : 1000;
  return {
    overLimit: true,
    remaining: 0,
    resetSeconds: Math.max(1, Math.ceil((untilMs + lead - nowMs) / 1000)),
    used: check.requestsPerUnit,
  };
}
