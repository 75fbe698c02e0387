import { afterEach, describe, expect, it } from 'vitest';
import { isChargedWhenRejected } from '../../../src/core/limit.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { LocalOverLimitCache } from '../../../src/storage/over-limit-cache.js';

/** A memory store that records every call; `answer` replaces its decisions when set. */
class SpyStore implements CounterStore {
  readonly kind = 'spy';
  readonly calls: CounterCheck[][] = [];
  readonly memory: MemoryCounterStore;
  answer: ((checks: readonly CounterCheck[]) => CounterDecision[]) | undefined;

  constructor(stopIncrementWhenOverLimit = false) {
    this.memory = new MemoryCounterStore({ stopIncrementWhenOverLimit });
  }

  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    this.calls.push([...checks]);
    if (this.answer !== undefined) return Promise.resolve(this.answer(checks));
    return this.memory.apply(checks, nowMs);
  }

  isReady(): boolean {
    return true;
  }

  close(): Promise<void> {
    return this.memory.close();
  }
}

/** A lone `rate_limit` of the overridden algorithm (default a fixed window 10/minute). */
function check(overrides: Partial<CounterCheck> = {}): CounterCheck {
  return {
    key: 'api_user_alice_',
    tag: '',
    requestsPerUnit: 10,
    unitSeconds: 60,
    algorithm: 'fixed_window',
    burst: 10,
    hits: 1,
    blocking: true,
    chargedWhenRejected: isChargedWhenRejected(overrides.algorithm ?? 'fixed_window', false),
    ...overrides,
  };
}

/** Start of a minute window, ms (1_699_999_980 is a multiple of 60). */
const WINDOW_MS = 1_699_999_980_000;

