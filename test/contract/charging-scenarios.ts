import type { Algorithm } from '../../src/core/algorithm.js';
import type { CounterCheck, CounterDecision } from '../../src/storage/counter-store.js';
import { limitCheck } from './algorithm-scenarios.js';
import type { ContractScenario } from './counter-store-contract.js';

/**
 * Contract scenarios for who is charged when a request is rejected
 * (DESIGN.md "Semantics we keep"): a limit of a `rate_limits` list is never
 * charged for a rejected request, whatever its algorithm, fixed_window
 * included; a lone fixed-window `rate_limit` keeps the reference's rule
 * (charged even when rejected, unless STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT).
 * Expected values are worked out by hand from src/core.
 */

const ALGORITHM_TAGS: Readonly<Record<Algorithm, string>> = {
  fixed_window: 'fw',
  sliding_window: 'sw',
  sliding_log: 'sl',
  token_bucket: 'tb',
};

/**
 * One limit of a `rate_limits` list on descriptor `key`, as the service sends it: tagged
 * (so every limit of the descriptor shares one Redis Cluster slot) and not charged when
 * the request is rejected.
 */
function listed(
  key: string,
  algorithm: Algorithm,
  requestsPerUnit: number,
  unitSeconds: number,
  hits = 1,
): CounterCheck {
  return limitCheck(key, algorithm, requestsPerUnit, unitSeconds, hits, {
    tag: `${ALGORITHM_TAGS[algorithm]}${unitSeconds}_`,
    chargedWhenRejected: false,
  });
}

/** A lone fixed-window `rate_limit`: the reference's key (tag '') and charging rule. */
function lone(key: string, requestsPerUnit: number, unitSeconds: number, hits = 1): CounterCheck {
  return limitCheck(key, 'fixed_window', requestsPerUnit, unitSeconds, hits, { chargedWhenRejected: true });
}

function ok(used: number, limit: number, resetSeconds: number): CounterDecision {
  return { overLimit: false, remaining: limit - used, resetSeconds, used };
}

function over(used: number, resetSeconds: number): CounterDecision {
  return { overLimit: true, remaining: 0, resetSeconds, used };
}

/** 1_000_020 s is a multiple of 60: an aligned minute. */
const T0 = 1_000_020_000;

/** rate_limits: [3/second, 5/minute], both fixed windows, on descriptor u_. */
const perSecondAndMinute = (hits = 1) => [
  listed('u_', 'fixed_window', 3, 1, hits),
  listed('u_', 'fixed_window', 5, 60, hits),
];

/** rate_limits: [token bucket 1/s (burst 1), fixed window 2/minute] on descriptor m_. */
const bucketAndMinute = () => [listed('m_', 'token_bucket', 1, 1), listed('m_', 'fixed_window', 2, 60)];

export const CHARGING_SCENARIOS: readonly ContractScenario[] = [
  {
    name: 'rate_limits [3/s, 5/min] fixed windows: the 4th request in a second costs no minute budget',
    steps: [
      { atMs: T0, checks: perSecondAndMinute(), expect: [ok(1, 3, 1), ok(1, 5, 60)] },
      { atMs: T0 + 100, checks: perSecondAndMinute(), expect: [ok(2, 3, 1), ok(2, 5, 60)] },
      { atMs: T0 + 200, checks: perSecondAndMinute(), expect: [ok(3, 3, 1), ok(3, 5, 60)] },
      // rejected by the second: neither window is charged (the second stays at 3, the minute at 3)
      { atMs: T0 + 300, checks: perSecondAndMinute(), expect: [over(3, 1), ok(3, 5, 60)] },
      // next second: the minute still has 2 of its 5
      { atMs: T0 + 1_000, checks: perSecondAndMinute(), expect: [ok(1, 3, 1), ok(4, 5, 59)] },
      { atMs: T0 + 1_100, checks: perSecondAndMinute(), expect: [ok(2, 3, 1), ok(5, 5, 59)] },
      // rejected by the minute: the second admits but is not charged either
      { atMs: T0 + 1_200, checks: perSecondAndMinute(), expect: [ok(2, 3, 1), over(5, 59)] },
      { atMs: T0 + 60_000, checks: perSecondAndMinute(), expect: [ok(1, 3, 1), ok(1, 5, 60)] },
    ],
  },
  {
    name: 'rate_limits [3/s, 5/min] fixed windows with stop-increment: the window going over is not charged either',
    store: { stopIncrementWhenOverLimit: true },
    steps: [
      { atMs: T0, checks: perSecondAndMinute(3), expect: [ok(3, 3, 1), ok(3, 5, 60)] },
      { atMs: T0 + 100, checks: perSecondAndMinute(), expect: [over(3, 1), ok(3, 5, 60)] },
      { atMs: T0 + 1_000, checks: perSecondAndMinute(2), expect: [ok(2, 3, 1), ok(5, 5, 59)] },
    ],
  },
  {
    name: 'rate_limits [token bucket, fixed window]: neither is charged when the other rejects',
    steps: [
      { atMs: T0, checks: bucketAndMinute(), expect: [ok(1, 1, 1), ok(1, 2, 60)] },
      // the bucket rejects (its token is back at T0 + 1 s): the window stays at 1
      { atMs: T0 + 500, checks: bucketAndMinute(), expect: [over(1, 1), ok(1, 2, 60)] },
      { atMs: T0 + 1_000, checks: bucketAndMinute(), expect: [ok(1, 1, 1), ok(2, 2, 59)] },
      // the window rejects: the bucket admits but keeps its token (remaining 1, nothing in use)
      { atMs: T0 + 2_000, checks: bucketAndMinute(), expect: [ok(0, 1, 1), over(2, 58)] },
    ],
  },
  {
    name: 'a lone fixed window is charged when a rate_limits list rejects the request, and not the reverse',
    steps: [
      {
        atMs: T0,
        checks: [lone('a_', 10, 60), listed('b_', 'fixed_window', 1, 1)],
        expect: [ok(1, 10, 60), ok(1, 1, 1)],
      },
      // the list rejects: the lone window is charged anyway (the reference), the list is not
      {
        atMs: T0 + 100,
        checks: [lone('a_', 10, 60), listed('b_', 'fixed_window', 1, 1)],
        expect: [ok(2, 10, 60), over(1, 1)],
      },
      // the lone window rejects (and is charged): the list admits but is not charged
      {
        atMs: T0 + 1_000,
        checks: [lone('a_', 10, 60, 9), listed('b_', 'fixed_window', 1, 1)],
        expect: [over(11, 59), ok(0, 1, 1)],
      },
    ],
  },
  {
    name: 'with stop-increment, a rate_limits list going over stops the lone fixed window being charged',
    store: { stopIncrementWhenOverLimit: true },
    steps: [
      {
        atMs: T0,
        checks: [lone('a_', 10, 60, 5), listed('b_', 'fixed_window', 2, 1)],
        expect: [ok(5, 10, 60), ok(1, 2, 1)],
      },
      // 2 more hits do not fit b's 2/s (1 left, which stays): b is not charged, and stops a's charge
      {
        atMs: T0 + 100,
        checks: [lone('a_', 10, 60), listed('b_', 'fixed_window', 2, 1, 2)],
        expect: [ok(5, 10, 60), { overLimit: true, remaining: 1, resetSeconds: 1, used: 1 }],
      },
      {
        atMs: T0 + 200,
        checks: [lone('a_', 10, 60), listed('b_', 'fixed_window', 2, 1)],
        expect: [ok(6, 10, 60), ok(2, 2, 1)],
      },
    ],
  },
];
