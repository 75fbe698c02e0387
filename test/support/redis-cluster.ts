import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisTestServer, startRedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
}

export interface RedisTestCluster {
  /** Every node (3 masters, 3 replicas as `redis-cli --cluster create` assigned them). */
  readonly nodes: RedisClusterNode[];
  /** The launched processes, in the order of `nodes` (to kill one for failover tests). */
  readonly servers: readonly RedisTestServer[];
  /** Stops every node by PID and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts a 6-node Redis Cluster (3 masters, 3 replicas) on free loopback
 * ports: six `redis-server --cluster-enabled yes` processes joined with
 * `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`. Resolves
 * once CLUSTER INFO says `cluster_state:ok` on every node and every slot is
 * served. Nothing is left running if any step fails. With `password`, every
 * node gets requirepass/masterauth before the cluster is created.
 */
export async function startRedisCluster(options: { password?: string } = {}): Promise<RedisTestCluster> {
  const settled = await Promise.allSettled(
    Array.from({ length: 6 }, () =>
      startRedisServer([
        '--cluster-enabled',
        'yes',
        // the node file lives in the server's own temp --dir
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
        // replicas sync at once instead of after the default 5 s, so a master can fail over early
        '--repl-diskless-sync-delay',
        '0',
      ]),
    ),
  );
  const servers = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  const nodes = servers.map((server) => ({ host: server.host, port: server.port }));
  const { password } = options;
  try {
    if (password !== undefined) await Promise.all(nodes.map((node) => protect(node, password)));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `${node.host}:${node.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
        ...(password === undefined ? [] : ['-a', password, '--no-auth-warning']),
      ],
      { timeout: 30_000 },
    );
    await Promise.all(nodes.map((node) => waitForClusterOk(node, password)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, servers, stop };
}

/** Resolves once `node` reports cluster_state:ok with all 16384 slots ok (up to ~30 s). */
export async function waitForClusterOk(
  node: RedisClusterNode,
  password?: string,
  timeoutMs = 30_000,
): Promise<void> {
  const client = new Redis({ host: node.host, port: node.port, password, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const info = await client.cluster('INFO').catch(() => '');
      if (info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384')) return;
      if (Date.now() > deadline) {
        throw new Error(`cluster node ${node.host}:${node.port} not ok after ${timeoutMs} ms:\n${info}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.disconnect();
  }
}

async function protect(node: RedisClusterNode, password: string): Promise<void> {
  const client = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.config('SET', 'masterauth', password);
    await client.config('SET', 'requirepass', password);
  } finally {
    client.disconnect();
  }
}
