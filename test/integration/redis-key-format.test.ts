import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../src/core/algorithm.js';
import { counterKey } from '../../src/core/key-layout.js';
import { isChargedWhenRejected } from '../../src/core/limit.js';
import type { CounterCheck } from '../../src/storage/counter-store.js';
import { hashSlot } from '../../src/storage/redis/hash-slot.js';
import { RedisCounterStore } from '../../src/storage/redis/redis-store.js';
import { createRlsClient, entries } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';
import { startServer } from '../support/server.js';

/**
 * Compatibility with envoyproxy/ratelimit's Redis data (its src/limiter/cache_key.go
 * and src/redis/fixed_cache_impl.go), the migration guarantee of
 * CACHE_KEY_FORMAT=reference: a fixed-window request writes the reference's key,
 * as a plain integer, with the reference's TTL range, and honours a counter the
 * reference wrote. Then the default (escaped) keys, next to them.
 */

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

function store(expirationJitterMaxSeconds = 0): Promise<RedisCounterStore> {
  return RedisCounterStore.create({
    client,
    expirationJitterMaxSeconds,
    stopIncrementWhenOverLimit: false,
    clockSource: 'caller',
  });
}

function limit(
  key: string,
  requestsPerUnit: number,
  unitSeconds: number,
  algorithm: Algorithm = 'fixed_window',
  tag = '',
): CounterCheck {
  return {
    key,
    tag,
    requestsPerUnit,
    unitSeconds,
    algorithm,
    burst: requestsPerUnit,
    hits: 1,
    blocking: true,
    // a tagged fixed window comes from a rate_limits list
    chargedWhenRejected: isChargedWhenRejected(algorithm, tag !== ''),
  };
}

const SECOND = 1;
const MINUTE = 60;
const HOUR = 3_600;
const DAY = 86_400;

describe('fixed-window keys in Redis, CACHE_KEY_FORMAT=reference', () => {
  it('writes the reference key domain_key_value_1234 as a plain integer counter for a SECOND limit at t = 1234 s', async () => {
    const s = await store();
    const key = counterKey('', 'fmt1', [{ key: 'key', value: 'value' }], 'reference');
    await s.apply([limit(key, 10, SECOND)], 1_234_000);
    await s.apply([limit(key, 10, SECOND)], 1_234_999);
    expect(await client.keys('fmt1*')).toEqual(['fmt1_key_value_1234']);
    expect(await client.type('fmt1_key_value_1234')).toBe('string');
    expect(await client.object('ENCODING', 'fmt1_key_value_1234')).toBe('int');
    expect(await client.get('fmt1_key_value_1234')).toBe('2');
  });

  it('aligns window starts in the key as the reference does (prefix, nested entries, MINUTE/HOUR/DAY)', async () => {
    const s = await store();
    const key = counterKey(
      'prefix_',
      'fmt2',
      [
        { key: 'key2', value: 'value2' },
        { key: 'subkey2', value: 'subvalue2' },
      ],
      'reference',
    );
    await s.apply([limit(key, 10, MINUTE)], 1_234_000);
    await s.apply([limit(key, 10, HOUR), limit(key, 10, DAY)], 1_000_000_000);
    expect((await client.keys('prefix_fmt2_*')).sort()).toEqual([
      'prefix_fmt2_key2_value2_subkey2_subvalue2_1200',
      'prefix_fmt2_key2_value2_subkey2_subvalue2_950400',
      'prefix_fmt2_key2_value2_subkey2_subvalue2_997200',
    ]);
  });

  it('sets a TTL of unit + a jitter in [0, EXPIRATION_JITTER_MAX_SECONDS) in the same call', async () => {
    const s = await store(5);
    const ttls = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const key = counterKey('', 'fmt3', [{ key: 'user', value: `u${i}` }], 'reference');
      await s.apply([limit(key, 10, MINUTE)], 1_234_000);
      const ttlMs = await client.pttl(`${key}1200`);
      expect(ttlMs).toBeGreaterThan(MINUTE * 1000 - 1_000);
      expect(ttlMs).toBeLessThanOrEqual((MINUTE + 4) * 1000);
      ttls.add(Math.ceil(ttlMs / 1000));
    }
    // 30 draws from 5 values: all equal with probability 5 × 5^-30
    expect(ttls.size).toBeGreaterThan(1);
  });

  it('sets the plain unit as TTL when jitter is 0', async () => {
    const s = await store(0);
    const key = counterKey('', 'fmt4', [{ key: 'k', value: 'v' }], 'reference');
    await s.apply([limit(key, 10, HOUR)], 1_000_000_000);
    const ttlMs = await client.pttl(`${key}997200`);
    expect(ttlMs).toBeGreaterThan(HOUR * 1000 - 1_000);
    expect(ttlMs).toBeLessThanOrEqual(HOUR * 1000);
  });

  it('honours a counter the reference wrote (SET / INCRBY on the same key)', async () => {
    const s = await store();
    const key = counterKey('', 'fmt5', [{ key: 'key', value: 'value' }], 'reference');
    await client.set('fmt5_key_value_1200', '9', 'EX', 60);
    expect(await s.apply([limit(key, 10, MINUTE)], 1_234_000)).toEqual([
      { overLimit: false, remaining: 0, resetSeconds: 26, used: 10 },
    ]);
    // the reference increments the shared counter in between
    await client.incrby('fmt5_key_value_1200', 3);
    expect(await s.apply([limit(key, 10, MINUTE)], 1_234_000)).toEqual([
      { overLimit: true, remaining: 0, resetSeconds: 26, used: 14 },
    ]);
    expect(await client.get('fmt5_key_value_1200')).toBe('14');
  });

  it('keeps other algorithms and tagged limits under {key}tag, apart from the reference keys', async () => {
    const s = await store();
    const key = counterKey('', 'fmt6', [{ key: 'key', value: 'value' }], 'reference');
    await s.apply(
      [
        limit(key, 10, MINUTE, 'fixed_window', 'fw60_'),
        limit(key, 10, MINUTE, 'sliding_window', 'sw60_'),
        limit(key, 10, MINUTE, 'sliding_log', 'sl60_'),
        limit(key, 10, MINUTE, 'token_bucket', 'tb60_'),
      ],
      1_234_000,
    );
    const keys = (await client.keys('*fmt6*')).sort();
    expect(keys).toEqual([
      '{fmt6_key_value_}fw60_1200',
      '{fmt6_key_value_}sl60_',
      '{fmt6_key_value_}sw60_',
      '{fmt6_key_value_}tb60_',
    ]);
    expect(await Promise.all(keys.map((k) => client.type(k)))).toEqual(['string', 'zset', 'hash', 'string']);
    // every key written has an expiry
    for (const k of keys) expect(await client.pttl(k)).toBeGreaterThan(0);
  });
});

