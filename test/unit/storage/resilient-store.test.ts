import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError } from '../../../src/core/errors.js';
import { isChargedWhenRejected } from '../../../src/core/limit.js';
import type { BreakerTransition } from '../../../src/storage/circuit-breaker.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import {
  ResilientCounterStore,
  type ResilientCounterStoreOptions,
} from '../../../src/storage/resilient-store.js';
import { ManualClock } from '../../support/manual-clock.js';

type Behaviour = 'ok' | 'fail' | 'throw' | 'hang';

/** A primary backend that answers, fails, throws, or hangs until the test settles its calls. */
class FakePrimary implements CounterStore {
  readonly kind = 'fake';
  behaviour: Behaviour = 'ok';
  calls = 0;
  ready = true;
  closed = false;
  readonly held: { resolve: (d: CounterDecision[]) => void; reject: (e: Error) => void }[] = [];
  private readonly memory = new MemoryCounterStore();

  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    this.calls++;
    if (this.behaviour === 'fail') return Promise.reject(new Error('ECONNREFUSED'));
    if (this.behaviour === 'throw') throw new Error('synchronous failure');
    if (this.behaviour === 'hang')
      return new Promise((resolve, reject) => this.held.push({ resolve, reject }));
    return this.memory.apply(checks, nowMs);
  }

  isReady(): boolean {
    return this.ready;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.memory.close();
  }
}

