import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSlot } from '../../src/storage/redis/hash-slot.js';
import { createRlsClient, entries } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import {
  countBy,
  FAULT_ENV,
  faultWindow,
  isClean,
  type LoadRun,
  type LoadSample,
  latencyPercentile,
  sleep,
  startLoad,
  statusName,
  timeline,
  waitUntilClean,
  watchProcessErrors,
} from '../support/load-driver.js';
import { type RedisTestCluster, startRedisCluster } from '../support/redis-cluster.js';
import { type HostPort, type RedisTestSentinel, startRedisSentinel } from '../support/redis-sentinel.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Failovers under load (FAILURE_MODE=error, so every failed decision shows as
 * UNAVAILABLE): a Redis Cluster master SIGKILLed (its replica takes over), and
 * a Sentinel failover, both SENTINEL FAILOVER and the master SIGKILLed. The
 * service must keep answering, with errors only inside the failover window,
 * and recover without a restart. Measurements are printed as FAULT_RESULT
 * lines (docs/failure-modes.md); FAULT_TIMELINE=1 prints answers per 250 ms.
 */

const CONFIG = {
  'faults.yaml': `
domain: faults
descriptors:
  - key: big
    rate_limit: { unit: hour, requests_per_unit: 1000000 }
`,
};
const CALLERS = 8;
/** An error answered this late waited out BACKEND_TIMEOUT (default 250 ms; short-circuited ones take a few ms). */
const TIMED_OUT_MS = 240;
const WARMUP_MS = 500;
/** Cluster: node timeout 2 s, then the replica's election; Sentinel: down-after 1 s. Generous. */
const RECOVERY_BOUND_MS = 25_000;
/** Distinct values of `big` per run (Cluster: 8 per master). */
const VALUES = 24;

let server: TestServer | undefined;
let processErrors: ReturnType<typeof watchProcessErrors>;

beforeEach(() => {
  processErrors = watchProcessErrors();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  processErrors.dispose();
  expect(processErrors.errors).toEqual([]);
});

async function replicationInfo(node: HostPort): Promise<string> {
  const client = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 0, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.info('replication');
  } finally {
    client.disconnect();
  }
}

/** FAULT_LOG=<file>: the service's log (debug level) goes there, for reading a failed run. */
const logger = process.env.FAULT_LOG
  ? pino({ level: 'debug' }, pino.destination({ dest: process.env.FAULT_LOG, sync: true }))
  : undefined;

async function serve(env: Record<string, string>): Promise<TestServer> {
  server = await startServer({
    config: CONFIG,
    env: { FAILURE_MODE: 'error', ...FAULT_ENV, ...env },
    ...(logger ? { logger } : {}),
  });
  const address = server.grpcAddress;
  await expect.poll(() => healthCheck(address, 'ratelimit'), { timeout: 15_000 }).toBe('SERVING');
  return server;
}

/** Value of `big` that caller `caller` sends as its `seq`-th call: every caller cycles through all. */
const valueFor = (choices: readonly string[], caller: number, seq: number) =>
  choices[(caller * 5 + seq) % choices.length] as string;

function drive(address: string, values: readonly string[]): LoadRun {
  return startLoad({
    address,
    concurrency: CALLERS,
    maxDurationMs: WARMUP_MS + RECOVERY_BOUND_MS + 5_000,
    request: (caller, seq) => ({
      domain: 'faults',
      descriptors: [{ entries: entries(`big=${valueFor(values, caller, seq)}`) }],
      hitsAddend: 0,
    }),
  });
}

function summarize(name: string, samples: readonly LoadSample[], faultAt: number, extra: object) {
  const window = faultWindow(samples);
  const firstCleanAfterLastBad =
    window.lastBadAt === undefined
      ? null
      : samples
          .filter((s) => isClean(s) && s.doneAt > (window.lastBadAt as number))
          .reduce((min, s) => Math.min(min, s.doneAt), Number.POSITIVE_INFINITY) - faultAt;
  const result = {
    fault: name,
    mode: 'error',
    answers: samples.length,
    errors: countBy(
      samples.filter((s) => s.outcome === 'ERROR'),
      (s) => statusName(s.code),
    ),
    overLimit: samples.filter((s) => s.outcome === 'OVER_LIMIT').length,
    errorWindowMs: window.windowMs,
    firstBadAfterFaultMs: window.firstBadAt === undefined ? null : window.firstBadAt - faultAt,
    lastBadAfterFaultMs: window.lastBadAt === undefined ? null : window.lastBadAt - faultAt,
    cleanAgainAfterFaultMs: firstCleanAfterLastBad,
    p50Ms: Math.round(latencyPercentile(samples, 0.5)),
    p99Ms: Math.round(latencyPercentile(samples, 0.99)),
    maxMs: Math.round(Math.max(...samples.map((s) => s.latencyMs))),
    ...extra,
  };
  console.log(`FAULT_RESULT ${JSON.stringify(result)}`);
  if (process.env.FAULT_TIMELINE) console.log(timeline(samples, faultAt).join('\n'));
  return result;
}

