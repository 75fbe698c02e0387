import { describe, expect, it } from 'vitest';
import {
  type BreakerTransition,
  CircuitBreaker,
  type CircuitBreakerOptions,
  DENIED,
} from '../../../src/storage/circuit-breaker.js';
import { ManualClock } from '../../support/manual-clock.js';

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new ManualClock(1_000_000);
  const transitions: BreakerTransition[] = [];
  const breaker = new CircuitBreaker({
    clock,
    random: () => 0.5,
    onStateChange: (transition) => transitions.push(transition),
    ...options,
  });
  return { clock, breaker, transitions };
}

/** Opens a closed breaker with the default rule: 10 failures, all of the window's calls. */
function trip(breaker: CircuitBreaker): void {
  fail(breaker, 10);
}

/** Fails `n` calls in a row. */
function fail(breaker: CircuitBreaker, n: number, kind: 'error' | 'timeout' = 'error'): void {
  for (let i = 0; i < n; i++) breaker.failure(breaker.acquire(), kind);
}

describe('CircuitBreaker', () => {
  it('stays closed below the minimum number of failures, however high the ratio', () => {
    const { breaker } = setup();
    fail(breaker, 9);
    expect(breaker.state()).toBe('closed');
    expect(breaker.acquire()).not.toBe(DENIED);
  });

  it('opens on the 10th failure in the window when failures are at least half the calls, and refuses calls while open', () => {
    const { breaker, transitions, clock } = setup();
    for (let i = 0; i < 9; i++) {
      breaker.failure(breaker.acquire(), 'timeout');
      breaker.success(breaker.acquire());
    }
    expect(breaker.state()).toBe('closed');
    breaker.failure(breaker.acquire(), 'error');
    expect(breaker.state()).toBe('open');
    expect(breaker.isOpen()).toBe(true);
    expect(breaker.acquire()).toBe(DENIED);
    expect(transitions).toEqual([
      {
        from: 'closed',
        to: 'open',
        reason: 'failure_rate',
        atMs: clock.nowMs(),
        retryAtMs: 1_000_100,
        failures: 10,
        calls: 19,
      },
    ]);
  });

  it('stays closed under many failures that are a minority of the calls (a slow share, not an outage)', () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 200; i++) {
      breaker.failure(breaker.acquire(), 'timeout');
      breaker.success(breaker.acquire());
      breaker.success(breaker.acquire());
      clock.advance(10);
    }
    expect(breaker.state()).toBe('closed');
  });

  it('forgets failures older than the window', () => {
    const { breaker, clock } = setup({ windowMs: 1_000 });
    fail(breaker, 9);
    clock.advance(1_000);
    fail(breaker, 9);
    expect(breaker.state()).toBe('closed');
    fail(breaker, 1);
    expect(breaker.state()).toBe('open');
  });

  it('honours a configured minimum and ratio', () => {
    const { breaker } = setup({ minFailures: 3, failureRatio: 0.25 });
    breaker.failure(breaker.acquire(), 'error');
    for (let i = 0; i < 8; i++) breaker.success(breaker.acquire());
    fail(breaker, 1);
    expect(breaker.state()).toBe('closed'); // 2 failures
    fail(breaker, 1);
    expect(breaker.state()).toBe('open'); // 3 of 11 ≥ 25 %
  });

  it('wakes an open breaker at once when the backend reports ready, without waiting for the backoff', () => {
    const { breaker, transitions } = setup();
    trip(breaker);
    expect(breaker.acquire()).toBe(DENIED);
    breaker.wake();
    expect(transitions.at(-1)).toMatchObject({ from: 'open', to: 'half_open', reason: 'backend_ready' });
    const probe = breaker.acquire();
    expect(probe).not.toBe(DENIED);
    expect(breaker.acquire()).toBe(DENIED);
    breaker.success(probe);
    expect(breaker.state()).toBe('closed');
    breaker.wake(); // closed: nothing happens
    expect(transitions).toHaveLength(3);
  });

  it('lets exactly one probe through once the backoff has elapsed', () => {
    const { breaker, clock, transitions } = setup();
    trip(breaker);
    clock.advance(99);
    expect(breaker.acquire()).toBe(DENIED);
    clock.advance(1);
    const probe = breaker.acquire();
    expect(probe).not.toBe(DENIED);
    expect(breaker.state()).toBe('half_open');
    expect(breaker.isOpen()).toBe(false);
    for (let i = 0; i < 5; i++) expect(breaker.acquire()).toBe(DENIED);
    expect(transitions.map((t) => t.reason)).toEqual(['failure_rate', 'backoff_elapsed']);
  });

  it('closes when the probe succeeds and starts the backoff over', () => {
    const { breaker, clock, transitions } = setup({ random: () => 0.999 });
    trip(breaker);
    clock.advance(100);
    breaker.failure(breaker.acquire(), 'error'); // second opening: up to 200 ms
    clock.advance(200);
    breaker.success(breaker.acquire());
    expect(breaker.state()).toBe('closed');
    expect(transitions.at(-1)).toMatchObject({ from: 'half_open', to: 'closed', reason: 'probe_succeeded' });
    trip(breaker);
    expect(breaker.retryAtMs()).toBe(clock.nowMs() + 100);
  });

  it('re-opens with the next, longer backoff when the probe fails', () => {
    const { breaker, clock, transitions } = setup({ random: () => 0.999999 });
    trip(breaker);
    clock.advance(100);
    breaker.failure(breaker.acquire(), 'timeout');
    expect(breaker.state()).toBe('open');
    expect(transitions.at(-1)).toMatchObject({ from: 'half_open', to: 'open', reason: 'probe_failed' });
    expect(breaker.retryAtMs()! - clock.nowMs()).toBeCloseTo(200, 3);
  });

  it('grows the backoff ceiling exponentially up to the cap', () => {
    const { breaker, clock } = setup({ random: () => 0.999999, minBackoffMs: 100, maxBackoffMs: 1000 });
    const waits: number[] = [];
    trip(breaker);
    for (let i = 0; i < 6; i++) {
      const wait = breaker.retryAtMs()! - clock.nowMs();
      waits.push(Math.round(wait));
      clock.advance(wait);
      breaker.failure(breaker.acquire(), 'error');
    }
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(breaker.backoffCeilingMs(200)).toBe(1000);
  });

  it('draws each backoff uniformly between the minimum and the ceiling (full jitter)', () => {
    let next = 0;
    const draws = [0.9, 0, 0.25];
    const { breaker, clock } = setup({ random: () => draws[next++] ?? 0 });
    trip(breaker);
    expect(breaker.retryAtMs()! - clock.nowMs()).toBe(100); // ceiling 100: no room to jitter
    clock.advance(100);
    breaker.failure(breaker.acquire(), 'error'); // ceiling 200, draw 0 → 100
    expect(breaker.retryAtMs()! - clock.nowMs()).toBe(100);
    clock.advance(100);
    breaker.failure(breaker.acquire(), 'error'); // ceiling 400, draw 0.25 → 100 + 75
    expect(breaker.retryAtMs()! - clock.nowMs()).toBe(175);
  });

  it('ignores outcomes of calls started before the last state change', () => {
    const { breaker, clock } = setup();
    const early = breaker.acquire();
    const late = breaker.acquire();
    trip(breaker);
    breaker.success(early); // must not close an open breaker
    expect(breaker.state()).toBe('open');
    clock.advance(100);
    const probe = breaker.acquire();
    breaker.failure(late, 'timeout'); // must not re-open or spend the probe
    expect(breaker.state()).toBe('half_open');
    breaker.success(probe);
    expect(breaker.state()).toBe('closed');
  });

  it('reports half-open from poll() without spending the probe', () => {
    const { breaker, clock, transitions } = setup();
    trip(breaker);
    clock.advance(100);
    expect(transitions).toHaveLength(1);
    breaker.poll();
    expect(transitions.at(-1)).toMatchObject({ to: 'half_open', reason: 'backoff_elapsed' });
    expect(breaker.acquire()).not.toBe(DENIED);
    expect(breaker.acquire()).toBe(DENIED);
  });
});