describe('keys in Redis, CACHE_KEY_FORMAT=escaped (default)', () => {
  it('writes a key without \\ _ { } in its parts exactly as the reference format does', async () => {
    const s = await store();
    const key = counterKey('', 'esc1', [{ key: 'key', value: 'value' }], 'escaped');
    await s.apply([limit(key, 10, SECOND)], 1_234_000);
    expect(await client.keys('esc1*')).toEqual(['esc1_key_value_1234']);
    expect(await client.get('esc1_key_value_1234')).toBe('1');
  });

  it('escapes _ \\ { } in domain, keys and values; the hash tag keeps one slot per descriptor', async () => {
    const s = await store();
    const key = counterKey('p_', 'esc_2', [{ key: 'generic_key', value: 'a_b\\{c}' }], 'escaped');
    await s.apply([limit(key, 10, MINUTE)], 1_234_000);
    await s.apply(
      [limit(key, 10, MINUTE, 'fixed_window', 'fw60_'), limit(key, 10, MINUTE, 'token_bucket', 'tb60_')],
      1_234_000,
    );
    const keys = (await client.keys('*')).filter((k) => k.includes('esc\\_2')).sort();
    expect(keys).toEqual([
      'p_esc\\_2_generic\\_key_a\\_b\\\\\\{c\\}_1200',
      '{p_esc\\_2_generic\\_key_a\\_b\\\\\\{c\\}_}fw60_1200',
      '{p_esc\\_2_generic\\_key_a\\_b\\\\\\{c\\}_}tb60_',
    ]);
    // Redis ends the hash tag at the escaped '}', at the same place in both: one slot
    expect(hashSlot(keys[1]!)).toBe(hashSlot(keys[2]!));
  });
});

describe('CACHE_KEY_FORMAT through the service', () => {
  const CONFIG = {
    'api.yaml': `
domain: api
descriptors:
  - key: generic_key
    rate_limit: { unit: minute, requests_per_unit: 10 }
`,
  };

  async function keysWritten(format: string | undefined): Promise<string[]> {
    const prefix = `${randomUUID()}:`;
    const env: Record<string, string> = { REDIS_URL: server.url, CACHE_KEY_PREFIX: prefix };
    if (format !== undefined) env.CACHE_KEY_FORMAT = format;
    const app = await startServer({ config: CONFIG, env });
    const rls = createRlsClient(app.grpcAddress);
    try {
      await expect.poll(() => healthCheck(app.grpcAddress, 'ratelimit'), { timeout: 10_000 }).toBe('SERVING');
      const reply = await rls.shouldRateLimit({
        domain: 'api',
        descriptors: [{ entries: entries('generic_key=a_b') }],
      });
      expect(reply.statuses[0]?.limitRemaining).toBe(9);
      return (await client.keys(`${prefix}*`)).map((k) => k.slice(prefix.length).replace(/\d+$/, ''));
    } finally {
      rls.close();
      await app.stop();
    }
  }

  it("writes envoyproxy/ratelimit's key with CACHE_KEY_FORMAT=reference", async () => {
    expect(await keysWritten('reference')).toEqual(['api_generic_key_a_b_']);
  });

  it('writes the escaped key by default and with CACHE_KEY_FORMAT=escaped', async () => {
    expect(await keysWritten(undefined)).toEqual(['api_generic\\_key_a\\_b_']);
    expect(await keysWritten('escaped')).toEqual(['api_generic\\_key_a\\_b_']);
  });
});