function expectRecovered(samples: readonly LoadSample[], recovered: boolean) {
  expect(recovered).toBe(true);
  // nothing but UNAVAILABLE (no hang: DEADLINE_EXCEEDED; no INTERNAL), never a wrong OVER_LIMIT
  expect(samples.filter((s) => s.outcome === 'ERROR' && s.code !== 14).map((s) => s.details)).toEqual([]);
  expect(samples.filter((s) => s.outcome === 'OVER_LIMIT')).toEqual([]);
  expect(samples.filter((s) => s.latencyMs >= 1_000).map((s) => Math.round(s.latencyMs))).toEqual([]);
}

describe('Redis Cluster: a master SIGKILLed mid-load', { timeout: 90_000 }, () => {
  let cluster: RedisTestCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    // startRedisCluster resolves once every slot is served, but a replica only
    // syncs after its master's repl-diskless-sync-delay (5 s); a replica that
    // never synced refuses to fail over, so wait for every link to be up
    const deadline = Date.now() + 30_000;
    while (!(await replicasInSync())) {
      if (Date.now() > deadline) throw new Error('cluster replicas not in sync after 30 s');
      await sleep(200);
    }
  }, 60_000);
  afterAll(async () => cluster?.stop());

  async function replicasInSync(): Promise<boolean> {
    const infos = await Promise.all(cluster.nodes.map((node) => replicationInfo(node).catch(() => '')));
    return infos.every((info) => info.includes('role:master') || info.includes('master_link_status:up'));
  }

  it('keeps answering, errors only during the failover, recovers on the promoted replica without a restart', async () => {
    const prefix = `${randomUUID()}_`;
    const service = await serve({
      REDIS_TYPE: 'cluster',
      REDIS_URL: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
      CACHE_KEY_PREFIX: prefix,
    });
    const run = randomUUID();
    const keyOf = (value: string, atMs = Date.now()) =>
      `${prefix}faults_big_${value}_${Math.floor(atMs / 3_600_000) * 3_600}`;
    const admin = new Redis({ host: cluster.nodes[0]?.host, port: cluster.nodes[0]?.port });
    admin.on('error', () => {});
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    admin.disconnect();
    const masterOf = (key: string) => {
      const slot = hashSlot(key);
      return slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
    };
    // the same number of values on each master (keys that differ only in a short
    // suffix spread unevenly: CRC16 is linear); the master of the first one dies
    const perMaster = new Map<number | undefined, string[]>();
    for (let n = 0; [...perMaster.values()].flat().length < VALUES; n++) {
      const value = `${run}-${n}`;
      const master = masterOf(keyOf(value));
      const list = perMaster.get(master) ?? [];
      if (list.length < VALUES / 3) list.push(value);
      perMaster.set(master, list);
    }
    const values = [...perMaster.values()].flat();
    const victimPort = masterOf(keyOf(values[0] as string));
    const onVictim = (s: LoadSample) =>
      masterOf(keyOf(valueFor(values, s.caller, s.seq), s.sentAt)) === victimPort;
    const victimSlots = slots.filter(([, , master]) => master[1] === victimPort);
    const victimServer = cluster.servers.find((s) => s.port === victimPort);
    if (victimServer === undefined) throw new Error('victim not found');

    const load = drive(service.grpcAddress, values);
    await sleep(WARMUP_MS);
    const faultAt = Date.now();
    victimServer.process.kill('SIGKILL');
    // when does a surviving node see the replica promoted (slot owner changed)?
    let promotedAt: number | undefined;
    const survivor = cluster.nodes.find((n) => n.port !== victimPort) as { host: string; port: number };
    const direct = new Redis({ host: survivor.host, port: survivor.port, maxRetriesPerRequest: 0 });
    direct.on('error', () => {});
    while (promotedAt === undefined && Date.now() < faultAt + RECOVERY_BOUND_MS) {
      const now = (await direct.cluster('SLOTS').catch(() => [])) as [number, number, [string, number]][];
      const owner = now.find(([from, to]) => from === victimSlots[0]?.[0] && to === victimSlots[0]?.[1]);
      if (owner !== undefined && owner[2][1] !== victimPort) promotedAt = Date.now();
      else await sleep(100);
    }
    direct.disconnect();
    const recovered = await waitUntilClean(load, {
      after: promotedAt ?? faultAt,
      quietMs: 1_000,
      minAnswers: 50,
      timeoutMs: RECOVERY_BOUND_MS,
    });
    await load.stop();

    const samples = load.samples;
    const after = samples.filter((s) => s.sentAt > faultAt);
    const result = summarize('cluster master killed', samples, faultAt, {
      promotedAfterFaultMs: promotedAt === undefined ? null : promotedAt - faultAt,
      answersAfterFault: after.length,
      errorsOnVictimSlots: after.filter((s) => s.outcome === 'ERROR' && onVictim(s)).length,
      errorsOnHealthyMasters: after.filter((s) => s.outcome === 'ERROR' && !onVictim(s)).length,
      // answered after the time budget (the call itself hung) vs at once (the breaker was open)
      errorsOnHealthyMastersTimedOut: after.filter(
        (s) => s.outcome === 'ERROR' && !onVictim(s) && s.latencyMs >= TIMED_OUT_MS,
      ).length,
      errorsOnVictimTimedOut: after.filter(
        (s) => s.outcome === 'ERROR' && onVictim(s) && s.latencyMs >= TIMED_OUT_MS,
      ).length,
      answersOnHealthyMastersDuringFailover: after.filter(
        (s) => !onVictim(s) && promotedAt !== undefined && s.doneAt < promotedAt,
      ).length,
      okOnHealthyMastersDuringFailover: after.filter(
        (s) => s.outcome === 'OK' && !onVictim(s) && promotedAt !== undefined && s.doneAt < promotedAt,
      ).length,
      valuesOnVictim: values.filter((value) => masterOf(keyOf(value)) === victimPort).length,
      recovered,
    });
    expect(promotedAt).toBeDefined();
    expectRecovered(samples, recovered);
    // the failover was felt, and only inside its window: nothing failed after the clean stretch began
    expect(result.errorWindowMs).toBeGreaterThan(0);
    // the keys of the dead master are answered again (by its promoted replica)
    const lastSecond = samples.filter((s) => s.doneAt > Date.now() - 1_000);
    expect(lastSecond.filter(onVictim).every((s) => s.outcome === 'OK')).toBe(true);
    expect(lastSecond.some(onVictim)).toBe(true);
  });
});

