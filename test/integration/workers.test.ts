import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { runCli, type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { childPids, connectionsByPid, isRunning } from '../support/proc.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';
import { writeConfigDir } from '../support/server.js';

// `serve --workers 2` as a user runs it (dist/cli.js, so `make build` first), on a real redis-server.

const LIMIT = 5;
const CONFIG = {
  'shop.yaml': `domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: ${LIMIT} }
`,
};

let redis: RedisTestServer;
let pod: ServeProcess | undefined;
let workerPids: number[] = [];
const clients: RlsTestClient[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  if (pod !== undefined && pod.child.exitCode === null && pod.child.signalCode === null) await pod.stop();
  // a worker the primary did not stop (a failed test) must not outlive the test: only ours, by PID
  for (const pid of workerPids) if (await isRunning(pid)) process.kill(pid, 'SIGKILL');
  pod = undefined;
  workerPids = [];
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await writeConfigDir(files);
  dirs.push(dir);
  return dir;
}

/** The primary and its two workers, listening, with a key prefix of its own. */
async function startPod(
  config: Record<string, string> = CONFIG,
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  pod = await startServeProcess(
    ['--config', await configDir(config), '--workers', '2'],
    {
      REDIS_URL: redis.url,
      CACHE_KEY_PREFIX: `workers-${randomUUID()}-`,
      SHUTDOWN_GRACE_PERIOD: '2s',
      ...env,
    },
    'workers listening',
  );
  workerPids = await childPids(pod.child.pid ?? -1);
  return pod;
}

/** A client on a TCP connection of its own (grpc-js otherwise shares one per address). */
function freshClient(port: number): RlsTestClient {
  const client = createRlsClient(`127.0.0.1:${port}`, { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return client;
}

const ask = (client: RlsTestClient, user: string) =>
  client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries(`user=${user}`) }] });

/** GET /metrics on a new connection, as a Prometheus scrape does; the sample's value. */
function scrape(port: number, sample: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`/metrics answered ${res.statusCode}: ${body}`));
        const line = body.split('\n').find((l) => l.startsWith(`${sample} `));
        resolve(line === undefined ? undefined : Number(line.slice(sample.length + 1)));
      });
    }).on('error', reject);
  });
}

/** Fixed windows are minute-aligned: keep a test's hits inside one minute. */
async function awayFromMinuteEdge(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 55_000) await new Promise((resolve) => setTimeout(resolve, 60_100 - intoMinute));
}

