import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadSettings } from '../../src/config/settings/settings.js';
import { systemClock } from '../../src/core/system-clock.js';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { silentLogger } from '../../src/log/logger.js';
import { freePort } from '../support/free-port.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { type RedisTestCluster, startRedisCluster } from '../support/redis-cluster.js';
import { type RedisTestSentinel, startRedisSentinel } from '../support/redis-sentinel.js';
import { type RedisTestServer, startRedisServer, stopProcess } from '../support/redis-server.js';
import { type StartServerOptions, startServer, type TestServer, writeConfigDir } from '../support/server.js';

const CONFIG = {
  'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 3 }
`,
};

const started: { server: TestServer; client: RlsTestClient }[] = [];

afterEach(async () => {
  for (const { server, client } of started.splice(0)) {
    client.close();
    await server.stop();
  }
});

/** The real app over gRPC, with a key prefix of its own so tests never share counters. */
async function serve(env: Record<string, string>, extra: Partial<StartServerOptions> = {}) {
  const server = await startServer({ config: CONFIG, env, ...extra });
  const client = createRlsClient(server.grpcAddress);
  started.push({ server, client });
  return { server, client };
}

const ask = (client: RlsTestClient, user = 'alice') =>
  client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries(`user=${user}`) }] });

async function untilServing(server: TestServer): Promise<void> {
  await expect.poll(() => healthCheck(server.grpcAddress, 'ratelimit'), { timeout: 10_000 }).toBe('SERVING');
}

/** Four hits on a 3/minute limit, then the one counter the reference's key format names. */
async function expectSharedCounter(env: Record<string, string>, redis: Redis | Cluster, prefix: string) {
  const { server, client } = await serve({ ...env, CACHE_KEY_PREFIX: prefix });
  await untilServing(server);
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await ask(client)).overallCode);
  expect(codes).toEqual([Code.OK, Code.OK, Code.OK, Code.OVER_LIMIT]);
  const windowStart = Math.floor(Date.now() / 60_000) * 60;
  const keys = [`${prefix}shop_user_alice_${windowStart}`, `${prefix}shop_user_alice_${windowStart - 60}`];
  const values = await Promise.all(keys.map((key) => redis.get(key)));
  // fixed_window charges rejected hits too, as the reference does
  expect(values.filter((value) => value !== null)).toEqual(['4']);
}

describe('Redis single', () => {
  let redis: RedisTestServer;
  let direct: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    direct = new Redis(redis.url);
  });
  afterAll(async () => {
    direct.disconnect();
    await redis.stop();
  });

  it('answers OK then OVER_LIMIT with the counter in Redis, from REDIS_URL alone', async () => {
    await expectSharedCounter({ REDIS_URL: `127.0.0.1:${redis.port}` }, direct, `${randomUUID()}_`);
  });

  it('shares one limit between two service instances on one Redis', async () => {
    const env = { REDIS_URL: redis.url, CACHE_KEY_PREFIX: `${randomUUID()}_` };
    const a = await serve(env);
    const b = await serve(env);
    await Promise.all([untilServing(a.server), untilServing(b.server)]);
    const codes = [
      (await ask(a.client)).overallCode,
      (await ask(b.client)).overallCode,
      (await ask(a.client)).overallCode,
      (await ask(b.client)).overallCode,
    ];
    expect(codes).toEqual([Code.OK, Code.OK, Code.OK, Code.OVER_LIMIT]);
  });

  it('times every Redis call in ratelimit_backend_call_seconds', async () => {
    const { server, client } = await serve({ REDIS_URL: redis.url, CACHE_KEY_PREFIX: `${randomUUID()}_` });
    await untilServing(server);
    await ask(client);
    await ask(client);
    const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const count = /^ratelimit_backend_call_seconds_count\{backend="redis",outcome="ok"\} (\d+)$/m.exec(text);
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(2);
  });
});

describe('REDIS_PERSECOND', () => {
  let main: RedisTestServer;
  let perSecond: RedisTestServer;
  beforeAll(async () => {
    [main, perSecond] = await Promise.all([startRedisServer(), startRedisServer()]);
  });
  afterAll(async () => Promise.all([main.stop(), perSecond.stop()]));

  it('keeps SECOND limits in the per-second Redis and the others in the main one', async () => {
    const prefix = `${randomUUID()}_`;
    const { server, client } = await serve(
      {
        REDIS_URL: main.url,
        REDIS_PERSECOND: 'true',
        REDIS_PERSECOND_URL: `127.0.0.1:${perSecond.port}`,
        CACHE_KEY_PREFIX: prefix,
      },
      {
        config: {
          'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: ip
    rate_limit: { unit: second, requests_per_unit: 100 }
`,
        },
      },
    );
    await untilServing(server);
    const reply = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: entries('user=alice') }, { entries: entries('ip=10.0.0.1') }],
    });
    expect(reply.overallCode).toBe(Code.OK);
    const keysOf = async (url: string) => {
      const redis = new Redis(url);
      const keys = await redis.keys(`${prefix}*`);
      redis.disconnect();
      return keys.map((key) => key.slice(prefix.length).replace(/\d+$/, ''));
    };
    expect(await keysOf(main.url)).toEqual(['shop_user_alice_']);
    expect(await keysOf(perSecond.url)).toEqual(['shop_ip_10.0.0.1_']);
  });
});

