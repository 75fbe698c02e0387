import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisSettings } from '../../src/config/settings/redis-settings.js';
import { loadSettings } from '../../src/config/settings/settings.js';
import { RedisConnectError } from '../../src/core/errors.js';
import { createRedisClient, type RedisConnection } from '../../src/storage/redis/redis-connection.js';
import { freePort } from '../support/free-port.js';
import { type RedisTestCluster, startRedisCluster } from '../support/redis-cluster.js';
import { type RedisTestSentinel, startRedisSentinel } from '../support/redis-sentinel.js';
import { type RedisTestServer, startRedisServer, stopProcess, waitForPing } from '../support/redis-server.js';

const PASSWORD = 's3cret-Pa55';

function redisSettings(env: Record<string, string>): RedisSettings {
  const { settings } = loadSettings({ BACKEND_TYPE: 'redis', ...env });
  if (settings.redis === undefined) throw new Error('no redis settings');
  return settings.redis;
}

/** A pino logger whose lines are kept, to check what reaches the log. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const opened: RedisConnection[] = [];
async function connect(env: Record<string, string>, logger = capturingLogger().logger) {
  const connection = await createRedisClient(redisSettings(env), logger);
  opened.push(connection);
  await connection.connect();
  return connection;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((connection) => connection.close()));
});

/** redis-server on a port chosen by the test (to start it after the client, or restart it in place). */
function spawnRedis(port: number, dir: string): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  child.on('error', () => {});
  return child;
}

describe('Redis single', () => {
  let server: RedisTestServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => server.stop());

  it('connects over TCP from REDIS_URL=host:port alone', async () => {
    const { client } = await connect({ REDIS_URL: `127.0.0.1:${server.port}` });
    expect(await client.set('rc:tcp', '1')).toBe('OK');
  });

  it('selects the database of a redis:// URL', async () => {
    const { client } = await connect({ REDIS_URL: `redis://127.0.0.1:${server.port}/3` });
    await client.set('rc:db', 'three');
    const direct = new Redis({ port: server.port, db: 3 });
    expect(await direct.get('rc:db')).toBe('three');
    direct.disconnect();
  });

  it('fails commands at once while disconnected instead of queueing them', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'rl-redis-'));
    const child = spawnRedis(port, dir);
    await waitForPing('127.0.0.1', port);
    const changes: string[] = [];
    const connection = await connect({ REDIS_URL: `127.0.0.1:${port}`, REDIS_SOCKET_TYPE: 'tcp' });
    connection.onStateChange((state) => changes.push(state));
    await stopProcess(child);
    await expect.poll(() => changes).toEqual(['lost']);
    const started = performance.now();
    await expect(connection.client.get('x')).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(100);
    const again = spawnRedis(port, dir);
    try {
      await expect.poll(() => changes, { timeout: 10_000 }).toEqual(['lost', 'ready']);
      expect(await connection.client.ping()).toBe('PONG');
    } finally {
      await stopProcess(again);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis single over a unix socket', () => {
  let server: RedisTestServer;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rl-sock-'));
    server = await startRedisServer(['--unixsocket', join(dir, 'redis.sock'), '--unixsocketperm', '700']);
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects to the socket path with REDIS_SOCKET_TYPE=unix', async () => {
    const { client, description } = await connect({
      REDIS_SOCKET_TYPE: 'unix',
      REDIS_URL: join(dir, 'redis.sock'),
    });
    expect(description).toContain('redis.sock');
    expect(await client.incr('rc:unix')).toBe(1);
    expect(await client.call('CLIENT', 'INFO')).toMatch(/laddr=\S*redis\.sock/);
  });
});

describe('Redis with a password', () => {
  let server: RedisTestServer;
  beforeAll(async () => {
    server = await startRedisServer();
    const admin = new Redis({ port: server.port });
    await admin.acl('SETUSER', 'limiter', 'on', `>${PASSWORD}`, '~*', '+@all');
    await admin.config('SET', 'requirepass', PASSWORD);
    admin.disconnect();
  });
  afterAll(async () => server.stop());

  it.each([
    ['REDIS_AUTH=password', { REDIS_AUTH: PASSWORD }],
    ['REDIS_AUTH=user:password', { REDIS_AUTH: `limiter:${PASSWORD}` }],
  ])('authenticates with %s', async (_name, env) => {
    const { client } = await connect({ REDIS_URL: `127.0.0.1:${server.port}`, ...env });
    expect(await client.call('ACL', 'WHOAMI')).toBe(
      'REDIS_AUTH' in env && env.REDIS_AUTH.includes(':') ? 'limiter' : 'default',
    );
  });

  it('authenticates with the credentials of a redis:// URL', async () => {
    const { client } = await connect({ REDIS_URL: `redis://limiter:${PASSWORD}@127.0.0.1:${server.port}` });
    expect(await client.call('ACL', 'WHOAMI')).toBe('limiter');
  });

  it('fails fast with a clear error, and no password in it or in the log, when the password is wrong', async () => {
    const { logger, lines } = capturingLogger();
    const wrong = 'wrong-Pa55word';
    const started = performance.now();
    const error = await connect({ REDIS_URL: `127.0.0.1:${server.port}`, REDIS_AUTH: wrong }, logger).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(RedisConnectError);
    expect(error.message).toMatch(/refused the credentials.*WRONGPASS.*check REDIS_AUTH/);
    expect(performance.now() - started).toBeLessThan(2_000);
    const everything = `${error.message}\n${error.stack}\n${lines.join('')}`;
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASSWORD);
  });
});

