import { afterEach, describe, expect, it } from 'vitest';
import type { CounterCheck, CounterDecision, CounterStore } from '../../src/storage/counter-store.js';
import { ALGORITHM_SCENARIOS } from './algorithm-scenarios.js';
import { CHARGING_SCENARIOS } from './charging-scenarios.js';

/** How a scenario needs its store configured; every factory must honour it. */
export interface ContractStoreOptions {
  /** STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT. */
  readonly stopIncrementWhenOverLimit: boolean;
}

/** One `apply` call and the decisions it must return, in check order. */
export interface ContractStep {
  /** Service clock, ms since the Unix epoch. */
  readonly atMs: number;
  readonly checks: readonly CounterCheck[];
  readonly expect: readonly CounterDecision[];
}

export interface ContractScenario {
  /** States the behaviour; used as the test name. */
  readonly name: string;
  readonly store?: Partial<ContractStoreOptions>;
  readonly steps: readonly ContractStep[];
}

const SECOND = 1;
const MINUTE = 60;
const DAY = 86_400;

/**
 * A lone fixed-window `rate_limit` check (the reference's key and charging rule); `key` is the
 * counter identity without the window, as counterKey in core/key-layout.ts makes it.
 */
export function check(key: string, requestsPerUnit: number, unitSeconds: number, hits = 1): CounterCheck {
  return {
    key,
    tag: '',
    requestsPerUnit,
    unitSeconds,
    algorithm: 'fixed_window',
    burst: requestsPerUnit,
    hits,
    blocking: true,
    chargedWhenRejected: true,
  };
}

/** An OK decision: `used` after this call, `resetSeconds` until the window ends. */
export function ok(used: number, limit: number, resetSeconds: number): CounterDecision {
  return { overLimit: false, remaining: limit - used, resetSeconds, used };
}

export function over(used: number, resetSeconds: number): CounterDecision {
  return { overLimit: true, remaining: 0, resetSeconds, used };
}

/** `count` single-hit steps on one 10/s key at `atMs`, expecting used 1..count (all within the limit). */
function hitsWithin(atMs: number, count: number, key = 'k_'): ContractStep[] {
  return Array.from({ length: count }, (_, i) => ({
    atMs,
    checks: [check(key, 10, SECOND)],
    expect: [ok(i + 1, 10, 1)],
  }));
}

