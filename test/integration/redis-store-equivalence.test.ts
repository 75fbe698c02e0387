import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm } from '../../src/core/algorithm.js';
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
      .tuple(limitArb(algorithm), startArb, fc.boolean(), fc.boolean())
      .chain(([limit, start, stop, blocking]) =>
        stepsArb(limit, 40).map((steps) => ({ limit, start, stop, blocking, steps })),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ limit, start, stop, blocking, steps }) => {
        const prefix = freshPrefix();
        let now = start;
        const calls = steps.map((step): Call => {
          now += step.dtMs;
          const check: CounterCheck = {
            key: `${prefix}d_k_v_`,
            tag: algorithm === 'fixed_window' ? '' : 'x1_',
            requestsPerUnit: limit.requestsPerUnit,
            unitSeconds: limit.unitMs / 1000,
            algorithm,
            burst: limit.burst,
            hits: step.hits,
            blocking,
          };
          return { atMs: now, checks: [check] };
        });
        await compare(calls, stop);
      }),
      { numRuns: 100 },
    );
  });

  it('give identical decisions for requests of several mixed limits on two descriptors', async () => {
    const limitSpec = fc.record({
      descriptor: fc.constantFrom('a_', 'b_'),
      algorithm: fc.constantFrom(...ALGORITHMS),
      requestsPerUnit: fc.integer({ min: 0, max: 6 }),
      unitSeconds: fc.constantFrom(1, 60),
      extraBurst: fc.integer({ min: 0, max: 3 }),
      referenceKey: fc.boolean(),
    });
    const request = (limits: number) =>
      fc.record({
        dtMs: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 0, max: 400 }) },
          { weight: 2, arbitrary: fc.integer({ min: 0, max: 90_000 }) },
        ),
        picks: fc.array(
          fc.record({
            limit: fc.nat({ max: limits - 1 }),
            hits: fc.integer({ min: 0, max: 4 }),
            blocking: fc.boolean(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
      });
    const scenario = fc
      .tuple(fc.array(limitSpec, { minLength: 1, maxLength: 4 }), startArb, fc.boolean())
      .chain(([limits, start, stop]) =>
        fc
          .array(request(limits.length), { minLength: 1, maxLength: 30 })
          .map((requests) => ({ limits, start, stop, requests })),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ limits, start, stop, requests }) => {
        const prefix = freshPrefix();
        let now = start;
        const calls = requests.map((r): Call => {
          now += r.dtMs;
          const checks = r.picks.map(({ limit: index, hits, blocking }): CounterCheck => {
            const l = limits[index]!;
            return {
              key: prefix + l.descriptor,
              // one fixed window may use the reference's key; every other limit has its own tag (two
              // untagged windows of different units would share a key whenever their starts coincide)
              tag:
                l.algorithm === 'fixed_window' && l.referenceKey && index === 0
                  ? ''
                  : `${l.algorithm}${index}_`,
              requestsPerUnit: l.requestsPerUnit,
              unitSeconds: l.unitSeconds,
              algorithm: l.algorithm,
              burst:
                l.algorithm === 'token_bucket'
                  ? Math.max(1, l.requestsPerUnit + l.extraBurst)
                  : l.requestsPerUnit,
              hits,
              blocking,
            };
          });
          return { atMs: now, checks };
        });
        await compare(calls, stop);
      }),
      { numRuns: 150 },
    );
  });
});
