import type { Algorithm } from '../../src/core/algorithm.js';
import type { CounterCheck, CounterDecision } from '../../src/storage/counter-store.js';
import type { ContractScenario } from './counter-store-contract.js';

/**
 * Contract scenarios for sliding_window, sliding_log, token_bucket and for
 * several limits in one decision (check all, then commit). Expected values
 * are worked out by hand from the definitions in src/core; every store must
 * give exactly these answers.
 */

/**
 * A check of any algorithm, as a lone `rate_limit` of it would be sent (only a fixed window
 * is then charged when rejected); `burst` defaults to the limit.
 */
export function limitCheck(
  key: string,
  algorithm: Algorithm,
  requestsPerUnit: number,
  unitSeconds: number,
  hits = 1,
  extra: Partial<Omit<CounterCheck, 'tag'>> & { tag?: string } = {},
): CounterCheck {
  return {
    key,
    tag: '',
    requestsPerUnit,
    unitSeconds,
    algorithm,
    burst: requestsPerUnit,
    hits,
    blocking: true,
    chargedWhenRejected: algorithm === 'fixed_window',
    ...extra,
  };
}

function decision(
  overLimit: boolean,
  remaining: number,
  resetSeconds: number,
  used: number,
): CounterDecision {
  return { overLimit, remaining, resetSeconds, used };
}

/** 1_000_020 s is a multiple of 60: an aligned minute. */
const T0 = 1_000_020_000;

const tb = (hits: number) => limitCheck('tb_', 'token_bucket', 10, 1, hits, { burst: 20 });
const sw = (hits: number) => limitCheck('sw_', 'sliding_window', 10, 60, hits);
const sl = (hits: number) => limitCheck('sl_', 'sliding_log', 3, 1, hits);

export const ALGORITHM_SCENARIOS: readonly ContractScenario[] = [
  {
    name: 'token bucket 10/s with burst 20 admits the burst at once, then refills one token per 100 ms',
    steps: [
      { atMs: T0, checks: [tb(20)], expect: [decision(false, 0, 2, 20)] },
      // the 21st waits for one token: 100 ms, reported as 1 s
      { atMs: T0, checks: [tb(1)], expect: [decision(true, 0, 1, 20)] },
      { atMs: T0 + 100, checks: [tb(1)], expect: [decision(false, 0, 2, 20)] },
      // 1 s later 10 tokens are back; this request takes one
      { atMs: T0 + 1_100, checks: [tb(1)], expect: [decision(false, 9, 2, 11)] },
    ],
  },
  {
    name: 'token bucket never charges a rejected request, even one larger than the burst',
    steps: [
      { atMs: T0, checks: [tb(21)], expect: [decision(true, 20, 1, 0)] },
      { atMs: T0, checks: [tb(20)], expect: [decision(false, 0, 2, 20)] },
    ],
  },
  {
    name: 'sliding window weighs the previous minute by the part of it still inside the window',
    steps: [
      { atMs: T0, checks: [sw(10)], expect: [decision(false, 0, 120, 10)] },
      // next window: 10 × (1 − t/60) + 0 + 1 ≤ 10 once t ≥ 6 s
      { atMs: T0, checks: [sw(1)], expect: [decision(true, 0, 66, 10)] },
      // 30 s into the next minute the previous 10 weigh 5
      { atMs: T0 + 90_000, checks: [sw(5)], expect: [decision(false, 0, 90, 10)] },
      { atMs: T0 + 90_000, checks: [sw(1)], expect: [decision(true, 0, 6, 10)] },
    ],
  },
  {
    name: 'sliding log counts weighted hits inside the last second exactly',
    steps: [
      { atMs: T0, checks: [sl(2)], expect: [decision(false, 1, 1, 2)] },
      { atMs: T0 + 400, checks: [sl(1)], expect: [decision(false, 0, 1, 3)] },
      // 2 more fit once the first 2 leave the window at T0 + 1 s
      { atMs: T0 + 500, checks: [sl(2)], expect: [decision(true, 0, 1, 3)] },
      { atMs: T0 + 1_000, checks: [sl(2)], expect: [decision(false, 0, 1, 3)] },
    ],
  },
  {
    name: 'answers a check-only request (hits 0) without charging it',
    steps: [
      {
        atMs: T0,
        checks: [tb(0), sl(0), sw(0)],
        expect: [decision(false, 20, 1, 0), decision(false, 3, 1, 0), decision(false, 10, 1, 0)],
      },
      { atMs: T0, checks: [sl(3)], expect: [decision(false, 0, 1, 3)] },
    ],
  },
  {
    name: 'charges none of the limits of a request that one blocking limit rejects',
    steps: [
      { atMs: T0, checks: [sl(3)], expect: [decision(false, 0, 1, 3)] },
      // the token bucket admits but is not charged: still 20 tokens
      { atMs: T0, checks: [tb(1), sl(1)], expect: [decision(false, 20, 1, 0), decision(true, 0, 1, 3)] },
      { atMs: T0, checks: [tb(20)], expect: [decision(false, 0, 2, 20)] },
    ],
  },
  {
    name: 'still charges the others when only a non-blocking (shadow or quota) limit is over',
    steps: [
      { atMs: T0, checks: [sl(3)], expect: [decision(false, 0, 1, 3)] },
      {
        atMs: T0,
        checks: [tb(1), { ...sl(1), blocking: false }],
        expect: [decision(false, 19, 1, 1), decision(true, 0, 1, 3)],
      },
    ],
  },
  {
    name: 'keeps a fixed window and a token bucket on the same entries apart by their key tags',
    steps: [
      {
        atMs: T0,
        checks: [limitCheck('k_', 'fixed_window', 1, 60), limitCheck('k_tb1_', 'token_bucket', 1, 1)],
        expect: [decision(false, 0, 60, 1), decision(false, 0, 1, 1)],
      },
      {
        atMs: T0 + 1_000,
        checks: [limitCheck('k_', 'fixed_window', 1, 60), limitCheck('k_tb1_', 'token_bucket', 1, 1)],
        // the fixed window rejects (and, as the reference, is charged); the bucket is not
        expect: [decision(true, 0, 59, 2), decision(false, 1, 1, 0)],
      },
    ],
  },
];
