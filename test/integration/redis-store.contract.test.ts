import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisKey } from '../../src/core/key-layout.js';
import { MODELS } from '../../src/core/models.js';
import type { CounterCheck, CounterDecision } from '../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../src/storage/memory-store.js';
import { hashSlot } from '../../src/storage/redis/hash-slot.js';
import { loadApplyScript } from '../../src/storage/redis/lua-scripts.js';
import { RedisCounterStore } from '../../src/storage/redis/redis-store.js';
import { ALGORITHM_SCENARIOS } from '../contract/algorithm-scenarios.js';
import { CHARGING_SCENARIOS } from '../contract/charging-scenarios.js';
import {
  COUNTER_STORE_SCENARIOS,
  type ContractScenario,
  runCounterStoreContract,
} from '../contract/counter-store-contract.js';
import { type RedisTestCluster, startRedisCluster } from '../support/redis-cluster.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/**
 * The contract table against real Redis: a single server through the shared
 * runner, and a 6-node Cluster (3 masters, 3 replicas). On Cluster a request
 * whose checks live in several hash slots runs one atomic script per slot,
 * so cross-slot scenarios are held to the table applied per slot (memory
 * store per slot), which is what the store documents; all others to the table.
 */

let single: RedisTestServer;
let singleClient: Redis;

beforeAll(async () => {
  single = await startRedisServer();
  singleClient = new Redis(single.url, { enableAutoPipelining: true });
});

afterAll(async () => {
  singleClient?.disconnect();
  await single?.stop();
});

runCounterStoreContract('redis single', ({ stopIncrementWhenOverLimit }) =>
  RedisCounterStore.create({
    client: singleClient,
    expirationJitterMaxSeconds: 0,
    stopIncrementWhenOverLimit,
    clockSource: 'caller',
  }),
);

const SCENARIOS: readonly ContractScenario[] = [
  ...COUNTER_STORE_SCENARIOS,
  ...ALGORITHM_SCENARIOS,
  ...CHARGING_SCENARIOS,
];

/** The Redis key the store makes for `check` at `nowMs`. */
function keyOf(check: CounterCheck, nowMs: number): string {
  return redisKey(check, MODELS[check.algorithm].windowed, nowMs);
}

/** Scenarios with a step whose checks hash to more than one slot (with any prefix: keys differ in their tags). */
function spansSlots(scenario: ContractScenario, prefix: string): boolean {
  return scenario.steps.some(
    (step) =>
      new Set(step.checks.map((c) => hashSlot(keyOf({ ...c, key: prefix + c.key }, step.atMs)))).size > 1,
  );
}

/** The table applied independently per hash slot: one memory store per slot, checks in request order. */
class PerSlotModel {
  private readonly stores = new Map<number, MemoryCounterStore>();
  constructor(private readonly stopIncrementWhenOverLimit: boolean) {}

  async apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    const groups = new Map<number, number[]>();
    checks.forEach((c, i) => {
      const slot = hashSlot(keyOf(c, nowMs));
      groups.set(slot, [...(groups.get(slot) ?? []), i]);
    });
    const out: CounterDecision[] = new Array(checks.length);
    for (const [slot, indexes] of groups) {
      let store = this.stores.get(slot);
      if (store === undefined) {
        store = new MemoryCounterStore({ stopIncrementWhenOverLimit: this.stopIncrementWhenOverLimit });
        this.stores.set(slot, store);
      }
      const decisions = await store.apply(
        indexes.map((i) => checks[i]!),
        nowMs,
      );
      indexes.forEach((i, j) => {
        out[i] = decisions[j]!;
      });
    }
    return out;
  }
}

