/**
 * Redis bytes per live key, for each algorithm through the real RedisCounterStore and for
 * the plain commands that set the floor Redis imposes on a key of the same length. Each
 * row: FLUSHALL, settle, `used_memory`; fill N keys from a fresh connection; close it
 * (its query and reply buffers go with it), settle, `used_memory` again.
 */
import { Redis } from 'ioredis';
import { redisKey } from '../src/core/key-layout.js';
import { MODELS } from '../src/core/models.js';
import { RedisCounterStore } from '../src/storage/redis/redis-store.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { FOOTPRINT_CASES, type FootprintCase, FootprintChecks } from './footprint-check.js';
import type { RedisFootprint, RedisFootprintRow } from './memory-footprint-report.js';

/** Requests in flight while filling (the store coalesces them into ≤ 256-check script calls). */
const IN_FLIGHT = 4096;
/** Commands per pipeline when filling the floors. */
const PIPELINE = 5000;

/** The plain-command floors: what one key of the same length costs with the cheapest value. */
const FLOORS = [
  { name: 'SET k 1', type: 'string', ttl: false },
  { name: 'SET k 1 EX 60', type: 'string', ttl: true },
  { name: 'HSET k w 1 + EXPIRE', type: 'hash', ttl: true },
  { name: 'ZADD k 1 m + EXPIRE', type: 'zset', ttl: true },
] as const;
type Floor = (typeof FLOORS)[number];

/** The floor each algorithm is compared with (the same Redis type, with a TTL). */
function floorOf(c: FootprintCase): Floor['name'] {
  if (c.algorithm === 'sliding_window') return 'HSET k w 1 + EXPIRE';
  if (c.algorithm === 'sliding_log') return 'ZADD k 1 m + EXPIRE';
  return 'SET k 1 EX 60';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function infoField(info: string, field: string): string {
  const match = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  if (match === null) throw new Error(`INFO has no ${field}`);
  return match[1]!.trim();
}

/** used_memory once it stops moving (incremental rehashing done, fill clients gone). */
async function settledUsedMemory(control: Redis): Promise<number> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const clients = Number(infoField(await control.info('clients'), 'connected_clients'));
    const used = Number(infoField(await control.info('memory'), 'used_memory'));
    if (clients === 1 && used === last) return used;
    last = used;
    await sleep(100);
  }
  return last;
}

/** Sends every check of `c` for keys 0..n-1 through the store, `rounds` times. */
async function fillWithStore(
  url: string,
  scriptsDir: string,
  c: FootprintCase,
  n: number,
  keyLength: number,
) {
  const client = new Redis(url, { enableAutoPipelining: true });
  const store = await RedisCounterStore.create({
    client,
    expirationJitterMaxSeconds: 0,
    stopIncrementWhenOverLimit: false,
    clockSource: 'redis',
    scriptsDir,
    coalesce: true,
  });
  const checks = new FootprintChecks(c, keyLength);
  let keyChars = 0;
  for (let round = 0; round < c.rounds; round++) {
    for (let start = 0; start < n; start += IN_FLIGHT) {
      const pending = [];
      for (let i = start; i < Math.min(n, start + IN_FLIGHT); i++) {
        const check = checks.check(i);
        const nowMs = Date.now();
        if (round === 0) keyChars += redisKey(check, MODELS[check.algorithm].windowed, nowMs).length;
        pending.push(store.apply([check], nowMs));
      }
      for (const [decision] of await Promise.all(pending)) {
        if (decision === undefined || decision.overLimit)
          throw new Error(`${c.name}: a fill request was rejected`);
      }
    }
    if (c.rounds > 1) await sleep(2); // the next event of each key lands at a later ms
  }
  await store.close();
  await client.quit();
  return keyChars / n;
}

/** Writes n floor keys (the fixed_window keys, same length) with pipelines. */
async function fillFloor(url: string, floor: Floor, n: number, keyLength: number) {
  const client = new Redis(url);
  const checks = new FootprintChecks(FOOTPRINT_CASES[0]!, keyLength);
  const nowMs = Date.now();
  let keyChars = 0;
  for (let start = 0; start < n; start += PIPELINE) {
    const pipeline = client.pipeline();
    for (let i = start; i < Math.min(n, start + PIPELINE); i++) {
      const check = checks.check(i);
      const key = redisKey(check, MODELS[check.algorithm].windowed, nowMs);
      keyChars += key.length;
      if (floor.type === 'string') {
        if (floor.ttl) pipeline.set(key, '1', 'EX', 60);
        else pipeline.set(key, '1');
      } else {
        if (floor.type === 'hash') pipeline.hset(key, 'w', '1');
        else pipeline.zadd(key, 1, 'm');
        pipeline.expire(key, 60);
      }
    }
    await pipeline.exec();
  }
  await client.quit();
  return keyChars / n;
}

