import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../src/core/algorithm.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { isChargedWhenRejected } from '../../src/core/limit.js';
import type { CounterCheck } from '../../src/storage/counter-store.js';
import {
  MAX_CHECKS_PER_CALL,
  RedisCounterStore,
  type RedisCounterStoreOptions,
} from '../../src/storage/redis/redis-store.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/** RedisCounterStore's behaviour around the script: round trips, routing, errors, lifecycle. */

let main: RedisTestServer;
let perSecond: RedisTestServer;
let client: Redis;
let perSecondClient: Redis;

beforeAll(async () => {
  [main, perSecond] = await Promise.all([startRedisServer(), startRedisServer()]);
  client = new Redis(main.url, { enableAutoPipelining: true });
  perSecondClient = new Redis(perSecond.url, { enableAutoPipelining: true });
});

afterAll(async () => {
  client?.disconnect();
  perSecondClient?.disconnect();
  await Promise.all([main?.stop(), perSecond?.stop()]);
});

function options(extra: Partial<RedisCounterStoreOptions> = {}): RedisCounterStoreOptions {
  return {
    client,
    expirationJitterMaxSeconds: 0,
    stopIncrementWhenOverLimit: false,
    clockSource: 'caller',
    ...extra,
  };
}

function limit(key: string, algorithm: Algorithm, unitSeconds: number, tag = 'x_'): CounterCheck {
  const chargedWhenRejected = isChargedWhenRejected(algorithm, false);
  return {
    key,
    tag,
    requestsPerUnit: 10,
    unitSeconds,
    algorithm,
    burst: 10,
    hits: 1,
    blocking: true,
    chargedWhenRejected,
  };
}

/** Script calls (EVAL + EVALSHA) the server has run since its stats were last reset. */
async function scriptCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

const T = 1_000_000_000;

