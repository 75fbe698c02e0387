import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm } from '../../src/core/algorithm.js';
import { isChargedWhenRejected } from '../../src/core/limit.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../src/storage/memory-store.js';
import { RedisCounterStore } from '../../src/storage/redis/redis-store.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';
import { limitArb, startArb, stepsArb } from '../unit/core/model-driver.js';

/**
 * The Lua scripts against the TypeScript models: on random request sequences
 * with the same manual clock, RedisCounterStore (clockSource 'caller') and
 * MemoryCounterStore give identical decisions, bit for bit (remaining, reset
 * and the fractional `used` of the sliding window included).
 *
 * The clock only moves forward: once a state has expired by the clock, stores
 * may drop it (the memory sweep, Redis TTLs and deletes), and a clock stepping
 * back afterwards sees "no state" or the old one depending on when each did.
 */

let server: RedisTestServer;
let client: Redis;
const stores = new Map<boolean, RedisCounterStore>();
let runs = 0;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url, { enableAutoPipelining: true });
  for (const stop of [false, true]) {
    stores.set(
      stop,
      await RedisCounterStore.create({
        client,
        expirationJitterMaxSeconds: 0,
        stopIncrementWhenOverLimit: stop,
        clockSource: 'caller',
      }),
    );
  }
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

/** A key prefix no other run uses, so runs need no flush. */
function freshPrefix(): string {
  runs += 1;
  return `eq${runs}_${Date.now().toString(36)}_`;
}

interface Call {
  readonly atMs: number;
  readonly checks: readonly CounterCheck[];
}

/** Decisions of both stores, call by call; the first difference is reported with its call index. */
async function compare(calls: readonly Call[], stopIncrementWhenOverLimit: boolean): Promise<void> {
  const redis: CounterStore = stores.get(stopIncrementWhenOverLimit)!;
  const memory = new MemoryCounterStore({ stopIncrementWhenOverLimit });
  for (const [index, call] of calls.entries()) {
    const expected: CounterDecision[] = await memory.apply(call.checks, call.atMs);
    const actual = await redis.apply(call.checks, call.atMs);
    expect(actual, `call ${index} at ${call.atMs}`).toEqual(expected);
  }
  await memory.close();
}

describe('RedisCounterStore and MemoryCounterStore on the same random sequences', () => {
  it.each(ALGORITHMS)('give identical decisions for one %s limit', async (algorithm: Algorithm) => {
    const scenario = fc
      .tuple(limitArb(algorithm), startArb, fc.boolean(), fc.boolean(), fc.boolean())
      .chain(([limit, start, stop, blocking, listed]) =>
        stepsArb(limit, 40).map((steps) => ({ limit, start, stop, blocking, listed, steps })),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ limit, start, stop, blocking, listed, steps }) => {
        const prefix = freshPrefix();
        let now = start;
        const calls = steps.map((step): Call => {
          now += step.dtMs;
          const check: CounterCheck = {
            key: `${prefix}d_k_v_`,
            // a lone fixed window has the reference's key; one in a rate_limits list is tagged
            tag: algorithm === 'fixed_window' && !listed ? '' : 'x1_',
            requestsPerUnit: limit.requestsPerUnit,
            unitSeconds: limit.unitMs / 1000,
            algorithm,
            burst: limit.burst,
            hits: step.hits,
            blocking,
            chargedWhenRejected: isChargedWhenRejected(algorithm, listed),
          };
          return { atMs: now, checks: [check] };
        });
        await compare(calls, stop);
      }),
      { numRuns: 100 },
    );
  });

  it('give identical decisions for requests over two descriptors, each a lone rate_limit or a rate_limits list', async () => {
    const limitSpec = fc.record({
      algorithm: fc.constantFrom(...ALGORITHMS),
      requestsPerUnit: fc.integer({ min: 0, max: 6 }),
      unitSeconds: fc.constantFrom(1, 60),
      extraBurst: fc.integer({ min: 0, max: 3 }),
    });
    // a descriptor's rule: one limit (`rate_limit`) or 1-3 (`rate_limits`), as the config makes them
    const ruleSpec = fc.oneof(
      fc.record({ listed: fc.constant(false), limits: fc.tuple(limitSpec) }),
      fc.record({ listed: fc.constant(true), limits: fc.array(limitSpec, { minLength: 1, maxLength: 3 }) }),
    );
    const request = fc.record({
      dtMs: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 400 }) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 90_000 }) },
      ),
      // descriptors of the request, in order (one may repeat, as in a real request)
      picks: fc.array(
        fc.record({
          descriptor: fc.nat({ max: 1 }),
          hits: fc.integer({ min: 0, max: 4 }),
          blocking: fc.boolean(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    });
    const scenario = fc.record({
      rules: fc.tuple(ruleSpec, ruleSpec),
      start: startArb,
      stop: fc.boolean(),
      requests: fc.array(request, { minLength: 1, maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ rules, start, stop, requests }) => {
        const prefix = freshPrefix();
        let now = start;
        const calls = requests.map((r): Call => {
          now += r.dtMs;
          // the service sends every limit of each matched descriptor, consecutively
          const checks = r.picks.flatMap(({ descriptor, hits, blocking }) => {
            const rule = rules[descriptor]!;
            return rule.limits.map(
              (l, index): CounterCheck => ({
                key: `${prefix}${descriptor}_`,
                // a lone fixed window has the reference's key; every other limit its own tag
                tag: l.algorithm === 'fixed_window' && !rule.listed ? '' : `${l.algorithm}${index}_`,
                requestsPerUnit: l.requestsPerUnit,
                unitSeconds: l.unitSeconds,
                algorithm: l.algorithm,
                burst:
                  l.algorithm === 'token_bucket'
                    ? Math.max(1, l.requestsPerUnit + l.extraBurst)
                    : l.requestsPerUnit,
                hits,
                blocking,
                chargedWhenRejected: isChargedWhenRejected(l.algorithm, rule.listed),
              }),
            );
          });
          return { atMs: now, checks };
        });
        await compare(calls, stop);
      }),
      { numRuns: 150 },
    );
  });
});