describe('Redis Cluster', () => {
  let cluster: RedisTestCluster;
  let direct: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    direct = new Cluster(cluster.nodes);
  });
  afterAll(async () => {
    direct.disconnect();
    await cluster.stop();
  });

  it('answers OK then OVER_LIMIT with REDIS_TYPE=cluster', async () => {
    const url = cluster.nodes.map((node) => `${node.host}:${node.port}`).join(',');
    await expectSharedCounter({ REDIS_TYPE: 'cluster', REDIS_URL: url }, direct, `${randomUUID()}_`);
  });
});

describe('Redis Sentinel', () => {
  let sentinel: RedisTestSentinel;
  let direct: Redis;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    direct = new Redis(sentinel.master.url);
  });
  afterAll(async () => {
    direct.disconnect();
    await sentinel.stop();
  });

  it('answers OK then OVER_LIMIT with REDIS_TYPE=sentinel', async () => {
    await expectSharedCounter(
      { REDIS_TYPE: 'sentinel', REDIS_URL: sentinel.url },
      direct,
      `${randomUUID()}_`,
    );
  });
});

describe('health follows Redis', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    if (child !== undefined) await stopProcess(child);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    child = undefined;
    dir = undefined;
  });

  it('is NOT_SERVING (and answers UNAVAILABLE) while Redis is down at startup, then SERVING once it is up', async () => {
    const port = await freePort();
    const { server, client } = await serve({
      REDIS_URL: `127.0.0.1:${port}`,
      REDIS_STARTUP_INITIAL_INTERVAL: '50ms',
      REDIS_STARTUP_MAX_INTERVAL: '200ms',
    });
    expect(await healthCheck(server.grpcAddress, 'ratelimit')).toBe('NOT_SERVING');
    expect((await fetch(`${server.httpUrl}/healthcheck`)).status).not.toBe(200);
    await expect(ask(client)).rejects.toMatchObject({ code: status.UNAVAILABLE });

    dir = await mkdtemp(join(tmpdir(), 'rl-redis-'));
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    await untilServing(server);
    expect((await fetch(`${server.httpUrl}/healthcheck`)).status).toBe(200);
    expect((await ask(client)).overallCode).toBe(Code.OK);
  });
});

describe('a Redis that can never be used', () => {
  let redis: RedisTestServer;
  beforeAll(async () => {
    redis = await startRedisServer();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', 'the-right-one');
    admin.disconnect();
  });
  afterAll(async () => redis.stop());

  it('reports a refused password through onFatal, naming REDIS_AUTH, and stays NOT_SERVING', async () => {
    const configDir = await writeConfigDir(CONFIG);
    const { settings } = loadSettings(
      {
        GRPC_HOST: '127.0.0.1',
        HOST: '127.0.0.1',
        DEBUG_HOST: '127.0.0.1',
        GRPC_PORT: '0',
        PORT: '0',
        DEBUG_PORT: '0',
        REDIS_URL: `127.0.0.1:${redis.port}`,
        REDIS_AUTH: 'a-wrong-one',
      },
      { config: [configDir] },
    );
    const fatal: Error[] = [];
    const app = createApp(settings, {
      logger: silentLogger(),
      clock: systemClock,
      onFatal: (error) => fatal.push(error),
    });
    try {
      await app.start();
      await expect.poll(() => fatal.length).toBe(1);
      expect(fatal[0]?.message).toMatch(/refused the credentials.*check REDIS_AUTH/);
      expect(fatal[0]?.message).not.toContain('a-wrong-one');
      expect(app.health.isServing()).toBe(false);
    } finally {
      await app.stop();
      await rm(configDir, { recursive: true, force: true });
    }
  });
});

describe('memory backend', () => {
  it('warns loudly that limits are per instance', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    await serve({}, { logger: pino({ level: 'info' }, stream) });
    const warning = lines.map((line) => JSON.parse(line)).find((line) => /per instance/.test(line.msg));
    expect(warning).toMatchObject({ level: 40 });
    expect(warning.msg).toContain('NOT shared across replicas');
  });
});
