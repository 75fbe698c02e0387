import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApplyScript } from '../../src/storage/redis/lua-scripts.js';
import { type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { createRlsClient, entries } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/**
 * Issue 10, item 5: the built server reports SERVING only once it is warm
 * (connected, decision script loaded), so a burst as the very first traffic
 * after a start is answered like any other. Before, SERVING came first and
 * 100 concurrent first calls met NOSCRIPT → EVAL inside a 15 ms budget.
 */

const CONFIG = `
domain: warm
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 1000000 }
`;
const BURST = 100;
const STARTS = 3;

let redis: RedisTestServer;
let direct: Redis;
let configDir: string;
let server: ServeProcess | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
  direct = new Redis(redis.url);
  configDir = await mkdtemp(join(tmpdir(), 'rl-warm-'));
  await writeFile(join(configDir, 'warm.yaml'), CONFIG);
});

afterAll(async () => {
  await server?.stop();
  direct?.disconnect();
  await redis?.stop();
  if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
});

/** Polls gRPC health every 5 ms from the moment the process listens; resolves at the first SERVING. */
async function untilServing(address: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await healthCheck(address, 'ratelimit').catch(() => 'down')) !== 'SERVING') {
    if (Date.now() > deadline) throw new Error('never SERVING');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a cold start with the script flushed from Redis', { timeout: 60_000 }, () => {
  it(`has the script in Redis when it first says SERVING, and answers a first burst of ${BURST} calls without an error (${STARTS} starts)`, async () => {
    const { sha } = await loadApplyScript();
    for (let start = 0; start < STARTS; start++) {
      await direct.script('FLUSH');
      server = await startServeProcess(['--config', configDir, '--backend', 'redis'], {
        REDIS_URL: redis.url,
        CACHE_KEY_PREFIX: `warm${start}_`,
      });
      const address = `127.0.0.1:${server.grpcPort}`;
      await untilServing(address);
      expect(await direct.script('EXISTS', sha)).toEqual([1]);
      const client = createRlsClient(address, { 'grpc.use_local_subchannel_pool': 1 });
      const answers = await Promise.allSettled(
        Array.from({ length: BURST }, (_, i) =>
          client.shouldRateLimit({ domain: 'warm', descriptors: [{ entries: entries(`user=u${i % 10}`) }] }),
        ),
      );
      client.close();
      const failed = answers.filter((a) => a.status === 'rejected').map((a) => String(a.reason));
      expect(failed.slice(0, 3)).toEqual([]);
      expect(answers.filter((a) => a.status === 'fulfilled' && a.value.overallCode === 1)).toHaveLength(
        BURST,
      );
      expect(await server.stop()).toBe(0);
      server = undefined;
    }
  });
});