/** A lone `rate_limit` of the overridden algorithm (default a fixed window 10/minute). */
function check(overrides: Partial<CounterCheck> = {}): CounterCheck {
  return {
    key: 'domain_user_alice_',
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

describe('ResilientCounterStore', () => {
  let store: ResilientCounterStore;
  let primary: FakePrimary;
  let clock: ManualClock;
  let transitions: BreakerTransition[];

  function build(options: Partial<ResilientCounterStoreOptions> = {}): ResilientCounterStore {
    primary = new FakePrimary();
    clock = new ManualClock(1_700_000_000_000);
    transitions = [];
    store = new ResilientCounterStore({
      primary,
      clock,
      wakeAfterBackoff: false,
      ...options,
      // 3 failures open it here (default 10), to keep the numbers small
      breaker: { random: () => 0, minFailures: 3, ...options.breaker },
    });
    store.onStateChange((transition) => transitions.push(transition));
    return store;
  }

  /** Makes the primary fail and trips the breaker (3 failing calls, as `build` sets it), swallowing their answers. */
  async function tripBreaker(): Promise<void> {
    primary.behaviour = 'fail';
    for (let i = 0; i < 3; i++) await store.apply([check()], clock.nowMs()).catch(() => undefined);
    expect(store.breakerState()).toBe('open');
  }

  // The budgets (TickDeadlines: setImmediate, then setTimeout) and the wake-up timer run on
  // fake timers, moved together with the manual clock by `elapse`: no test waits for real time.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
  });

  afterEach(async () => {
    await store.close();
    vi.useRealTimers();
  });

  /** Lets `ms` pass on the clock and the timers, running what falls due and the promise callbacks it starts. */
  async function elapse(ms: number): Promise<void> {
    clock.advance(ms);
    await vi.advanceTimersByTimeAsync(ms);
  }

  /**
   * Lets a `budgetMs` budget run out: its timer fires, then the expiry runs in the
   * setImmediate that timer queues, which fake timers run 1 ms later.
   */
  async function exhaust(budgetMs: number): Promise<void> {
    await elapse(budgetMs + 1);
  }

  it('passes the primary answers through unmarked while it is healthy', async () => {
    build();
    const [decision] = await store.apply([check()], clock.nowMs());
    expect(decision).toEqual({ overLimit: false, remaining: 9, resetSeconds: 40, used: 1 });
    expect(store.stats()).toMatchObject({ primaryCalls: 1, primaryFailures: 0, primaryTimeouts: 0 });
  });

  describe("failure mode 'error'", () => {
    it('rejects with BackendUnavailableError carrying the cause when the primary fails', async () => {
      build();
      primary.behaviour = 'fail';
      const error = await store.apply([check()], clock.nowMs()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toBe('fake store unavailable: ECONNREFUSED');
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect(store.stats()).toMatchObject({ primaryFailures: 1, degraded: { error: 1, allow: 0, local: 0 } });
    });

    it('treats a primary that throws synchronously as a failure', async () => {
      build();
      primary.behaviour = 'throw';
      await expect(store.apply([check()], clock.nowMs())).rejects.toThrow(BackendUnavailableError);
      expect(store.stats().primaryFailures).toBe(1);
    });

    it('stops calling the primary once the circuit is open and reports not ready', async () => {
      build();
      await tripBreaker();
      expect(store.isReady()).toBe(false);
      for (let i = 0; i < 50; i++) {
        await expect(store.apply([check()], clock.nowMs())).rejects.toThrow(/circuit open/);
      }
      expect(primary.calls).toBe(3);
      expect(store.stats()).toMatchObject({ shortCircuited: 50, degraded: { error: 53 } });
      expect(transitions).toMatchObject([{ from: 'closed', to: 'open', reason: 'failure_rate' }]);
    });

    it('is ready again once the backoff has elapsed, so traffic can bring the probe', async () => {
      build();
      await tripBreaker();
      clock.advance(99);
      expect(store.isReady()).toBe(false);
      clock.advance(1);
      expect(store.isReady()).toBe(true);
    });

    it('reports not ready while the primary itself says it is down', () => {
      build();
      primary.ready = false;
      expect(store.isReady()).toBe(false);
    });

    it('answers for a primary that is not connected without calling it or touching the breaker', async () => {
      build();
      primary.ready = false;
      for (let i = 0; i < 50; i++) {
        await expect(store.apply([check()], clock.nowMs())).rejects.toThrow(/unavailable: not connected/);
      }
      expect(primary.calls).toBe(0);
      expect(store.breakerState()).toBe('closed');
      expect(store.stats()).toMatchObject({ shortCircuited: 50, degraded: { error: 50 } });
      primary.ready = true;
      expect((await store.apply([check()], clock.nowMs()))[0]?.degraded).toBeUndefined();
    });
  });

  describe("failure mode 'allow'", () => {
    it('answers OK with the limit untouched and marks the decisions degraded', async () => {
      build({ failureMode: 'allow' });
      primary.behaviour = 'fail';
      const decisions = await store.apply(
        [check(), check({ algorithm: 'token_bucket', requestsPerUnit: 5, burst: 20, unitSeconds: 1 })],
        clock.nowMs(),
      );
      expect(decisions).toEqual([
        { overLimit: false, remaining: 10, resetSeconds: 60, used: 0, degraded: 'allow' },
        { overLimit: false, remaining: 20, resetSeconds: 1, used: 0, degraded: 'allow' },
      ]);
      expect(store.stats().degraded).toEqual({ error: 0, allow: 1, local: 0 });
    });

    it('stays ready while the circuit is open and keeps answering without the primary', async () => {
      build({ failureMode: 'allow' });
      await tripBreaker();
      expect(store.isReady()).toBe(true);
      const [decision] = await store.apply([check()], clock.nowMs());
      expect(decision?.degraded).toBe('allow');
      expect(primary.calls).toBe(3);
    });
  });

  describe("failure mode 'local'", () => {
    it('counts in memory while the primary is down: the 11th hit of a 10/min window is over', async () => {
      build({ failureMode: 'local' });
      await tripBreaker(); // 3 hits already counted locally
      const answers: CounterDecision[] = [];
      for (let i = 0; i < 8; i++) answers.push(...(await store.apply([check()], clock.nowMs())));
      expect(answers.map((d) => d.overLimit)).toEqual([
        false,
        false,
        false,
        false,
        false,
        false,
        false,
        true,
      ]);
      expect(answers.every((d) => d.degraded === 'local')).toBe(true);
      expect(primary.calls).toBe(3);
      expect(store.isReady()).toBe(true);
    });

    it('goes back to the primary and drops the local counts when the probe succeeds', async () => {
      build({ failureMode: 'local' });
      await tripBreaker();
      expect(store.stats().fallbackKeys).toBe(1);
      primary.behaviour = 'ok';
      clock.advance(100);
      const [decision] = await store.apply([check()], clock.nowMs());
      expect(decision).toMatchObject({ overLimit: false, remaining: 9 });
      expect(decision?.degraded).toBeUndefined();
      expect(store.breakerState()).toBe('closed');
      expect(store.stats().fallbackKeys).toBe(0);
      expect(transitions.map((t) => t.to)).toEqual(['open', 'half_open', 'closed']);
    });
  });

  describe('recovery driven by the backend', () => {
    it('probes at once when the backend reports ready, not after the backoff', async () => {
      build({ breaker: { minBackoffMs: 60_000, maxBackoffMs: 60_000 } });
      await tripBreaker();
      primary.behaviour = 'ok';
      await expect(store.apply([check()], clock.nowMs())).rejects.toThrow(/circuit open/);
      store.backendReady();
      expect((await store.apply([check()], clock.nowMs()))[0]?.degraded).toBeUndefined();
      expect(store.breakerState()).toBe('closed');
      expect(transitions.map((t) => t.reason)).toEqual(['failure_rate', 'backend_ready', 'probe_succeeded']);
    });

    it('probes at once when a call it gave up on is answered late (a paused Redis resumed)', async () => {
      build({ failureMode: 'allow', timeoutMs: 5, breaker: { minBackoffMs: 60_000, maxBackoffMs: 60_000 } });
      primary.behaviour = 'hang';
      for (let i = 0; i < 3; i++) {
        const answer = store.apply([check()], clock.nowMs());
        await exhaust(5);
        await answer;
      }
      expect(store.breakerState()).toBe('open');
      primary.behaviour = 'ok';
      primary.held[0]?.resolve([{ overLimit: false, remaining: 9, resetSeconds: 60, used: 1 }]);
      await elapse(0);
      expect(store.breakerState()).toBe('half_open');
      expect((await store.apply([check()], clock.nowMs()))[0]?.degraded).toBeUndefined();
      expect(store.breakerState()).toBe('closed');
    });

    it('counts each opening, however short', async () => {
      build();
      await tripBreaker();
      store.backendReady();
      primary.behaviour = 'ok';
      await store.apply([check()], clock.nowMs());
      await tripBreaker();
      expect(store.stats().circuitOpenings).toBe(2);
    });
  });

  describe('half-open', () => {
    it('sends exactly one probe while the others get the failure mode', async () => {
      build({ failureMode: 'allow', timeoutMs: 0 });
      await tripBreaker();
      clock.advance(100);
      primary.behaviour = 'hang';
      const probe = store.apply([check()], clock.nowMs());
      const others = await Promise.all(
        Array.from({ length: 20 }, () => store.apply([check()], clock.nowMs())),
      );
      expect(primary.calls).toBe(4);
      expect(others.every(([d]) => d?.degraded === 'allow')).toBe(true);
      primary.held[0]?.resolve([{ overLimit: false, remaining: 9, resetSeconds: 60, used: 1 }]);
      expect((await probe)[0]?.degraded).toBeUndefined();
      expect(store.breakerState()).toBe('closed');
    });

    it('re-opens with a longer backoff when the probe fails', async () => {
      build({ breaker: { random: () => 0.999999 } });
      await tripBreaker();
      clock.advance(100);
      await expect(store.apply([check()], clock.nowMs())).rejects.toThrow(BackendUnavailableError);
      expect(primary.calls).toBe(4);
      expect(transitions.at(-1)).toMatchObject({ to: 'open', reason: 'probe_failed' });
      clock.advance(199);
      expect(store.isReady()).toBe(false);
    });
  });

  describe('time budget', () => {
    it('answers by the failure mode once a hung primary exceeds the budget', async () => {
      build({ failureMode: 'allow', timeoutMs: 10 });
      primary.behaviour = 'hang';
      let answered = false;
      const answer = store.apply([check()], clock.nowMs()).finally(() => {
        answered = true;
      });
      await elapse(9);
      expect(answered).toBe(false);
      await elapse(2); // the budget's timer at 10 ms, then the expiry's immediate (see exhaust)
      expect(answered).toBe(true);
      const [decision] = await answer;
      expect(decision?.degraded).toBe('allow');
      expect(store.stats()).toMatchObject({ primaryTimeouts: 1, abandoned: 1 });
    });

    it('rejects in mode error when the budget runs out', async () => {
      build({ timeoutMs: 5 });
      primary.behaviour = 'hang';
      const rejected = expect(store.apply([check()], clock.nowMs())).rejects.toThrow(/no answer within 5 ms/);
      await exhaust(5);
      await rejected;
    });

    it('ignores late answers, success or failure, without an unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const listener = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', listener);
      try {
        build({ failureMode: 'allow', timeoutMs: 5 });
        primary.behaviour = 'hang';
        const answers = [store.apply([check()], clock.nowMs()), store.apply([check()], clock.nowMs())];
        await exhaust(5);
        await Promise.all(answers);
        expect(store.stats().abandoned).toBe(2);
        primary.held[0]?.reject(new Error('late failure'));
        primary.held[1]?.resolve([{ overLimit: true, remaining: 0, resetSeconds: 1, used: 11 }]);
        await elapse(10);
        expect(unhandled).toEqual([]);
        expect(store.stats()).toMatchObject({ abandoned: 0, primaryFailures: 0, primaryTimeouts: 2 });
        expect(store.breakerState()).toBe('closed'); // 2 timeouts < 3; late answers change nothing
      } finally {
        process.off('unhandledRejection', listener);
      }
    });

    it('opens the circuit after 3 timeouts, so at most 3 calls are ever left hanging', async () => {
      build({ failureMode: 'local', timeoutMs: 5 });
      primary.behaviour = 'hang';
      for (let i = 0; i < 3; i++) {
        const answer = store.apply([check()], clock.nowMs());
        await exhaust(5);
        await answer;
      }
      for (let i = 0; i < 100; i++) await store.apply([check()], clock.nowMs());
      expect(primary.calls).toBe(3);
      expect(store.stats()).toMatchObject({ abandoned: 3, primaryTimeouts: 3, shortCircuited: 100 });
    });

    it('fails fast instead of piling more calls onto a hung primary than maxAbandoned', async () => {
      build({ failureMode: 'allow', timeoutMs: 5, maxAbandoned: 2, breaker: { minFailures: 1000 } });
      primary.behaviour = 'hang';
      const answers = [store.apply([check()], clock.nowMs()), store.apply([check()], clock.nowMs())];
      await exhaust(5);
      await Promise.all(answers);
      for (let i = 0; i < 20; i++) await store.apply([check()], clock.nowMs());
      expect(primary.calls).toBe(2);
      for (const call of primary.held) call.reject(new Error('gone'));
      await elapse(0);
      expect(store.stats().abandoned).toBe(0);
      primary.behaviour = 'ok';
      expect((await store.apply([check()], clock.nowMs()))[0]?.degraded).toBeUndefined();
    });
  });

  it('keeps memory bounded over 10,000 requests while the backend is down, probing once per backoff', async () => {
    build({ failureMode: 'local', breaker: { random: () => 0.999999 } });
    await tripBreaker();
    for (let i = 0; i < 10_000; i++) {
      clock.advance(60); // 10 minutes in all: windows keep ending
      await store.apply([check({ key: `k${i % 50}_` })], clock.nowMs());
    }
    const stats = store.stats();
    // 600 s down: backoffs 0.1, 0.2, … 6.4 s (12.7 s), then 10 s each → 7 + 59 probes at most
    expect(primary.calls).toBeGreaterThan(3);
    expect(primary.calls).toBeLessThanOrEqual(3 + 7 + 59);
    expect(stats.abandoned).toBe(0);
    expect(stats.fallbackKeys).toBeLessThanOrEqual(51); // live keys of the current window only
    expect(stats.degraded.local).toBe(10_003);
  });

  it('reports half-open on its own after the backoff, with no traffic (wake-up timer)', async () => {
    build({ wakeAfterBackoff: true, breaker: { minBackoffMs: 10 } });
    await tripBreaker();
    await elapse(9);
    expect(transitions.map((t) => t.to)).toEqual(['open']);
    await elapse(1);
    expect(transitions.map((t) => t.to)).toEqual(['open', 'half_open']);
    expect(primary.calls).toBe(3);
  });

  it('rejects after close and closes the primary', async () => {
    build({ failureMode: 'allow' });
    await store.close();
    expect(primary.closed).toBe(true);
    expect(store.isReady()).toBe(false);
    await expect(store.apply([check()], clock.nowMs())).rejects.toThrow(BackendUnavailableError);
  });
});