describe('RedisCounterStore', () => {
  it('makes exactly one script call for a request of four limits of mixed algorithms', async () => {
    const store = await RedisCounterStore.create(options());
    const checks = (['fixed_window', 'sliding_window', 'sliding_log', 'token_bucket'] as const).map((a, i) =>
      limit(`one_${i}_`, a, 60),
    );
    await store.apply(checks, T); // loads the script on the connection
    await client.config('RESETSTAT');
    await store.apply(checks, T);
    expect(await scriptCalls(client)).toBe(1);
  });

  it('sends limits of unit SECOND to the per-second Redis and the others to the main one (REDIS_PERSECOND)', async () => {
    const store = await RedisCounterStore.create(options({ perSecondClient }));
    const decisions = await store.apply(
      [limit('ps_', 'fixed_window', 1, ''), limit('ps_', 'token_bucket', 60, 'tb_')],
      T,
    );
    expect(decisions.map((d) => d.used)).toEqual([1, 1]);
    expect(await perSecondClient.exists('ps_1000000')).toBe(1);
    expect(await client.exists('ps_1000000')).toBe(0);
    expect(await client.exists('{ps_}tb_')).toBe(1);
    expect(await perSecondClient.exists('{ps_}tb_')).toBe(0);
  });

  it('keeps a rate_limits list on the main Redis with REDIS_PERSECOND, so a per-second rejection charges no other limit', async () => {
    const store = await RedisCounterStore.create(options({ perSecondClient }));
    const list = (unitSeconds: number, tag: string, requestsPerUnit: number): CounterCheck => ({
      ...limit('pl_', 'fixed_window', unitSeconds, tag),
      requestsPerUnit,
      burst: requestsPerUnit,
      chargedWhenRejected: isChargedWhenRejected('fixed_window', true),
    });
    const checks = [list(1, 'fw1_', 3), list(60, 'fw60_', 5)];
    const admitted: boolean[] = [];
    for (let i = 0; i < 4; i++) admitted.push(!(await store.apply(checks, T))[0]!.overLimit);
    expect(admitted).toEqual([true, true, true, false]);
    expect(await perSecondClient.keys('*pl_*')).toEqual([]);
    expect((await client.keys('*pl_*')).sort()).toEqual(['{pl_}fw1_1000000', '{pl_}fw60_999960']);
    expect(await client.get('{pl_}fw60_999960')).toBe('3'); // the rejected 4th request charged nothing
  });

  it('rejects with the Redis error itself when Redis refuses the script', async () => {
    const store = await RedisCounterStore.create(options());
    await client.hset('{err_}x_', 'not', 'a bucket');
    const failure = store.apply([limit('err_', 'token_bucket', 1)], T);
    await expect(failure).rejects.toBeInstanceOf(ReplyError);
    await expect(failure).rejects.toThrow(/WRONGTYPE/);
  });

  it('recovers from a flushed script cache (NOSCRIPT falls back to EVAL)', async () => {
    const store = await RedisCounterStore.create(options());
    await store.apply([limit('ns_', 'sliding_log', 60)], T);
    await client.script('FLUSH');
    const [decision] = await store.apply([limit('ns_', 'sliding_log', 60)], T);
    expect(decision!.used).toBe(2);
  });

  it('coalesces the requests of one tick into one script call and answers them in call order', async () => {
    const store = await RedisCounterStore.create(options());
    await store.apply([limit('warm_', 'token_bucket', 60)], T);
    await client.config('RESETSTAT');
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => store.apply([limit('co_', 'sliding_log', 60)], T)),
    );
    expect(await scriptCalls(client)).toBe(1);
    expect(decisions.map(([d]) => d!.overLimit)).toEqual([...Array(10).fill(false), ...Array(40).fill(true)]);
    expect(decisions.slice(0, 10).map(([d]) => d!.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('splits a tick into calls of at most MAX_CHECKS_PER_CALL checks', async () => {
    const store = await RedisCounterStore.create(options());
    await store.apply([limit('warm_', 'token_bucket', 60)], T);
    await client.config('RESETSTAT');
    const count = MAX_CHECKS_PER_CALL + 10;
    const decisions = await Promise.all(
      Array.from({ length: count }, () => store.apply([limit('max_', 'fixed_window', 60, '')], T)),
    );
    expect(await scriptCalls(client)).toBe(2);
    expect(decisions.at(-1)![0]!.used).toBe(count);
  });

  it('makes one call per request when coalescing is off', async () => {
    const store = await RedisCounterStore.create(options({ coalesce: false }));
    await store.apply([limit('warm_', 'token_bucket', 60)], T);
    await client.config('RESETSTAT');
    await Promise.all(Array.from({ length: 20 }, () => store.apply([limit('nc_', 'token_bucket', 60)], T)));
    expect(await scriptCalls(client)).toBe(20);
  });

  it('fails only the request that Redis refuses when requests share a call', async () => {
    const store = await RedisCounterStore.create(options());
    await client.set('{bad_}x_', 'not a log');
    const results = await Promise.allSettled([
      store.apply([limit('good1_', 'sliding_log', 60)], T),
      store.apply([limit('bad_', 'sliding_log', 60)], T),
      store.apply([limit('good2_', 'sliding_log', 60)], T),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const failure = (results[1] as PromiseRejectedResult).reason;
    expect(failure).toBeInstanceOf(ReplyError);
    expect(String(failure.message)).toMatch(/^WRONGTYPE/);
  });

  it('answers an empty request without calling Redis', async () => {
    const store = await RedisCounterStore.create(options());
    await client.config('RESETSTAT');
    expect(await store.apply([], T)).toEqual([]);
    expect(await scriptCalls(client)).toBe(0);
  });

  it('is ready while its clients are, and close() stops the store without quitting the clients it does not own', async () => {
    const own = new Redis(main.url);
    const store = await RedisCounterStore.create(options({ client: own }));
    await own.ping();
    expect(store.isReady()).toBe(true);
    await store.close();
    expect(store.isReady()).toBe(false);
    await expect(store.apply([limit('cl_', 'fixed_window', 1)], T)).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
    expect(await own.ping()).toBe('PONG');
    const other = await RedisCounterStore.create(options({ client: own }));
    const ended = new Promise((resolve) => own.once('end', resolve));
    own.disconnect();
    await ended;
    expect(other.isReady()).toBe(false);
  });

  it('loads the scripts from scriptsDir and fails to start when they are missing', async () => {
    await expect(RedisCounterStore.create(options({ scriptsDir: '/nonexistent/lua' }))).rejects.toThrow(
      /ENOENT/,
    );
  });
});