/** What one sample key holds, as Redis reports it. */
async function sample(control: Redis) {
  const key = (await control.randomkey())!;
  const type = await control.type(key);
  const value =
    type === 'string'
      ? await control.get(key)
      : type === 'hash'
        ? JSON.stringify(await control.hgetall(key))
        : `${await control.zcard(key)} members, e.g. ${(await control.zrange(key, 0, 0, 'WITHSCORES')).join(' ')}`;
  return {
    sampleKey: key,
    encoding: String(await control.object('ENCODING', key)),
    sampleValue: value ?? '',
    memoryUsage: Number(await control.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')),
  };
}

async function row(
  control: Redis,
  name: string,
  n: number,
  fill: () => Promise<number>,
): Promise<RedisFootprintRow> {
  await control.flushall('SYNC');
  const before = await settledUsedMemory(control);
  const started = performance.now();
  const meanKeyLength = await fill();
  const fillSeconds = +((performance.now() - started) / 1000).toFixed(1);
  const after = await settledUsedMemory(control);
  const keys = await control.dbsize();
  if (keys !== n) throw new Error(`${name}: expected ${n} live keys, found ${keys}`);
  const expires = /expires=(\d+)/.exec(await control.info('keyspace'))?.[1] ?? '0';
  return {
    name,
    keys,
    keysWithTtl: Number(expires),
    meanKeyLength: +meanKeyLength.toFixed(1),
    usedMemoryDelta: after - before,
    bytesPerKey: +((after - before) / n).toFixed(1),
    fillSeconds,
    ...(await sample(control)),
  };
}

/** Starts its own redis-server, measures every case and floor with `n` keys each, stops it. */
export async function measureRedisFootprint(n: number, keyLength: number, scriptsDir: string) {
  const server = await startRedisServer();
  const control = new Redis(server.url);
  try {
    const info = await control.info('server');
    const config = Object.fromEntries(
      (await Promise.all(
        ['maxmemory-policy', 'hash-max-listpack-entries', 'zset-max-listpack-entries'].map((name) =>
          control.config('GET', name),
        ),
      )) as [string, string][],
    ) as Record<string, string>;
    // load the script once, so the script cache is in every "before"
    await fillWithStore(server.url, scriptsDir, FOOTPRINT_CASES[0]!, 1, keyLength);
    const floors: RedisFootprintRow[] = [];
    for (const floor of FLOORS) {
      floors.push(await row(control, floor.name, n, () => fillFloor(server.url, floor, n, keyLength)));
      process.stderr.write(
        `redis floor ${floor.name}: ${floors.at(-1)!.bytesPerKey} B/key (${floors.at(-1)!.fillSeconds} s)\n`,
      );
    }
    const algorithms = [];
    for (const c of FOOTPRINT_CASES) {
      const keys = Math.round(n * c.keyShare);
      const measured = await row(control, c.name, keys, () =>
        fillWithStore(server.url, scriptsDir, c, keys, keyLength),
      );
      const floor = floors.find((f) => f.name === floorOf(c))!;
      algorithms.push({
        ...measured,
        algorithm: c.algorithm,
        note: c.note,
        floor: floor.name,
        floorBytesPerKey: floor.bytesPerKey,
        ratioToFloor: +(measured.bytesPerKey / floor.bytesPerKey).toFixed(2),
      });
      process.stderr.write(`redis ${c.name}: ${measured.bytesPerKey} B/key (${measured.fillSeconds} s)\n`);
    }
    const result: RedisFootprint = {
      redisVersion: infoField(info, 'redis_version'),
      allocator: infoField(await control.info('memory'), 'mem_allocator'),
      config,
      keysPerRow: n,
      targetKeyLength: keyLength,
      floors,
      algorithms,
    };
    return result;
  } finally {
    control.disconnect();
    await server.stop();
  }
}