describe('Redis startup backoff', () => {
  it('keeps retrying until Redis comes up, then resolves', async () => {
    const port = await freePort();
    const connection = await createRedisClient(
      redisSettings({
        REDIS_URL: `127.0.0.1:${port}`,
        REDIS_STARTUP_INITIAL_INTERVAL: '50ms',
        REDIS_STARTUP_MAX_INTERVAL: '200ms',
      }),
      capturingLogger().logger,
    );
    opened.push(connection);
    let connected = false;
    const pending = connection.connect().then(() => {
      connected = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(connected).toBe(false);
    const dir = await mkdtemp(join(tmpdir(), 'rl-redis-'));
    const child = spawnRedis(port, dir);
    try {
      await pending;
      expect(await connection.client.ping()).toBe('PONG');
    } finally {
      await connection.close();
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives up after REDIS_STARTUP_MAX_ELAPSED_TIME with an error naming it', async () => {
    const port = await freePort();
    const error = await connect({
      REDIS_URL: `127.0.0.1:${port}`,
      REDIS_STARTUP_INITIAL_INTERVAL: '50ms',
      REDIS_STARTUP_MAX_ELAPSED_TIME: '300ms',
    }).catch((e) => e);
    expect(error).toBeInstanceOf(RedisConnectError);
    expect(error.message).toContain('REDIS_STARTUP_MAX_ELAPSED_TIME');
  });
});

describe('Redis Cluster', () => {
  let cluster: RedisTestCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ password: PASSWORD });
  });
  afterAll(async () => cluster.stop());

  it('connects from REDIS_TYPE=cluster and a host:port list, with auth, and reaches every master', async () => {
    const { client } = await connect({
      REDIS_TYPE: 'CLUSTER',
      REDIS_URL: cluster.nodes.map((node) => `${node.host}:${node.port}`).join(','),
      REDIS_AUTH: PASSWORD,
    });
    const keys = Array.from({ length: 30 }, (_, i) => `rc:cluster:${i}`);
    await Promise.all(keys.map((key) => client.set(key, key)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys);
    expect((client as Cluster).nodes('master')).toHaveLength(3);
  });

  it('rejects a wrong cluster password with a clear error', async () => {
    const error = await connect({
      REDIS_TYPE: 'cluster',
      REDIS_URL: `${cluster.nodes[0]?.host}:${cluster.nodes[0]?.port}`,
      REDIS_AUTH: 'not-it',
    }).catch((e) => e);
    expect(error).toBeInstanceOf(RedisConnectError);
    expect(error.message).toMatch(/refused the credentials/);
    expect(error.message).not.toContain('not-it');
  });
});

describe('Redis Sentinel', () => {
  let sentinel: RedisTestSentinel;
  beforeAll(async () => {
    sentinel = await startRedisSentinel({ password: PASSWORD, sentinelPassword: 'sentinel-pw' });
  });
  afterAll(async () => sentinel.stop());

  it('finds the master from REDIS_URL=masterName,host:port,… and follows a failover', async () => {
    const connection = await connect({
      REDIS_TYPE: 'sentinel',
      REDIS_URL: sentinel.url,
      REDIS_AUTH: PASSWORD,
      REDIS_SENTINEL_AUTH: 'sentinel-pw',
    });
    const { client } = connection;
    expect(await client.incr('rc:sentinel')).toBe(1);
    const changes: string[] = [];
    connection.onStateChange((state) => changes.push(state));
    const newMaster = await sentinel.failover();
    expect(newMaster.port).toBe(sentinel.replica.port);
    // promptly (failoverDetector), not when the sentinels demote the old master ~10 s later
    const serverAddress = () => client.call('CLIENT', 'INFO').catch(() => '');
    await expect
      .poll(serverAddress, { timeout: 5_000 })
      .toContain(`laddr=${newMaster.host}:${newMaster.port}`);
    expect(changes[0]).toBe('lost');
    // the promoted replica has the write made before the failover
    await expect.poll(() => client.get('rc:sentinel').catch(() => null)).toBe('1');
  });
});
