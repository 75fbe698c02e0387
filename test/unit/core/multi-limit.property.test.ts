import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MODELS } from '../../../src/core/models.js';
import { applyChecks, limitParams, type StateAccess } from '../../../src/storage/apply-checks.js';
import type { CounterCheck } from '../../../src/storage/counter-store.js';
import { startArb, T0 } from './model-driver.js';

/**
 * `applyChecks` (the decision procedure of every store) with several limits
 * on one request: all are checked first, and a request rejected by one
 * blocking limit charges none of them.
 */
class MapStates implements StateAccess {
  readonly map = new Map<string, unknown>();
  get(key: string): unknown {
    return this.map.get(key);
  }
  set(key: string, state: unknown): void {
    this.map.set(key, state);
  }
}

function bucket(hits: number, rate = 2, burst = 3): CounterCheck {
  const limit = { requestsPerUnit: rate, unitSeconds: 1, burst };
  return {
    key: 'api_user_u1_',
    tag: 'tb1_',
    algorithm: 'token_bucket',
    hits,
    blocking: true,
    chargedWhenRejected: false,
    ...limit,
  };
}

function log(hits: number, requestsPerUnit = 5, blocking = true): CounterCheck {
  const limit = { requestsPerUnit, unitSeconds: 60, burst: requestsPerUnit };
  return {
    key: 'api_user_u1_',
    tag: 'sl60_',
    algorithm: 'sliding_log',
    hits,
    blocking,
    chargedWhenRejected: false,
    ...limit,
  };
}

const NO_STOP = { stopIncrementWhenOverLimit: false };

/** What every check would answer for `hits` at `at` from the stored states: equal answers = equal states. */
function probe(states: MapStates, checks: readonly CounterCheck[], hits: number, at: number) {
  return checks.map((c) => MODELS[c.algorithm].evaluate(states.get(c.key + c.tag), limitParams(c), hits, at));
}