describe('CounterStore contract: redis cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisTestCluster;
  let client: Cluster;
  let store: RedisCounterStore | undefined;
  const run = `cl${Date.now().toString(36)}`;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes, { enableAutoPipelining: true });
    await client.ping();
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  SCENARIOS.forEach((scenario, index) => {
    const prefix = `${run}_${index}_`;
    const crossSlot = spansSlots(scenario, prefix);
    const name = crossSlot ? `${scenario.name} (per hash slot: its checks span slots)` : scenario.name;
    it(name, async () => {
      const stopIncrementWhenOverLimit = scenario.store?.stopIncrementWhenOverLimit ?? false;
      store = await RedisCounterStore.create({
        client,
        expirationJitterMaxSeconds: 0,
        stopIncrementWhenOverLimit,
        clockSource: 'caller',
      });
      const model = new PerSlotModel(stopIncrementWhenOverLimit);
      for (const [stepIndex, step] of scenario.steps.entries()) {
        const checks = step.checks.map((c) => ({ ...c, key: prefix + c.key }));
        const decisions = await store.apply(checks, step.atMs);
        const modelled = await model.apply(checks, step.atMs);
        expect(decisions, `step ${stepIndex}`).toEqual(crossSlot ? modelled : step.expect);
      }
    });
  });

  it('runs a request spanning slots as one atomic call per slot: a rejection in one slot does not un-charge another', async () => {
    store = await RedisCounterStore.create({
      client,
      expirationJitterMaxSeconds: 0,
      stopIncrementWhenOverLimit: false,
      clockSource: 'caller',
    });
    const bucket = (key: string): CounterCheck => ({
      key: `${run}_x_${key}`,
      tag: 'tb1_',
      requestsPerUnit: 1,
      unitSeconds: 60,
      algorithm: 'token_bucket',
      burst: 1,
      hits: 1,
      blocking: true,
      chargedWhenRejected: false,
    });
    // find two descriptors in different slots
    let other = 1;
    while (hashSlot(keyOf(bucket(`k${other}_`), 0)) === hashSlot(keyOf(bucket('k0_'), 0))) other++;
    const [a, b] = [bucket('k0_'), bucket(`k${other}_`)];
    const t = 1_000_000_000;
    expect((await store.apply([b], t)).map((d) => d.overLimit)).toEqual([false]);
    // b rejects; a, in another slot, is charged anyway (as the reference's independent INCRBYs)
    expect((await store.apply([a, b], t)).map((d) => d.overLimit)).toEqual([false, true]);
    expect((await store.apply([a], t)).map((d) => d.overLimit)).toEqual([true]);
    // within one slot the request stays atomic: both limits of one descriptor
    const c = bucket('k0_same_');
    const d = { ...c, tag: 'tb2_', requestsPerUnit: 5, burst: 5 };
    expect((await store.apply([c], t)).map((x) => x.overLimit)).toEqual([false]);
    expect((await store.apply([d, c], t)).map((x) => x.overLimit)).toEqual([false, true]);
    expect((await store.apply([{ ...d, hits: 5 }], t)).map((x) => x.overLimit)).toEqual([false]);
  });

  it('coalesces the requests of one tick per hash slot and answers each in call order', async () => {
    store = await RedisCounterStore.create({
      client,
      expirationJitterMaxSeconds: 0,
      stopIncrementWhenOverLimit: false,
      clockSource: 'caller',
    });
    const log = (key: string): CounterCheck => ({
      key: `${run}_co_${key}`,
      tag: 'sl_',
      requestsPerUnit: 10,
      unitSeconds: 60,
      algorithm: 'sliding_log',
      burst: 10,
      hits: 1,
      blocking: true,
      chargedWhenRejected: false,
    });
    const descriptors = ['a_', 'b_', 'c_', 'd_'];
    const calls = Array.from({ length: 15 }, () =>
      descriptors.map((d) => store!.apply([log(d)], 1_000_000_000)),
    );
    const answers = await Promise.all(calls.flat());
    const admitted = descriptors.map((_, d) =>
      answers.filter((_, i) => i % 4 === d).map(([x]) => !x!.overLimit),
    );
    for (const perKey of admitted) expect(perKey).toEqual([...Array(10).fill(true), ...Array(5).fill(false)]);
  });

  it('computes the hash slots the cluster computes (hash tags, UTF-8), so groups never span slots', async () => {
    const keys = [
      'domain_key_value_1234',
      '{domain_key_value_}tb1_',
      '123456789',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'foo{bar}{zap}',
      '{user1000}.following',
      'd_ключ_значение_{ü}_',
      'a}b{c',
      '{}',
    ];
    const slots = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key)));
    expect(keys.map(hashSlot)).toEqual(slots);
    expect(hashSlot('123456789')).toBe(12_739);
  });

  it('loads the script from the lua folder', async () => {
    const script = await loadApplyScript();
    expect(script.lua).toContain('return run(KEYS, ARGV)');
    expect(script.sha).toMatch(/^[0-9a-f]{40}$/);
  });
});
