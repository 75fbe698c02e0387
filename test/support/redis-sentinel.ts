import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { type RedisTestServer, startRedisServer, stopProcess } from './redis-server.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface RedisSentinelOptions {
  /** requirepass on master and replica (and masterauth / sentinel auth-pass to match). */
  readonly password?: string;
  /** requirepass on the sentinels themselves (REDIS_SENTINEL_AUTH). */
  readonly sentinelPassword?: string;
}

export interface RedisTestSentinel {
  readonly masterName: string;
  /** The three sentinels. */
  readonly sentinels: HostPort[];
  /** Their processes, in the same order (tests pause them with SIGSTOP). */
  readonly sentinelProcesses: ChildProcess[];
  /** The initial master and replica (roles swap after `failover()`). */
  readonly master: RedisTestServer;
  readonly replica: RedisTestServer;
  /** REDIS_URL in the reference's sentinel format: `masterName,host:port,host:port,host:port`. */
  readonly url: string;
  /**
   * SENTINEL FAILOVER, then waits until every sentinel names the new master
   * and it reports role:master. Resolves with the new master's address.
   */
  failover(): Promise<HostPort>;
  /** Asks a sentinel for the current master. */
  currentMaster(): Promise<HostPort>;
  /** Stops sentinels, then the Redis servers, by PID. */
  stop(): Promise<void>;
}

const MASTER_NAME = 'rl-master';

/**
 * One master, one replica and three `redis-sentinel` processes on free
 * loopback ports (quorum 2, down-after 1 s). Resolves once the replica is in
 * sync and every sentinel knows the master, the replica and the other two
 * sentinels, so a failover can happen right away.
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisTestSentinel> {
  const started: { servers: RedisTestServer[]; sentinels: ChildProcess[]; dirs: string[] } = {
    servers: [],
    sentinels: [],
    dirs: [],
  };
  const stop = async () => {
    await Promise.all(started.sentinels.map((child) => stopProcess(child)));
    await Promise.all(started.servers.map((server) => server.stop()));
    await Promise.all(started.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  };
  try {
    const master = await startRedisServer();
    started.servers.push(master);
    const replica = await startRedisServer(['--replicaof', master.host, String(master.port)]);
    started.servers.push(replica);
    if (options.password !== undefined) {
      for (const server of [master, replica]) await protect(server, options.password);
    }
    const sentinels: HostPort[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const dir = await mkdtemp(join(tmpdir(), 'rl-sentinel-'));
      started.dirs.push(dir);
      started.sentinels.push(await spawnSentinel(dir, port, master, options));
      sentinels.push({ host: '127.0.0.1', port });
    }
    const auth = { password: options.sentinelPassword };
    await Promise.all(sentinels.map((sentinel) => waitForSentinel(sentinel, auth, 3)));
    const currentMaster = () => askMaster(sentinels[0] as HostPort, auth);
    return {
      masterName: MASTER_NAME,
      sentinels,
      sentinelProcesses: started.sentinels,
      master,
      replica,
      url: [MASTER_NAME, ...sentinels.map((s) => `${s.host}:${s.port}`)].join(','),
      currentMaster,
      async failover() {
        const before = await currentMaster();
        await withClient(sentinels[0] as HostPort, auth, (c) => c.call('SENTINEL', 'FAILOVER', MASTER_NAME));
        const deadline = Date.now() + 30_000;
        for (;;) {
          const seen = await Promise.all(sentinels.map((s) => askMaster(s, auth)));
          const next = seen[0] as HostPort;
          const agreed = seen.every((m) => m.port === next.port) && next.port !== before.port;
          if (agreed) {
            const role = await withClient(next, { password: options.password }, (c) => c.role());
            if (role[0] === 'master') return next;
          }
          if (Date.now() > deadline)
            throw new Error(`sentinel failover did not complete: ${JSON.stringify(seen)}`);
          await sleep(100);
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function protect(server: RedisTestServer, password: string): Promise<void> {
  await withClient(server, {}, async (client) => {
    await client.config('SET', 'masterauth', password);
    await client.config('SET', 'requirepass', password);
  });
}

async function spawnSentinel(
  dir: string,
  port: number,
  master: HostPort,
  options: RedisSentinelOptions,
): Promise<ChildProcess> {
  const file = join(dir, 'sentinel.conf');
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${MASTER_NAME} ${master.host} ${master.port} 2`,
    `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
    `sentinel failover-timeout ${MASTER_NAME} 10000`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`,
  ];
  if (options.password !== undefined) lines.push(`sentinel auth-pass ${MASTER_NAME} ${options.password}`);
  if (options.sentinelPassword !== undefined) lines.push(`requirepass ${options.sentinelPassword}`);
  await writeFile(file, `${lines.join('\n')}\n`);
  const child = spawn('redis-sentinel', [file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(
        new Error(`cannot start redis-sentinel (${error.message}); run scripts/ensure-system-packages.sh`),
      ),
    );
    child.once('exit', (code) => reject(new Error(`redis-sentinel exited with ${code}: ${stderr}`)));
  });
  failed.catch(() => {});
  await Promise.race([
    waitForSentinel(
      { host: '127.0.0.1', port },
      options.sentinelPassword ? { password: options.sentinelPassword } : {},
      0,
    ),
    failed,
  ]);
  return child;
}

/**
 * Waits until the sentinel answers and (when `peers` > 0) knows the master,
 * a replica in sync (master_link_status ok) and `peers - 1` other sentinels.
 */
async function waitForSentinel(
  sentinel: HostPort,
  auth: { password?: string | undefined },
  peers: number,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await withClient(sentinel, auth, async (client) => {
      if ((await client.ping()) !== 'PONG') return false;
      if (peers === 0) return true;
      const replicas = (await client.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
      const others = (await client.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
      const inSync = replicas.some((fields) => field(fields, 'master-link-status') === 'ok');
      return inSync && others.length >= peers - 1;
    }).catch(() => false);
    if (ready) return;
    if (Date.now() > deadline)
      throw new Error(`sentinel ${sentinel.host}:${sentinel.port} not ready after 30 s`);
    await sleep(100);
  }
}

async function askMaster(sentinel: HostPort, auth: { password?: string | undefined }): Promise<HostPort> {
  const reply = (await withClient(sentinel, auth, (client) =>
    client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME),
  )) as [string, string];
  return { host: reply[0], port: Number(reply[1]) };
}

function field(flat: readonly string[], name: string): string | undefined {
  const index = flat.indexOf(name);
  return index >= 0 && index % 2 === 0 ? flat[index + 1] : undefined;
}

async function withClient<T>(
  node: HostPort,
  auth: { password?: string | undefined },
  use: (client: Redis) => Promise<T>,
): Promise<T> {
  const client = new Redis({
    host: node.host,
    port: node.port,
    password: auth.password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
