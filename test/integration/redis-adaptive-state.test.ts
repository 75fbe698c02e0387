import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerId } from '../../src/adaptive/adaptive-state.js';
import { adaptiveKey, adaptiveKeyBase } from '../../src/core/key-layout.js';
import { hashSlot } from '../../src/storage/redis/hash-slot.js';
import { createRedisAdaptiveState } from '../../src/storage/redis/redis-adaptive-state.js';
import { runAdaptiveStateContract } from '../contract/adaptive-state-contract.js';
import { type RedisTestCluster, startRedisCluster } from '../support/redis-cluster.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/**
 * The AdaptiveStateStore contract on a real redis-server and a real 6-node Cluster: two
 * stores on two connections play two replicas. Callers' clocks are explicit (nowMs), far
 * from Redis's own; the stores' PEXPIREs are relative and generous, so nothing expires
 * under the tests.
 */

const PREFIX = 'rl_';
let single: RedisTestServer;
let cluster: RedisTestCluster;
const singles: Redis[] = [];
const clusters: Cluster[] = [];

beforeAll(async () => {
  [single, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
  singles.push(new Redis(single.url), new Redis(single.url));
  clusters.push(new Cluster(cluster.nodes), new Cluster(cluster.nodes));
  await Promise.all([...singles, ...clusters].map((client) => client.ping()));
});

afterAll(async () => {
  for (const client of [...singles, ...clusters]) client.disconnect();
  await Promise.all([single?.stop(), cluster?.stop()]);
});

const recordKey = (id: ControllerId) =>
  adaptiveKey(adaptiveKeyBase(PREFIX, id.domain, id.name), { kind: 'record' });

runAdaptiveStateContract(
  'redis single',
  async (options) => ({
    first: createRedisAdaptiveState(singles[0]!, { prefix: PREFIX, ...options }),
    second: createRedisAdaptiveState(singles[1]!, { prefix: PREFIX, ...options }),
    deleteRecord: async (id) => {
      await singles[0]!.del(recordKey(id));
    },
  }),
  { outside: true },
);

runAdaptiveStateContract(
  'redis cluster (3 masters, 3 replicas)',
  async (options) => ({
    first: createRedisAdaptiveState(clusters[0]!, { prefix: PREFIX, ...options }),
    second: createRedisAdaptiveState(clusters[1]!, { prefix: PREFIX, ...options }),
    deleteRecord: async (id) => {
      await clusters[0]!.del(recordKey(id));
    },
  }),
  { outside: true },
);

describe('redis adaptive state: keys', () => {
  it('puts every key of one controller in one slot, each with a ttl, under the key layout names', async () => {
    const client = singles[0]!;
    const id: ControllerId = { domain: 'k{e}y_s\\', name: 'n{}_' }; // a fresh server: no other run's keys
    const store = createRedisAdaptiveState(client, { prefix: PREFIX });
    const t = 1_700_000_000_000;
    await store.addSamples([{ id, intervalStartMs: t, intervalMs: 5_000, total: 3, errors: 1 }]);
    await store.writeErrorRate(
      id,
      undefined,
      { factor: 1, decision: 'hold', closedStartMs: t, samples: 3, errors: 1, sinceMs: undefined },
      30_000,
    );
    const penalty = { factor: 0, ttlMs: 1_000, escalate: 2, maxTtlMs: 10_000 };
    await store.flag(id, penalty, 'v', t, { reason: 'r' });
    const base = adaptiveKeyBase(PREFIX, id.domain, id.name);
    expect(base).toBe('{rl_adaptive_k\\{e\\}y\\_s\\\\_n\\{\\}\\__}');
    const keys = [
      adaptiveKey(base, { kind: 'samples', intervalStartMs: t }),
      adaptiveKey(base, { kind: 'record' }),
      adaptiveKey(base, { kind: 'boxed' }),
      adaptiveKey(base, { kind: 'offences' }),
    ];
    expect((await client.keys(`${base.replace(/[\\*?[\]]/g, '\\$&')}*`)).sort()).toEqual([...keys].sort());
    expect(new Set(keys.map(hashSlot)).size).toBe(1);
    const ttls = await Promise.all(keys.map((key) => client.pttl(key)));
    // samples: 4 intervals + slack; record: as given; box: max_ttl past the expiry + slack
    expect(ttls[0]).toBeGreaterThan(60_000);
    expect(ttls[1]).toBeGreaterThan(29_000);
    expect(ttls[1]).toBeLessThanOrEqual(30_000);
    expect(ttls[2]).toBeGreaterThan(70_000);
    expect(ttls[3]).toBeGreaterThan(70_000);
    expect(await client.zscore(keys[2]!, 'v')).toBe(String(t + 1_000));
    expect(await client.hget(keys[3]!, 'v')).toBe(`${t + 1_000} 1 r`);
  });

  it('drops forgotten and trimmed values from both keys when a flag writes', async () => {
    const client = singles[0]!;
    const id: ControllerId = { domain: 'sweep', name: 'box' };
    const store = createRedisAdaptiveState(client, { prefix: PREFIX, maxPenaltyEntries: 2 });
    const base = adaptiveKeyBase(PREFIX, id.domain, id.name);
    const [boxed, offences] = [adaptiveKey(base, { kind: 'boxed' }), adaptiveKey(base, { kind: 'offences' })];
    const penalty = { factor: 0, ttlMs: 1_000, escalate: 2, maxTtlMs: 10_000 };
    const t = 1_700_000_000_000;
    await store.flag(id, penalty, 'old', t, { reason: 'r' });
    await store.flag(id, penalty, 'a', t + 5_000, { reason: 'r' });
    // 'old' expired at t + 1 000: forgotten at t + 11 000
    await store.flag(id, penalty, 'b', t + 11_000, { reason: 'r' });
    expect((await client.zrange(boxed, 0, -1)).sort()).toEqual(['a', 'b']);
    expect((await client.hkeys(offences)).sort()).toEqual(['a', 'b']);
    // a third value: the earliest expiring ('a') goes
    await store.flag(id, penalty, 'c', t + 11_500, { reason: 'r' });
    expect((await client.zrange(boxed, 0, -1)).sort()).toEqual(['b', 'c']);
    expect((await client.hkeys(offences)).sort()).toEqual(['b', 'c']);
  });
});
