import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../src/core/algorithm.js';
import { isChargedWhenRejected } from '../../src/core/limit.js';
import type { CounterCheck } from '../../src/storage/counter-store.js';
import { RedisCounterStore } from '../../src/storage/redis/redis-store.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/** No key outlives its usefulness: TTLs end when the state stops mattering (jitter 0 here). */

let server: RedisTestServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

function limit(
  key: string,
  algorithm: Algorithm,
  requestsPerUnit: number,
  burst = requestsPerUnit,
  hits = 1,
) {
  return {
    key,
    tag: algorithm === 'fixed_window' ? '' : 'x_',
    requestsPerUnit,
    unitSeconds: 1,
    algorithm,
    burst,
    hits,
    blocking: true,
    chargedWhenRejected: isChargedWhenRejected(algorithm, false),
  } satisfies CounterCheck;
}

describe('Redis key expiry', () => {
  it('expires every key once its window has passed, by Redis TIME', async () => {
    const store = await RedisCounterStore.create({
      client,
      expirationJitterMaxSeconds: 0,
      stopIncrementWhenOverLimit: false,
      clockSource: 'redis',
    });
    const now = Date.now();
    await store.apply(
      [
        limit('exp_fw_', 'fixed_window', 10),
        limit('exp_sw_', 'sliding_window', 10),
        limit('exp_sl_', 'sliding_log', 10),
        // 10/s with a bucket of 1: full again 100 ms after one hit
        limit('exp_tb_', 'token_bucket', 10, 1),
      ],
      now,
    );
    const fixedKey = `exp_fw_${Math.floor(now / 1000)}`;
    const ttl = async () =>
      Promise.all([fixedKey, '{exp_sw_}x_', '{exp_sl_}x_', '{exp_tb_}x_'].map((k) => client.pttl(k)));
    const [fw, sw, sl, tb] = await ttl();
    expect(fw).toBeGreaterThan(0);
    expect(fw).toBeLessThanOrEqual(1_000);
    // sliding window: until the end of the next window (<= 2 unit from now)
    expect(sw).toBeGreaterThan(1_000 - (now % 1000) - 50);
    expect(sw).toBeLessThanOrEqual(2_000);
    expect(sl).toBeGreaterThan(900);
    expect(sl).toBeLessThanOrEqual(1_000);
    expect(tb).toBeGreaterThan(0);
    expect(tb).toBeLessThanOrEqual(100);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const after = await ttl();
    // -2: the key no longer exists
    expect([after[0], after[2], after[3]]).toEqual([-2, -2, -2]);
    expect(after[1]!).toBeLessThanOrEqual(900);
  });

  describe('with the caller clock', () => {
    const T = 1_000_000_000;
    let store: RedisCounterStore;

    beforeAll(async () => {
      store = await RedisCounterStore.create({
        client,
        expirationJitterMaxSeconds: 0,
        stopIncrementWhenOverLimit: false,
        clockSource: 'caller',
      });
    });

    it('deletes a state that has stopped mattering instead of rewriting it', async () => {
      const checks = [
        limit('del_sw_', 'sliding_window', 10),
        limit('del_sl_', 'sliding_log', 10),
        limit('del_tb_', 'token_bucket', 10),
      ];
      await store.apply(checks, T);
      expect(await client.exists('{del_sw_}x_', '{del_sl_}x_', '{del_tb_}x_')).toBe(3);
      // a check-only request 5 s later: every state equals no state by then
      await store.apply(
        checks.map((c) => ({ ...c, hits: 0 })),
        T + 5_000,
      );
      expect(await client.exists('{del_sw_}x_', '{del_sl_}x_', '{del_tb_}x_')).toBe(0);
    });

    it('keeps one sorted-set member per hit in the window and drops the hits that left it', async () => {
      const log = limit('log_', 'sliding_log', 10);
      await store.apply([log], T);
      await store.apply([log], T + 600);
      await store.apply([log, log], T + 1_100);
      await store.apply([{ ...log, hits: 2 }], T + 1_100);
      expect(await client.zrange('{log_}x_', 0, -1, 'WITHSCORES')).toEqual([
        ...['1000000600:1', '1000000600'],
        ...['1000001100:1', '1000001100', '1000001100:2', '1000001100'],
        ...['1000001100:3', '1000001100', '1000001100:4', '1000001100'],
      ]);
    });

    it('outlives the state by the caller-clock slack, so a clock that stands still keeps its state', async () => {
      await store.apply([limit('slack_tb_', 'token_bucket', 10, 1)], T);
      // full again 100 ms later by the caller's clock; the key lives 1 s longer by Redis's
      const ttl = await client.pttl('{slack_tb_}x_');
      expect(ttl).toBeGreaterThan(1_000);
      expect(ttl).toBeLessThanOrEqual(1_100);
    });
  });
});