/** Scenarios every CounterStore must pass with identical answers. Times: t = 1_000_000 s unless stated. */
export const COUNTER_STORE_SCENARIOS: readonly ContractScenario[] = [
  {
    name: 'returns OVER_LIMIT on the 11th hit inside one 10/s window',
    steps: [
      ...hitsWithin(1_000_000_000, 10),
      { atMs: 1_000_000_999, checks: [check('k_', 10, SECOND)], expect: [over(11, 1)] },
    ],
  },
  {
    name: 'admits the hit that reaches the limit exactly, with 0 remaining',
    steps: [{ atMs: 1_000_000_000, checks: [check('k_', 5, SECOND, 5)], expect: [ok(5, 5, 1)] }],
  },
  {
    name: 'resets the window at the epoch-aligned boundary, not one unit after the first hit',
    steps: [
      { atMs: 1_000_019_500, checks: [check('k_', 2, MINUTE, 3)], expect: [over(3, 1)] },
      { atMs: 1_000_019_999, checks: [check('k_', 2, MINUTE)], expect: [over(4, 1)] },
      // 1_000_020 s is a multiple of 60: a new window 0.5 s after the first hit.
      { atMs: 1_000_020_000, checks: [check('k_', 2, MINUTE)], expect: [ok(1, 2, 60)] },
    ],
  },
  {
    name: 'reports duration_until_reset in whole seconds from 1 to unit_s, never 0',
    steps: [
      { atMs: 2_222_000, checks: [check('a_', 10, MINUTE)], expect: [ok(1, 10, 58)] },
      { atMs: 2_222_999, checks: [check('a_', 10, MINUTE)], expect: [ok(2, 10, 58)] },
      { atMs: 2_279_999, checks: [check('a_', 10, MINUTE)], expect: [ok(3, 10, 1)] },
      { atMs: 2_280_000, checks: [check('a_', 10, MINUTE)], expect: [ok(1, 10, 60)] },
    ],
  },
  {
    name: 'aligns DAY windows to UTC midnight (reset 36800 s at t = 1000000)',
    steps: [{ atMs: 1_000_000_000, checks: [check('d_', 100, DAY)], expect: [ok(1, 100, 36_800)] }],
  },
  {
    name: 'checks without charging when hits is 0',
    steps: [
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND, 3)], expect: [ok(3, 10, 1)] },
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND, 0)], expect: [ok(3, 10, 1)] },
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND, 1)], expect: [ok(4, 10, 1)] },
    ],
  },
  {
    name: 'reports the whole limit remaining for a 0-hit check on a fresh counter',
    steps: [{ atMs: 1_000_000_000, checks: [check('fresh_', 10, SECOND, 0)], expect: [ok(0, 10, 1)] }],
  },
  {
    name: 'answers OVER_LIMIT to a 0-hit check on a counter already over its limit',
    steps: [
      { atMs: 1_000_000_000, checks: [check('k_', 2, SECOND, 3)], expect: [over(3, 1)] },
      { atMs: 1_000_000_000, checks: [check('k_', 2, SECOND, 0)], expect: [over(3, 1)] },
    ],
  },
  {
    name: 'still charges rejected hits in compatibility mode',
    steps: [
      ...hitsWithin(1_000_000_000, 10),
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND, 2)], expect: [over(12, 1)] },
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND)], expect: [over(13, 1)] },
    ],
  },
  {
    name: 'poisons the window when one addend is larger than the limit on a fresh counter',
    steps: [
      { atMs: 1_000_000_000, checks: [check('k_', 5, MINUTE, 7)], expect: [over(7, 20)] },
      { atMs: 1_000_000_000, checks: [check('k_', 5, MINUTE, 0)], expect: [over(7, 20)] },
    ],
  },
  {
    name: 'charges two checks on one key in one call in order',
    steps: [
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND, 9)], expect: [ok(9, 10, 1)] },
      {
        atMs: 1_000_000_000,
        checks: [check('k_', 10, SECOND), check('k_', 10, SECOND)],
        expect: [ok(10, 10, 1), over(11, 1)],
      },
    ],
  },
  {
    name: 'keeps counters of different keys apart and answers in check order',
    steps: [
      {
        atMs: 1_000_000_000,
        checks: [check('a_', 1, SECOND, 2), check('b_', 5, MINUTE, 2), check('c_', 3, SECOND, 0)],
        expect: [over(2, 1), ok(2, 5, 20), ok(0, 3, 1)],
      },
    ],
  },
  {
    name: 'with stop-increment, charges only the check going over when one would go over',
    store: { stopIncrementWhenOverLimit: true },
    steps: [
      {
        atMs: 1_000_000_000,
        checks: [check('a_', 10, MINUTE, 5), check('b_', 2, MINUTE, 2)],
        expect: [ok(5, 10, 20), ok(2, 2, 20)],
      },
      {
        atMs: 1_000_000_000,
        checks: [check('a_', 10, MINUTE), check('b_', 2, MINUTE)],
        expect: [ok(5, 10, 20), over(3, 20)],
      },
      { atMs: 1_000_000_000, checks: [check('a_', 10, MINUTE)], expect: [ok(6, 10, 20)] },
    ],
  },
  {
    name: 'with stop-increment, charges every check when none would go over',
    store: { stopIncrementWhenOverLimit: true },
    steps: [
      {
        atMs: 1_000_000_000,
        checks: [check('a_', 10, MINUTE, 10), check('b_', 2, MINUTE, 1)],
        expect: [ok(10, 10, 20), ok(1, 2, 20)],
      },
    ],
  },
  {
    name: 'with stop-increment, judges checks on one key against the counter before the call',
    store: { stopIncrementWhenOverLimit: true },
    steps: [
      { atMs: 1_000_000_000, checks: [check('k_', 10, SECOND, 9)], expect: [ok(9, 10, 1)] },
      {
        atMs: 1_000_000_000,
        checks: [check('k_', 10, SECOND), check('k_', 10, SECOND)],
        expect: [ok(10, 10, 1), over(11, 1)],
      },
    ],
  },
  {
    name: 'without stop-increment, charges a check within its limit even when another goes over',
    steps: [
      {
        atMs: 1_000_000_000,
        checks: [check('a_', 10, MINUTE, 5), check('b_', 2, MINUTE, 3)],
        expect: [ok(5, 10, 20), over(3, 20)],
      },
      { atMs: 1_000_000_000, checks: [check('a_', 10, MINUTE)], expect: [ok(6, 10, 20)] },
    ],
  },
];

/**
 * Runs every scenario against fresh stores from `makeStore`. Keys get a prefix
 * unique to the run and scenario, so stores sharing a server (Redis) need no
 * flush. Each store is closed after its scenario.
 */
export function runCounterStoreContract(
  name: string,
  makeStore: (options: ContractStoreOptions) => Promise<CounterStore> | CounterStore,
): void {
  const run = `ct${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  describe(`CounterStore contract: ${name}`, () => {
    let store: CounterStore | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });
    [...COUNTER_STORE_SCENARIOS, ...ALGORITHM_SCENARIOS, ...CHARGING_SCENARIOS].forEach((scenario, index) => {
      it(scenario.name, async () => {
        store = await makeStore({ stopIncrementWhenOverLimit: false, ...scenario.store });
        const prefix = `${run}_${index}_`;
        for (const [stepIndex, step] of scenario.steps.entries()) {
          const checks = step.checks.map((c) => ({ ...c, key: prefix + c.key }));
          const decisions = await store.apply(checks, step.atMs);
          expect(decisions, `step ${stepIndex}`).toEqual(step.expect);
        }
      });
    });
  });
}