describe('LocalOverLimitCache', () => {
  let inner: SpyStore;
  let cache: LocalOverLimitCache;

  function build(maxEntries = 100, stopIncrementWhenOverLimit = false): void {
    inner = new SpyStore(stopIncrementWhenOverLimit);
    cache = new LocalOverLimitCache({ inner, maxEntries, stopIncrementWhenOverLimit });
  }

  /** Spends the limit of `c` (10 hits) and one more, so the 11th answer is over and cached. */
  async function goOver(c: CounterCheck, nowMs: number): Promise<CounterDecision> {
    let last: CounterDecision | undefined;
    for (let i = 0; i < c.requestsPerUnit + 1; i++) [last] = await cache.apply([c], nowMs);
    expect(last?.overLimit).toBe(true);
    return last!;
  }

  afterEach(async () => {
    await cache.close();
  });

  it('answers a check it knows is over without calling the inner store', async () => {
    build();
    const now = WINDOW_MS + 30_500;
    await goOver(check(), now);
    const callsBefore = inner.calls.length;
    const [decision] = await cache.apply([check()], now + 1000);
    expect(inner.calls.length).toBe(callsBefore);
    expect(decision).toEqual({ overLimit: true, remaining: 0, resetSeconds: 29, used: 10 });
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 11, entries: 1 });
  });

  it('expires a fixed-window entry exactly at the end of its window', async () => {
    build();
    await goOver(check(), WINDOW_MS + 30_500);
    const end = WINDOW_MS + 60_000;
    const calls = inner.calls.length;
    const [last] = await cache.apply([check()], end - 1);
    expect(last).toMatchObject({ overLimit: true, resetSeconds: 1 });
    expect(inner.calls.length).toBe(calls);
    const [next] = await cache.apply([check()], end);
    expect(inner.calls.length).toBe(calls + 1);
    expect(next).toMatchObject({ overLimit: false, remaining: 9 });
  });

  it('caches a slow-refilling algorithm up to 1 s before its rounded-up reset, never past it', async () => {
    build();
    const c = check({ algorithm: 'token_bucket', requestsPerUnit: 1, burst: 1 });
    const t0 = WINDOW_MS;
    await cache.apply([c], t0);
    const [over] = await cache.apply([c], t0);
    expect(over).toMatchObject({ overLimit: true, resetSeconds: 60 });
    const calls = inner.calls.length;
    const [cached] = await cache.apply([c], t0 + 58_999);
    expect(cached).toMatchObject({ overLimit: true, resetSeconds: 2 });
    expect(inner.calls.length).toBe(calls);
    await cache.apply([c], t0 + 59_000); // T = t0 + 59 s: the inner store decides again
    expect(inner.calls.length).toBe(calls + 1);
  });

  it('does not cache a wait that rounds up to 1 s (a 10/s bucket must not lose refills)', async () => {
    build();
    const c = check({ algorithm: 'token_bucket', requestsPerUnit: 10, burst: 10, unitSeconds: 1 });
    for (let i = 0; i < 11; i++) await cache.apply([c], WINDOW_MS);
    const [over] = await cache.apply([c], WINDOW_MS + 50);
    expect(over?.overLimit).toBe(true);
    expect(cache.stats().entries).toBe(0);
    const [admitted] = await cache.apply([c], WINDOW_MS + 100);
    expect(admitted?.overLimit).toBe(false);
  });

  it('holds at most maxEntries, dropping the least recently used', async () => {
    build(3);
    const now = WINDOW_MS;
    for (const user of ['a', 'b', 'c']) await goOver(check({ key: `api_user_${user}_` }), now);
    await cache.apply([check({ key: 'api_user_a_' })], now); // a is now the most recently used
    for (const user of ['d', 'e']) await goOver(check({ key: `api_user_${user}_` }), now);
    expect(cache.stats()).toMatchObject({ entries: 3, evictions: 2 });
    const calls = inner.calls.length;
    await cache.apply([check({ key: 'api_user_a_' })], now);
    expect(inner.calls.length).toBe(calls); // kept
    await cache.apply([check({ key: 'api_user_b_' })], now);
    expect(inner.calls.length).toBe(calls + 1); // evicted
  });

  it.each([
    ['requests_per_unit', { requestsPerUnit: 20 }],
    ['unit', { unitSeconds: 3600 }],
    ['algorithm', { algorithm: 'sliding_window' as const }],
    ['burst', { burst: 15 }],
    ['hits', { hits: 2 }],
  ])(
    'misses when the %s differs, so a changed limit or override is decided afresh (#1077)',
    async (_, change) => {
      build();
      await goOver(check(), WINDOW_MS);
      const calls = inner.calls.length;
      await cache.apply([check(change)], WINDOW_MS);
      expect(inner.calls.length).toBe(calls + 1);
    },
  );

  it('never caches degraded answers', async () => {
    build();
    inner.answer = (checks) =>
      checks.map(() => ({ overLimit: true, remaining: 0, resetSeconds: 30, used: 11, degraded: 'local' }));
    await cache.apply([check()], WINDOW_MS);
    expect(cache.stats().entries).toBe(0);
  });

  describe('when only some checks are cached', () => {
    const cached = check({ key: 'api_route_x_' });
    const sliding = check({ key: 'api_user_bob_', algorithm: 'sliding_window' });
    const fixed = check({ key: 'api_user_carol_', unitSeconds: 3600 });

    it('sends the rest in one call: other algorithms check-only, lone fixed windows charged (reference)', async () => {
      build();
      await goOver(cached, WINDOW_MS);
      const calls = inner.calls.length;
      const decisions = await cache.apply([sliding, cached, fixed], WINDOW_MS);
      expect(inner.calls.length).toBe(calls + 1);
      expect(inner.calls.at(-1)?.map((c) => [c.key, c.hits])).toEqual([
        ['api_user_bob_', 0],
        ['api_user_carol_', 1],
      ]);
      expect(decisions.map((d) => [d.overLimit, d.remaining])).toEqual([
        [false, 10],
        [true, 0],
        [false, 9],
      ]);
      // what the inner store holds: bob uncharged, carol charged once
      const [bob, carol] = await inner.memory.apply(
        [
          { ...sliding, hits: 0 },
          { ...fixed, hits: 0 },
        ],
        WINDOW_MS,
      );
      expect([bob?.remaining, carol?.remaining]).toEqual([10, 9]);
    });

    it('charges the rest normally when the cached check is non-blocking (shadow/quota)', async () => {
      build();
      const shadow = { ...cached, blocking: false };
      await goOver(shadow, WINDOW_MS);
      await cache.apply([shadow, sliding, fixed], WINDOW_MS);
      expect(inner.calls.at(-1)?.map((c) => c.hits)).toEqual([1, 1]);
      const [decision] = await cache.apply([shadow], WINDOW_MS);
      expect(decision?.overLimit).toBe(true); // the service turns a shadowed over into OK
    });

    it('with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT sends fixed windows check-only too', async () => {
      build(100, true);
      await goOver(cached, WINDOW_MS);
      await cache.apply([cached, sliding, fixed], WINDOW_MS);
      expect(inner.calls.at(-1)?.map((c) => c.hits)).toEqual([0, 0]);
    });

    it('with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT a cached non-blocking lone fixed window stops only lone fixed windows', async () => {
      build(100, true);
      const shadow = { ...cached, blocking: false };
      await goOver(shadow, WINDOW_MS);
      await cache.apply([shadow, sliding, fixed], WINDOW_MS);
      expect(inner.calls.at(-1)?.map((c) => [c.algorithm, c.hits])).toEqual([
        ['sliding_window', 1],
        ['fixed_window', 0],
      ]);
    });

    // a fixed window of a rate_limits list, on the same descriptor as `cached`
    const listedFixed = check({
      key: 'api_route_x_',
      tag: 'fw3600_',
      unitSeconds: 3600,
      chargedWhenRejected: false,
    });

    it('sends a fixed window of a rate_limits list check-only, like the other algorithms', async () => {
      build();
      await goOver(cached, WINDOW_MS);
      await cache.apply([cached, listedFixed, fixed], WINDOW_MS);
      expect(inner.calls.at(-1)?.map((c) => [c.key + c.tag, c.hits])).toEqual([
        ['api_route_x_fw3600_', 0],
        ['api_user_carol_', 1],
      ]);
    });

    it('with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT a cached non-blocking fixed window of a rate_limits list stops nothing', async () => {
      build(100, true);
      const shadow = { ...listedFixed, blocking: false };
      await goOver(shadow, WINDOW_MS);
      await cache.apply([shadow, sliding, fixed], WINDOW_MS);
      expect(inner.calls.at(-1)?.map((c) => [c.algorithm, c.hits])).toEqual([
        ['sliding_window', 1],
        ['fixed_window', 1],
      ]);
    });

    it('makes no inner call when every check is cached', async () => {
      build();
      await goOver(cached, WINDOW_MS);
      await goOver(fixed, WINDOW_MS);
      const calls = inner.calls.length;
      const decisions = await cache.apply([fixed, cached], WINDOW_MS + 10_000);
      expect(inner.calls.length).toBe(calls);
      // the hour window began 780 s before WINDOW_MS (epoch-aligned), so it ends in 3600 − 780 − 10 s
      expect(decisions.map((d) => d.resetSeconds)).toEqual([2810, 50]);
    });
  });

  it('passes everything through when maxEntries is 0 (LOCAL_CACHE_SIZE_IN_BYTES=0)', async () => {
    build(0);
    await goOver(check(), WINDOW_MS);
    await cache.apply([check()], WINDOW_MS);
    expect(inner.calls.length).toBe(12);
    expect(cache.stats()).toEqual({ hits: 0, misses: 0, entries: 0, evictions: 0, expired: 0 });
  });
});
