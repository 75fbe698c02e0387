import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { GatedStore } from '../support/gated-store.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { startServer, type TestServer } from '../support/server.js';

const CONFIG = {
  'shop.yaml':
    'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 5 }\n',
};
const ASK = { domain: 'shop', descriptors: [{ entries: entries('user=alice') }] };

let server: TestServer | undefined;
const clients: RlsTestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.stop();
  server = undefined;
});

function client(address: string): RlsTestClient {
  const c = createRlsClient(address);
  clients.push(c);
  return c;
}

async function until(condition: () => boolean): Promise<void> {
  await expect.poll(condition, { timeout: 5_000, interval: 10 }).toBe(true);
}

describe('graceful shutdown', () => {
  it('finishes a call in flight, reports NOT_SERVING and refuses new calls', async () => {
    const store = new GatedStore();
    server = await startServer({ config: CONFIG, store });
    const running = server;
    const early = client(running.grpcAddress);
    const late = client(running.grpcAddress);
    await late.shouldRateLimit(ASK); // connect before shutdown starts
    store.hold();
    const inFlight = early.shouldRateLimit(ASK);
    await until(() => store.started === 2);

    const stopped = running.stop();
    server = undefined;
    expect(running.app.health.isServing()).toBe(false);
    await expect(late.shouldRateLimit(ASK)).rejects.toMatchObject({ code: status.UNAVAILABLE });

    store.release();
    await expect(inFlight).resolves.toMatchObject({ overallCode: Code.OK });
    await stopped;
  });

  it('cuts calls still running when the grace period ends', async () => {
    const store = new GatedStore();
    server = await startServer({ config: CONFIG, store, env: { SHUTDOWN_GRACE_PERIOD: '200ms' } });
    const running = server;
    server = undefined;
    store.hold();
    const stuck = client(running.grpcAddress)
      .shouldRateLimit(ASK)
      .catch((error: unknown) => error);
    await until(() => store.started === 1);
    const startedAt = Date.now();
    await running.stop();
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    // grpc-js resets the stream when it forces the shutdown
    expect(await stuck).toMatchObject({ code: status.CANCELLED });
    store.release();
  });
});

describe('backend failures', () => {
  it('answers UNAVAILABLE with the backend error when the store fails, and 503 on /json', async () => {
    const store = new GatedStore();
    server = await startServer({ config: CONFIG, store });
    store.failWith = new Error('connection refused');
    await expect(client(server.grpcAddress).shouldRateLimit(ASK)).rejects.toMatchObject({
      code: status.UNAVAILABLE,
      details: expect.stringContaining('connection refused'),
    });
    const reply = await fetch(`${server.httpUrl}/json`, { method: 'POST', body: JSON.stringify(ASK) });
    expect(reply.status).toBe(503);
    expect(await healthCheck(server.grpcAddress, 'ratelimit')).toBe('SERVING');
  });
});