describe('Redis Sentinel: failover mid-load', { timeout: 90_000 }, () => {
  // one deployment per test, started together: after a failover the old master
  // needs ~10 s to be demoted, then its resync waits repl-diskless-sync-delay (5 s)
  let deployments: RedisTestSentinel[] = [];
  let sentinel: RedisTestSentinel;
  beforeAll(async () => {
    const started = await Promise.allSettled([
      startRedisSentinel(),
      startRedisSentinel(),
      startRedisSentinel(),
    ]);
    deployments = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }, 60_000);
  afterAll(async () => Promise.all(deployments.map((d) => d.stop())));

  async function counter(node: HostPort, key: string): Promise<number> {
    const client = new Redis({
      host: node.host,
      port: node.port,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      return Number(await client.get(key));
    } catch {
      return Number.NaN;
    } finally {
      client.disconnect();
    }
  }

  async function failoverUnderLoad(name: string, act: (master: HostPort) => Promise<void>) {
    const prefix = `${randomUUID()}_`;
    const service = await serve({
      REDIS_TYPE: 'sentinel',
      REDIS_URL: sentinel.url,
      CACHE_KEY_PREFIX: prefix,
    });
    const run = randomUUID();
    const values = Array.from({ length: VALUES }, (_, i) => `${run}-${i}`);
    const before = await sentinel.currentMaster();
    const load = drive(service.grpcAddress, values);
    await sleep(WARMUP_MS);
    const faultAt = Date.now();
    await act(before);
    // the sentinels name a new master
    let promotedAt: number | undefined;
    while (Date.now() < faultAt + RECOVERY_BOUND_MS) {
      const now = await sentinel.currentMaster().catch(() => before);
      if (now.port !== before.port) {
        promotedAt = Date.now();
        break;
      }
      await sleep(100);
    }
    const recovered = await waitUntilClean(load, {
      after: promotedAt ?? faultAt,
      quietMs: 1_000,
      minAnswers: 50,
      timeoutMs: RECOVERY_BOUND_MS,
    });
    await load.stop();
    const after = await sentinel.currentMaster();
    // counts: every OK was counted somewhere; how many does the new master hold?
    const windowStart = Math.floor(Date.now() / 3_600_000) * 3_600;
    let onNewMaster = 0;
    let onOldMaster = 0;
    for (const value of values) {
      const key = `${prefix}faults_big_${value}_${windowStart}`;
      onNewMaster += await counter(after, key);
      onOldMaster += await counter(before, key);
    }
    const samples = load.samples;
    const ok = samples.filter((s) => s.outcome === 'OK').length;
    // sent once the sentinels named the new master and the service had switched to it (no error since)
    const switchedAt = Math.max(promotedAt ?? faultAt, faultWindow(samples).lastBadAt ?? 0);
    const okAfterSwitch = samples.filter((s) => s.outcome === 'OK' && s.sentAt > switchedAt).length;
    const result = summarize(name, samples, faultAt, {
      promotedAfterFaultMs: promotedAt === undefined ? null : promotedAt - faultAt,
      okAnswers: ok,
      countedOnNewMaster: onNewMaster,
      countedOnOldMaster: Number.isNaN(onOldMaster) ? 'down' : onOldMaster,
      okAfterSwitch,
      // hits the old master counted after its replica was promoted: lost with it
      okNotOnNewMaster: ok - onNewMaster,
      recovered,
    });
    expect(promotedAt).toBeDefined();
    expectRecovered(samples, recovered);
    expect(result.errorWindowMs).toBeGreaterThanOrEqual(0);
    // the service writes to the new master now: it holds at least every OK answered after the switch
    expect(onNewMaster).toBeGreaterThanOrEqual(okAfterSwitch);
    expect(okAfterSwitch).toBeGreaterThan(0);
    return after;
  }

  it('SENTINEL FAILOVER: follows the new master, errors only during the switch, recovers', async () => {
    sentinel = deployments[0] as RedisTestSentinel;
    await failoverUnderLoad('sentinel failover (SENTINEL FAILOVER)', async () => {
      const url = sentinel.sentinels[0] as HostPort;
      const client = new Redis({ host: url.host, port: url.port, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      try {
        await client.call('SENTINEL', 'FAILOVER', sentinel.masterName);
      } finally {
        client.disconnect();
      }
    });
  });

  it('master SIGKILLed: the sentinels promote the replica, the service follows and recovers', async () => {
    sentinel = deployments[1] as RedisTestSentinel;
    const master = await sentinel.currentMaster();
    const victim = master.port === sentinel.master.port ? sentinel.master : sentinel.replica;
    await failoverUnderLoad('sentinel master killed', async () => {
      victim.process.kill('SIGKILL');
    });
  });

  /**
   * Regression (docs/failure-modes.md, "Sentinel: the client could end for
   * good"): ioredis' failover detector of the lost connection stays subscribed
   * to +switch-master; when the message arrives while a reconnect is still
   * asking a sentinel for the master, ioredis ends the client without asking
   * the retry strategy. A sentinel that is slow to answer (SIGSTOP) makes it
   * certain; redis-connection.ts revives a client that ends unexpectedly.
   */
  it('master SIGKILLed while a sentinel hangs: the service reconnects to the new master', async () => {
    sentinel = deployments[2] as RedisTestSentinel;
    const service = await serve({
      REDIS_TYPE: 'sentinel',
      REDIS_URL: sentinel.url,
      CACHE_KEY_PREFIX: `${randomUUID()}_`,
    });
    const client = createRlsClient(service.grpcAddress);
    const ask = () =>
      client
        .shouldRateLimit({ domain: 'faults', descriptors: [{ entries: entries(`big=${randomUUID()}`) }] })
        .then(
          (reply) => String(reply.overallCode),
          (error: { code?: number }) => `error ${error.code}`,
        );
    try {
      expect(await ask()).toBe('1');
      const [, other] = sentinel.sentinels as [HostPort, HostPort];
      const before = await masterVia(other, sentinel.masterName);
      const victim = before.port === sentinel.master.port ? sentinel.master : sentinel.replica;
      // the service reconnects through the sentinel it used last, the first one: make it hang
      const slow = sentinel.sentinelProcesses[0]!;
      victim.process.kill('SIGKILL');
      slow.kill('SIGSTOP');
      try {
        // the two other sentinels (quorum 2) promote the replica and announce it
        const deadline = Date.now() + 20_000;
        while ((await masterVia(other, sentinel.masterName).catch(() => before)).port === before.port) {
          if (Date.now() > deadline) throw new Error('no failover');
          await sleep(200);
        }
        await sleep(1_000);
      } finally {
        slow.kill('SIGCONT');
      }
      // every sentinel answers again and the new master is up: the service must use it
      await expect.poll(ask, { timeout: 5_000, interval: 250 }).toBe('1');
    } finally {
      client.close();
    }
  });
});

/** The master's address as sentinel `node` sees it. */
async function masterVia(node: HostPort, masterName: string): Promise<HostPort> {
  const client = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 0, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    const reply = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
    return { host: reply[0], port: Number(reply[1]) };
  } finally {
    client.disconnect();
  }
}
