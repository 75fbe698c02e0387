import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/**
 * Issue 10, item 1: a burst must not turn into an outage. Three replicas of
 * the built server share one real Redis with DEFAULT settings (no timeout or
 * breaker override); 200 callers at once send 2,000 requests per algorithm.
 * On this 2-core machine that saturates the CPU, which used to time out
 * healthy Redis calls and open the breaker (85–95 % UNAVAILABLE).
 */

const LIMIT = 500;
const REQUESTS = 2_000;
const CONCURRENCY = 200;
const ALGORITHMS = ['fixed_window', 'sliding_window', 'sliding_log', 'token_bucket'] as const;
// unit day: no window boundary or refill inside a run of a few seconds (midnight UTC aside)
const CONFIG = `
domain: burst
descriptors:
${ALGORITHMS.map((a) => `  - key: ${a}\n    rate_limit: { unit: day, requests_per_unit: ${LIMIT}, algorithm: ${a} }`).join('\n')}
`;

let redis: RedisTestServer;
let configDir: string;
const replicas: ServeProcess[] = [];
const clients: RlsTestClient[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  configDir = await mkdtemp(join(tmpdir(), 'rl-burst-'));
  await writeFile(join(configDir, 'burst.yaml'), CONFIG);
  const prefix = `burst${process.pid}_`;
  for (let i = 0; i < 3; i++) {
    replicas.push(
      await startServeProcess(['--config', configDir, '--backend', 'redis'], {
        REDIS_URL: redis.url,
        CACHE_KEY_PREFIX: prefix,
      }),
    );
  }
  for (const replica of replicas) {
    const address = `127.0.0.1:${replica.grpcPort}`;
    await vi.waitFor(async () => expect(await healthCheck(address, 'ratelimit')).toBe('SERVING'), {
      timeout: 10_000,
      interval: 20,
    });
    clients.push(createRlsClient(address, { 'grpc.use_local_subchannel_pool': 1 }));
  }
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
  await redis?.stop();
  if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
});

/** `REQUESTS` calls with `CONCURRENCY` in flight, spread round robin over the replicas. */
async function burst(algorithm: string) {
  const outcome = { ok: 0, overLimit: 0, errors: [] as string[] };
  let next = 0;
  const caller = async () => {
    while (next < REQUESTS) {
      const n = next++;
      try {
        const reply = await clients[n % clients.length]!.shouldRateLimit({
          domain: 'burst',
          descriptors: [{ entries: entries(`${algorithm}=client`) }],
        });
        if (reply.overallCode === 1) outcome.ok++;
        else outcome.overLimit++;
      } catch (error) {
        outcome.errors.push((error as Error).message);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `BURST_RESULT ${JSON.stringify({ algorithm, ...outcome, errors: outcome.errors.length, perSecond: Math.round(REQUESTS / seconds) })}`,
  );
  return outcome;
}

describe('a burst on three replicas sharing one Redis, default settings', { timeout: 60_000 }, () => {
  it.each(ALGORITHMS)('%s: no error, and exactly the limit admitted', async (algorithm) => {
    const outcome = await burst(algorithm);
    expect(outcome.errors.slice(0, 5)).toEqual([]);
    expect(outcome.ok).toBe(LIMIT);
    expect(outcome.overLimit).toBe(REQUESTS - LIMIT);
  });
});
