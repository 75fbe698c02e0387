/**
 * Quick measurement (not part of `make test`): decisions/s and Redis commands per
 * decision at concurrency 64 for RedisCounterStore with `coalesce: false` (ioredis
 * auto-pipelining, one script call per decision) and `coalesce: true` (the requests
 * of one event-loop tick in one script call), and redis-benchmark on the same server.
 *
 * Run: make bench-store (BENCH_MS, BENCH_LIMIT to change duration and limit)
 */
import { Redis } from 'ioredis';
import { it } from 'vitest';
import { ALGORITHMS, type Algorithm } from '../src/core/algorithm.js';
import { isChargedWhenRejected } from '../src/core/limit.js';
import type { CounterCheck, CounterStore } from '../src/storage/counter-store.js';
import { RedisCounterStore } from '../src/storage/redis/redis-store.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { applyScriptArgs, loadScript, redisBenchmark } from './lib/redis-ceilings.js';

const CONCURRENCY = 64;
const DURATION_MS = Number(process.env.BENCH_MS ?? 4000);
const KEYS = 1000;
/** requests_per_unit (per minute): 100 = mostly over limit at these rates; 10000 = all admitted. */
const LIMIT = Number(process.env.BENCH_LIMIT ?? 100);

async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)![1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  return user + sys;
}

function check(algorithm: Algorithm): CounterCheck {
  const user = Math.floor(Math.random() * KEYS);
  return {
    key: `bench_user_u${user}_`,
    tag: algorithm === 'fixed_window' ? '' : `${algorithm}_`,
    requestsPerUnit: LIMIT,
    unitSeconds: 60,
    algorithm,
    burst: LIMIT,
    hits: 1,
    blocking: true,
    chargedWhenRejected: isChargedWhenRejected(algorithm, false),
  };
}

async function measure(client: Redis, applier: CounterStore, algorithm: Algorithm) {
  await client.config('RESETSTAT');
  const cpu0 = await redisCpu(client);
  let decisions = 0;
  const end = Date.now() + DURATION_MS;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        await applier.apply([check(algorithm)], Date.now());
        decisions++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuUs = ((await redisCpu(client)) - cpu0) * 1e6;
  const info = await client.info('commandstats');
  let sent = 0;
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (m[1] === 'config' || m[1] === 'info') continue;
    total += Number(m[2]);
    if (m[1] === 'evalsha' || m[1] === 'eval') sent += Number(m[2]);
  }
  return {
    algorithm,
    'decisions/s': Math.round(decisions / seconds),
    'script calls/decision': +(sent / decisions).toFixed(3),
    'redis commands/decision (incl. in-script)': +(total / decisions).toFixed(2),
    'redis CPU µs/decision': +(cpuUs / decisions).toFixed(1),
  };
}

it('measures each algorithm against redis-benchmark on the same Redis', async () => {
  const server = await startRedisServer();
  const client = new Redis(server.url, { enableAutoPipelining: true });
  try {
    const base = {
      client,
      expirationJitterMaxSeconds: 0,
      stopIncrementWhenOverLimit: false,
      clockSource: 'redis',
    } as const;
    const store = await RedisCounterStore.create({ ...base, coalesce: false });
    const coalescer = await RedisCounterStore.create({ ...base, coalesce: true });
    const rows: unknown[] = [];
    for (const algorithm of ALGORITHMS) {
      await measure(client, store, algorithm); // warm-up
      rows.push({ mode: 'auto-pipelining only', ...(await measure(client, store, algorithm)) });
      await measure(client, coalescer, algorithm);
      rows.push({ mode: 'coalesced per tick', ...(await measure(client, coalescer, algorithm)) });
    }
    console.table(rows);

    // storage ceiling: redis-benchmark on the same server, 64 clients, no pipelining
    const sha = await loadScript(client);
    const options = { clients: 64, requests: 100_000, keys: KEYS };
    const incr = await redisBenchmark(server.port, ['INCR', 'bench_user_u__rand_int___60'], options);
    console.log('INCR                  ', Math.round(incr), 'req/s');
    for (const algorithm of ALGORITHMS) {
      const rate = await redisBenchmark(server.port, applyScriptArgs(sha, algorithm, LIMIT), options);
      console.log(`EVALSHA ${algorithm.padEnd(14)}`, Math.round(rate), 'req/s');
    }
  } finally {
    client.disconnect();
    await server.stop();
  }
}, 600_000);
