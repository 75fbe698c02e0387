import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { entries } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import {
  isClean,
  type RestartableRedis,
  sleep,
  startLoad,
  startRestartableRedis,
  watchProcessErrors,
} from '../support/load-driver.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Health, breaker visibility and recovery with a real Redis, under the
 * default settings unless a test says otherwise (issue 10, items 2–4).
 */

const CONFIG = {
  'health.yaml': `
domain: health
descriptors:
  - key: big
    rate_limit: { unit: hour, requests_per_unit: 1000000 }
`,
};

let redis: RestartableRedis | undefined;
let server: TestServer | undefined;
let processErrors: ReturnType<typeof watchProcessErrors> | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
  await redis?.stop();
  redis = undefined;
  processErrors?.dispose();
  expect(processErrors?.errors ?? []).toEqual([]);
  processErrors = undefined;
});

async function start(env: Record<string, string> = {}): Promise<TestServer> {
  processErrors = watchProcessErrors();
  redis = await startRestartableRedis();
  server = await startServer({
    config: CONFIG,
    env: { REDIS_URL: redis.url, CACHE_KEY_PREFIX: `${randomUUID()}_`, ...env },
  });
  const address = server.grpcAddress;
  await expect.poll(() => healthCheck(address, 'ratelimit'), { timeout: 10_000 }).toBe('SERVING');
  return server;
}

const httpHealth = async (s: TestServer) => (await fetch(`${s.httpUrl}/healthcheck`)).status;
const detail = async (s: TestServer) =>
  (await (await fetch(`${s.httpUrl}/healthcheck?detail`)).json()) as {
    status: string;
    degraded: string[];
    backend: { connected: boolean; circuit: string };
  };

/** The value of an unlabelled series in GET /metrics. */
async function scrape(s: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${s.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

function load(s: TestServer, maxDurationMs: number) {
  return startLoad({
    address: s.grpcAddress,
    concurrency: 8,
    maxDurationMs,
    request: () => ({ domain: 'health', descriptors: [{ entries: entries('big=x') }], hitsAddend: 0 }),
  });
}

describe('health while Redis is down', { timeout: 30_000 }, () => {
  it('stays healthy by default (a restart never fixes Redis) and shows the outage on ?detail', async () => {
    const s = await start();
    await redis!.kill();
    await expect.poll(async () => (await detail(s)).backend.connected, { timeout: 5_000 }).toBe(false);
    expect(await httpHealth(s)).toBe(200);
    expect(await healthCheck(s.grpcAddress, 'ratelimit')).toBe('SERVING');
    expect(await healthCheck(s.grpcAddress, '')).toBe('SERVING');
    const view = await detail(s);
    expect(view.status).toBe('SERVING');
    expect(view.degraded).toContain('redis not connected');
    expect(await scrape(s, 'ratelimit_backend_connected')).toBe(0);
    await redis!.restart();
    await expect.poll(async () => (await detail(s)).degraded, { timeout: 5_000 }).toEqual([]);
    expect(await scrape(s, 'ratelimit_backend_connected')).toBe(1);
  });

  it('REDIS_HEALTH_CHECK_ACTIVE_CONNECTION=true: 500 and NOT_SERVING while the connection is lost, healthy again once Redis returns', async () => {
    const s = await start({ REDIS_HEALTH_CHECK_ACTIVE_CONNECTION: 'true' });
    expect(await httpHealth(s)).toBe(200);
    await redis!.kill();
    await expect.poll(() => httpHealth(s), { timeout: 5_000 }).toBe(500);
    expect(await healthCheck(s.grpcAddress, 'ratelimit')).toBe('NOT_SERVING');
    await redis!.restart();
    await expect.poll(() => healthCheck(s.grpcAddress, 'ratelimit'), { timeout: 5_000 }).toBe('SERVING');
    expect(await httpHealth(s)).toBe(200);
  });
});

describe('the circuit breaker', { timeout: 30_000 }, () => {
  it('reads open in /metrics at every scrape while open, and closes when a paused Redis resumes, not after its backoff', async () => {
    // a 30 s backoff: closing sooner can only come from Redis answering again
    const s = await start({ CIRCUIT_BREAKER_MIN_BACKOFF: '30s', CIRCUIT_BREAKER_MAX_BACKOFF: '30s' });
    const run = load(s, 20_000);
    await sleep(300);
    redis!.pause();
    await expect.poll(() => scrape(s, 'ratelimit_backend_circuit_opened_total'), { timeout: 5_000 }).toBe(1);
    for (let i = 0; i < 5; i++) {
      expect(await scrape(s, 'ratelimit_backend_circuit_open')).toBe(1);
      await sleep(100);
    }
    // degraded, not unhealthy
    expect(await healthCheck(s.grpcAddress, 'ratelimit')).toBe('SERVING');
    expect((await detail(s)).backend.circuit).toBe('open');
    redis!.resume();
    const resumedAt = Date.now();
    await expect.poll(() => scrape(s, 'ratelimit_backend_circuit_open'), { timeout: 5_000 }).toBe(0);
    expect(Date.now() - resumedAt).toBeLessThan(5_000);
    await run.stop();
    expect(run.samples.some((sample) => isClean(sample) && sample.sentAt > resumedAt)).toBe(true);
  });
});

describe('recovery after Redis restarts', { timeout: 40_000 }, () => {
  it('answers OK promptly once a killed Redis accepts connections again (default settings)', async () => {
    const s = await start();
    const run = load(s, 25_000);
    await sleep(500);
    await redis!.kill();
    // long enough for the reconnect backoff to reach its cap
    await sleep(5_000);
    await redis!.restart();
    const backAt = Date.now();
    await expect
      .poll(() => run.samples.some((sample) => isClean(sample) && sample.sentAt >= backAt), {
        timeout: 10_000,
        interval: 20,
      })
      .toBe(true);
    await run.stop();
    const firstOk = Math.min(
      ...run.samples.filter((sample) => isClean(sample) && sample.sentAt >= backAt).map((x) => x.doneAt),
    );
    const recoveryMs = firstOk - backAt;
    console.log(
      `RECOVERY_RESULT ${JSON.stringify({ fault: 'kill 5 s', firstOkAfterRedisBackMs: recoveryMs })}`,
    );
    // target < 1 s (docs/failure-modes.md); generous here so a busy machine never flakes
    expect(recoveryMs).toBeLessThan(3_000);
  });
});
