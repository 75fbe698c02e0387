import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { ManualClock } from '../support/manual-clock.js';
import { type RedisTestCluster, startRedisCluster } from '../support/redis-cluster.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * The "hostile input" collisions of the reference's key format, on every backend:
 * a caller-chosen value containing `_` must not spend another limit's counter
 * (CACHE_KEY_FORMAT=escaped, the default), while CACHE_KEY_FORMAT=reference keeps
 * envoyproxy/ratelimit's exact keys, collisions included, for a rolling migration.
 */

const CONFIG = {
  'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 3 }
    descriptors:
      - key: path
        rate_limit: { unit: hour, requests_per_unit: 3 }
`,
  'x.yaml': `
domain: x
descriptors:
  - key: y_z
    rate_limit: { unit: hour, requests_per_unit: 3 }
`,
  'x_y.yaml': `
domain: x_y
descriptors:
  - key: z
    rate_limit: { unit: hour, requests_per_unit: 3 }
`,
};

/** One frozen instant: every request of a test falls in the same hour window. */
const NOW_MS = 1_700_000_000_000;

type Format = 'escaped' | 'reference';
type BackendEnv = () => Record<string, string>;

const started: { server: TestServer; client: RlsTestClient }[] = [];

afterEach(async () => {
  for (const { server, client } of started.splice(0)) {
    client.close();
    await server.stop();
  }
});

async function serve(backendEnv: Record<string, string>, format: Format | undefined) {
  const env: Record<string, string> = { ...backendEnv, CACHE_KEY_PREFIX: `${randomUUID()}:` };
  if (format !== undefined) env.CACHE_KEY_FORMAT = format;
  const server = await startServer({ config: CONFIG, env, clock: new ManualClock(NOW_MS) });
  const client = createRlsClient(server.grpcAddress);
  started.push({ server, client });
  // a Redis backend connects (and loads its script) before it reports SERVING
  await expect.poll(() => healthCheck(server.grpcAddress, 'ratelimit'), { timeout: 10_000 }).toBe('SERVING');
  return client;
}

async function ask(client: RlsTestClient, domain: string, ...pairs: string[]): Promise<Code> {
  return (await client.shouldRateLimit({ domain, descriptors: [{ entries: entries(...pairs) }] }))
    .overallCode;
}

/** Spends the 3/hour limit of `drain`, then asks once with `other`. */
async function afterDraining(
  client: RlsTestClient,
  drain: readonly [string, ...string[]],
  other: readonly [string, ...string[]],
): Promise<Code> {
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push(await ask(client, ...drain));
  expect(codes).toEqual([Code.OK, Code.OK, Code.OK, Code.OVER_LIMIT]);
  return ask(client, ...other);
}

const VALUE_WITH_SEPARATORS = [
  ['shop', 'user=alice_path_/login'],
  ['shop', 'user=alice', 'path=/login'],
] as const;
const DOMAIN_WITH_SEPARATOR = [
  ['x', 'y_z=v'],
  ['x_y', 'z=v'],
] as const;

function collisionSuite(name: string, backendEnv: BackendEnv): void {
  describe(name, () => {
    it('keeps user=alice_path_/login apart from (user=alice, path=/login) by default', async () => {
      const client = await serve(backendEnv(), undefined);
      const [drain, other] = VALUE_WITH_SEPARATORS;
      expect(await afterDraining(client, drain, other)).toBe(Code.OK);
      // and the other way round, on a fresh counter
      expect(
        await afterDraining(client, ['shop', 'user=bob', 'path=/login'], ['shop', 'user=bob_path_/login']),
      ).toBe(Code.OK);
    });

    it('keeps domain x + key y_z apart from domain x_y + key z with CACHE_KEY_FORMAT=escaped', async () => {
      const client = await serve(backendEnv(), 'escaped');
      const [drain, other] = DOMAIN_WITH_SEPARATOR;
      expect(await afterDraining(client, drain, other)).toBe(Code.OK);
    });

    it('shares both counters with CACHE_KEY_FORMAT=reference, as envoyproxy/ratelimit does (migration)', async () => {
      const client = await serve(backendEnv(), 'reference');
      expect(await afterDraining(client, ...VALUE_WITH_SEPARATORS)).toBe(Code.OVER_LIMIT);
      expect(await afterDraining(client, ...DOMAIN_WITH_SEPARATOR)).toBe(Code.OVER_LIMIT);
    });
  });
}

collisionSuite('memory backend', () => ({}));

describe('Redis single', () => {
  let redis: RedisTestServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  collisionSuite('REDIS_URL', () => ({ REDIS_URL: redis.url }));
});

describe('Redis Cluster', () => {
  let cluster: RedisTestCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  collisionSuite('REDIS_TYPE=cluster', () => ({
    REDIS_TYPE: 'cluster',
    REDIS_URL: cluster.nodes.map((node) => `${node.host}:${node.port}`).join(','),
  }));
});