describe('applyChecks with two limits on one request', () => {
  it('charges neither limit when the token bucket rejects', () => {
    const states = new MapStates();
    // the bucket holds 3; the log allows 5 per minute
    expect(applyChecks([bucket(3), log(3)], T0, states, NO_STOP).map((d) => d.overLimit)).toEqual([
      false,
      false,
    ]);
    const before = probe(states, [bucket(1), log(1)], 1, T0 + 10);
    const over = applyChecks([bucket(1), log(1)], T0 + 10, states, NO_STOP);
    expect(over.map((d) => d.overLimit)).toEqual([true, false]);
    expect(over[1]!.remaining).toBe(2);
    expect(probe(states, [bucket(1), log(1)], 1, T0 + 10)).toEqual(before);
  });

  it('charges neither limit when the sliding log rejects', () => {
    const states = new MapStates();
    applyChecks([bucket(2, 10, 10), log(5)], T0, states, NO_STOP);
    const checks = [bucket(1, 10, 10), log(1)];
    const before = probe(states, checks, 1, T0 + 1_000);
    const over = applyChecks(checks, T0 + 1_000, states, NO_STOP);
    expect(over.map((d) => d.overLimit)).toEqual([false, true]);
    expect(probe(states, checks, 1, T0 + 1_000)).toEqual(before);
  });

  it('still charges the others when only a non-blocking (shadow) limit is over', () => {
    const states = new MapStates();
    const decisions = applyChecks([bucket(2), log(2, 1, false)], T0, states, NO_STOP);
    expect(decisions.map((d) => d.overLimit)).toEqual([false, true]);
    expect(states.get('api_user_u1_tb1_')).toEqual({ tatMs: T0 + 1_000 });
    expect(states.get('api_user_u1_sl60_')).toBeUndefined();
  });

  it('admits only traffic both limits allow, and a rejected request never changes either state', () => {
    const requestArb = fc.record({
      dtMs: fc.integer({ min: 0, max: 30_000 }),
      hits: fc.integer({ min: 0, max: 6 }),
    });
    const scenario = fc.record({
      start: startArb,
      rate: fc.integer({ min: 1, max: 4 }),
      burst: fc.integer({ min: 1, max: 6 }),
      logLimit: fc.integer({ min: 0, max: 6 }),
      requests: fc.array(requestArb, { minLength: 1, maxLength: 40 }),
      probeHits: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(scenario, (s) => {
        const states = new MapStates();
        const admitted: { atMs: number; hits: number }[] = [];
        let now = s.start;
        for (const r of s.requests) {
          now += r.dtMs;
          const checks = [bucket(r.hits, s.rate, s.burst), log(r.hits, s.logLimit)];
          const before = probe(states, checks, s.probeHits, now);
          const decisions = applyChecks(checks, now, states, NO_STOP);
          // each limit answers as its own model would from the stored state (uncharged is equivalent to it)
          expect(decisions.map((d) => d.overLimit)).toEqual(
            checks.map(
              (c, i) =>
                !MODELS[c.algorithm].evaluate(before[i]!.uncharged, limitParams(c), r.hits, now).admitted,
            ),
          );
          if (decisions.some((d) => d.overLimit)) {
            expect(probe(states, checks, s.probeHits, now)).toEqual(before);
          } else if (r.hits > 0) {
            admitted.push({ atMs: now, hits: r.hits });
          }
          // the exact log only ever saw requests both limits admitted
          const inLastMinute = admitted.filter((a) => a.atMs > now - 60_000).reduce((n, a) => n + a.hits, 0);
          expect(inLastMinute).toBeLessThanOrEqual(s.logLimit);
        }
      }),
    );
  });
});

/** A fixed window 10/minute charged 2 hits per request: lone (another descriptor, the reference's key) or in the bucket's list. */
function window(lone: boolean): CounterCheck {
  return {
    key: lone ? 'api_route_r1_' : 'api_user_u1_',
    tag: lone ? '' : 'fw60_',
    algorithm: 'fixed_window',
    requestsPerUnit: 10,
    unitSeconds: 60,
    burst: 10,
    hits: 2,
    blocking: true,
    chargedWhenRejected: lone,
  };
}

describe('applyChecks with a fixed window beside another limit', () => {
  it('charges a lone fixed window even when another limit rejects, as the reference would', () => {
    const states = new MapStates();
    applyChecks([bucket(3), window(true)], T0, states, NO_STOP);
    const decisions = applyChecks([bucket(2), window(true)], T0, states, NO_STOP);
    expect(decisions.map((d) => d.overLimit)).toEqual([true, false]);
    expect(decisions[1]!.used).toBe(4);
    const stopped = applyChecks([bucket(2), window(true)], T0, states, { stopIncrementWhenOverLimit: true });
    expect(stopped[1]!.used).toBe(4);
  });

  it('never charges a fixed window of a rate_limits list for a request another limit rejects', () => {
    const states = new MapStates();
    applyChecks([bucket(3), window(false)], T0, states, NO_STOP);
    const decisions = applyChecks([bucket(2), window(false)], T0, states, NO_STOP);
    expect(decisions.map((d) => [d.overLimit, d.used])).toEqual([
      [true, 3],
      [false, 2],
    ]);
    // T0 is a whole minute: the window's key ends with its start in seconds
    expect(states.get(`api_user_u1_fw60_${T0 / 1000}`)).toEqual({ windowStartMs: T0, count: 2 });
  });

  it('never charges a fixed window of a rate_limits list that rejects, even with stop-increment', () => {
    const states = new MapStates();
    const over = { ...window(false), hits: 11 };
    for (const stopIncrementWhenOverLimit of [false, true]) {
      const [decision] = applyChecks([over], T0, states, { stopIncrementWhenOverLimit });
      expect(decision).toMatchObject({ overLimit: true, used: 0 });
    }
    expect(states.map.size).toBe(0);
  });
});