describe('serve --workers 2 with the redis backend', () => {
  it('runs two worker processes under the primary and both answer calls on fresh connections', async () => {
    const { grpcPort } = await startPod();
    expect(workerPids).toHaveLength(2);
    const connections = Array.from({ length: 6 }, () => freshClient(grpcPort));
    const answers = await Promise.all(connections.map((client, i) => ask(client, `spread-${i}`)));
    expect(answers.map((a) => a.overallCode)).toEqual(Array(6).fill(Code.OK));
    const owners = await connectionsByPid(grpcPort, workerPids);
    // node:cluster hands each new connection to the next worker: both hold (and answered on) some
    expect([...owners.values()].reduce((a, b) => a + b, 0)).toBe(6);
    for (const pid of workerPids) expect(owners.get(pid)).toBeGreaterThan(0);
  });

  it(`admits exactly ${LIMIT} calls a minute across both workers, then answers OVER_LIMIT`, async () => {
    const { grpcPort } = await startPod();
    const connections = Array.from({ length: 4 }, () => freshClient(grpcPort));
    await awayFromMinuteEdge();
    const codes: Code[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      codes.push((await ask(connections[i % connections.length] as RlsTestClient, 'carol')).overallCode);
    }
    expect(codes).toEqual([...Array(LIMIT).fill(Code.OK), Code.OVER_LIMIT, Code.OVER_LIMIT]);
    const owners = await connectionsByPid(grpcPort, workerPids);
    for (const pid of workerPids) expect(owners.get(pid)).toBeGreaterThan(0);
  });

  it('reports the whole pod on /metrics, whichever worker takes the scrape', async () => {
    const { grpcPort, httpPort } = await startPod();
    const connections = Array.from({ length: 4 }, () => freshClient(grpcPort));
    let calls = 0;
    for (const [i, client] of connections.entries()) {
      for (let j = 0; j <= i; j++, calls++) await ask(client, `metrics-${i}`);
    }
    const owners = await connectionsByPid(grpcPort, workerPids);
    for (const pid of workerPids) expect(owners.get(pid)).toBeGreaterThan(0);
    // each scrape is a new connection, so consecutive ones go to different workers
    for (let i = 0; i < 4; i++) {
      expect(await scrape(httpPort, 'ratelimit_service_total_requests{grpc_method="ShouldRateLimit"}')).toBe(
        calls,
      );
    }
    // one config load per worker is one event for the pod; the breaker flag is 0/1, not a count
    expect(await scrape(httpPort, 'ratelimit_service_config_load_success')).toBe(1);
    expect(await scrape(httpPort, 'ratelimit_backend_circuit_open')).toBe(0);
  });

  it('applies a penalty signalled to one worker on every worker of the pod (adaptive state in Redis)', async () => {
    const config = {
      'shop.yaml': `domain: shop
adaptive:
  - { name: abusers, type: abuse, penalty: { factor: 0 } }
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 1000 }
    adaptive: [abusers]
`,
    };
    const { grpcPort, httpPort } = await startPod(config, { ADAPTIVE_SIGNAL_TOKEN: 'pod-token' });
    const signal = await fetch(`http://127.0.0.1:${httpPort}/v1/signals`, {
      method: 'POST',
      headers: { authorization: 'Bearer pod-token', connection: 'close' },
      body: JSON.stringify({ domain: 'shop', controller: 'abusers', value: 'mallory', ttl: '1m' }),
    });
    expect(signal.status).toBe(202);
    const connections = Array.from({ length: 4 }, () => freshClient(grpcPort));
    // the worker that took the signal blocks at once; the other within one refresh (1 s)
    await expect
      .poll(
        async () => (await Promise.all(connections.map((c) => ask(c, 'mallory')))).map((a) => a.overallCode),
        {
          timeout: 5_000,
        },
      )
      .toEqual(Array(4).fill(Code.OVER_LIMIT));
    const others = await Promise.all(connections.map((c) => ask(c, 'alice')));
    expect(others.map((a) => a.overallCode)).toEqual(Array(4).fill(Code.OK));
    const owners = await connectionsByPid(grpcPort, workerPids);
    for (const pid of workerPids) expect(owners.get(pid)).toBeGreaterThan(0);
  });

  it('stops the primary and every worker with exit 0 on SIGTERM', async () => {
    const { grpcPort } = await startPod();
    await ask(freshClient(grpcPort), 'dave');
    expect(await pod?.stop()).toBe(0);
    for (const pid of workerPids) expect(await isRunning(pid)).toBe(false);
    const exits = pod?.logs.filter((l) => l.msg === 'worker exited') ?? [];
    expect(exits.map((l) => l.workerPid).sort()).toEqual(workerPids);
    expect(exits.map((l) => l.code)).toEqual([0, 0]);
  });

  it('replaces a worker killed with SIGKILL and keeps answering', async () => {
    const { grpcPort, child } = await startPod();
    const [victim, survivor] = workerPids as [number, number];
    process.kill(victim, 'SIGKILL');
    await expect
      .poll(async () => (await childPids(child.pid ?? -1)).filter((pid) => pid !== survivor), {
        timeout: 10_000,
      })
      .toSatisfy((pids: number[]) => pids.length === 1 && pids[0] !== victim);
    workerPids = await childPids(child.pid ?? -1);
    const replacement = workerPids.find((pid) => pid !== survivor) as number;
    await expect
      .poll(() => pod?.logs.some((l) => l.msg === 'listening' && l.pid === replacement), { timeout: 10_000 })
      .toBe(true);
    expect(
      pod?.logs.some((l) => l.msg === 'worker exited unexpectedly: restarting it' && l.signal === 'SIGKILL'),
    ).toBe(true);
    const connections = Array.from({ length: 6 }, () => freshClient(grpcPort));
    const answers = await Promise.all(connections.map((client, i) => ask(client, `after-kill-${i}`)));
    expect(answers.map((a) => a.overallCode)).toEqual(Array(6).fill(Code.OK));
    const owners = await connectionsByPid(grpcPort, workerPids);
    expect(owners.get(replacement)).toBeGreaterThan(0);
    expect(await pod?.stop()).toBe(0);
  });
});

describe('serve --workers 2 refuses to start', () => {
  const ports = ['--grpc-port', '0', '--http-port', '0', '--debug-port', '0'];

  it('with the memory backend, saying why and suggesting redis (exit 1)', async () => {
    const dir = await configDir(CONFIG);
    const result = await runCli([
      'serve',
      '--config',
      dir,
      '--workers',
      '2',
      '--backend',
      'memory',
      ...ports,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--workers 2 cannot be used with the memory backend');
    expect(result.stderr).toContain('keeps counters inside each process');
    expect(result.stderr).toContain('Use the redis backend');
  });

  it('with an invalid initial config: exit 1 with the problem, no restart loop', async () => {
    const dir = await configDir({ 'bad.yaml': 'domain: shop\ndescriptors:\n  - value: x\n' });
    const result = await runCli(['serve', '--config', dir, '--workers', '2', ...ports], {
      REDIS_URL: redis.url,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'bad.yaml')}:3:5: descriptor has empty key`);
    const logs = result.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logs.filter((l) => l.msg === 'worker started')).toHaveLength(2);
    expect(
      logs.some((l) => l.msg === 'worker exited before it listened (its error is above): not starting'),
    ).toBe(true);
  });
});
