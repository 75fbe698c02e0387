import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitUnit } from '../../src/gen/ratelimit/config/ratelimit/v3/rls_conf.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';
import { type ConfigResource, XdsTestServer } from '../support/xds-server.js';

/** One domain `gw` limiting `user` (any value) to `limit` per minute. */
const config = (limit: number, name = 'gw-config'): ConfigResource => ({
  name,
  domain: 'gw',
  descriptors: [{ key: 'user', rateLimit: { unit: RateLimitUnit.MINUTE, requestsPerUnit: limit } }],
});

let xds: XdsTestServer;
let server: TestServer;
let client: RlsTestClient;

async function limitNow(): Promise<number | undefined> {
  const reply = await client.shouldRateLimit({
    domain: 'gw',
    descriptors: [{ entries: entries('user=u1') }],
  });
  return reply.statuses[0]?.currentLimit?.requestsPerUnit;
}

async function eventuallyLimit(expected: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await limitNow()) !== expected) {
    if (Date.now() > deadline) throw new Error(`the limit did not become ${expected}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  xds = await XdsTestServer.start();
  xds.push('v1', [config(3)]);
  server = await startServer({
    config: {},
    env: {
      CONFIG_TYPE: 'GRPC_XDS_SOTW',
      CONFIG_GRPC_XDS_SERVER_URL: xds.address,
      CONFIG_GRPC_XDS_NODE_ID: 'rls-node-1',
      CONFIG_GRPC_XDS_NODE_METADATA: 'zone=a,team=edge',
      CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL: '100ms',
      XDS_CLIENT_BACKOFF_INITIAL_INTERVAL: '100ms',
      XDS_CLIENT_BACKOFF_MAX_INTERVAL: '200ms',
      // a pushed set is bounded like files on disk (one test pushes past it)
      CONFIG_MAX_BYTES: '16384',
    },
  });
  client = createRlsClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  xds?.stop();
});

describe('CONFIG_TYPE=GRPC_XDS_SOTW against a SotW ADS server', () => {
  it('subscribes with its node, applies the initial snapshot before serving, and ACKs its version', async () => {
    const subscribe = xds.requests[0]!;
    expect(subscribe).toMatchObject({
      type_url: 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig',
      version_info: '',
      response_nonce: '',
      resource_names: [],
    });
    expect(subscribe.node?.id).toBe('rls-node-1');
    expect(JSON.stringify(subscribe.node?.metadata)).toContain('"zone"');
    // start() waited for the first response: answered from it at once
    expect(await limitNow()).toBe(3);
    const ack = await xds.waitFor((r) => r.response_nonce !== '');
    expect(ack).toMatchObject({ version_info: 'v1', error_detail: null });
  });

  it('applies an update and ACKs it', async () => {
    const from = xds.requests.length;
    xds.push('v2', [config(5)]);
    await eventuallyLimit(5);
    const ack = await xds.waitFor((r) => r.version_info === 'v2', { from });
    expect(ack.error_detail).toBeNull();
  });

  it('NACKs an invalid snapshot with the reason and keeps the last good config', async () => {
    const from = xds.requests.length;
    xds.push('v3', [
      {
        name: 'bad',
        domain: 'gw',
        descriptors: [
          { key: 'user', rateLimit: { unit: RateLimitUnit.MINUTE, requestsPerUnit: 1 } },
          { key: 'user', rateLimit: { unit: RateLimitUnit.HOUR, requestsPerUnit: 1 } },
        ],
      },
    ]);
    const nack = await xds.waitFor((r) => r.error_detail != null, { from });
    expect(nack.version_info).toBe('v2');
    expect(nack.error_detail?.code).toBe(3);
    expect(nack.error_detail?.message).toMatch(/xds:bad: .*duplicate/);
    expect(await limitNow()).toBe(5);

    const from2 = xds.requests.length;
    xds.push('v3b', [
      { name: 'unitless', domain: 'gw', descriptors: [{ key: 'user', rateLimit: { requestsPerUnit: 1 } }] },
    ]);
    const nack2 = await xds.waitFor((r) => r.error_detail != null, { from: from2 });
    expect(nack2.version_info).toBe('v2');
    expect(nack2.error_detail?.message).toContain("invalid rate limit unit 'UNKNOWN'");
    expect(await limitNow()).toBe(5);
  });

  it('NACKs a set over CONFIG_MAX_BYTES, as a file load refuses one, and keeps the last good config', async () => {
    const from = xds.requests.length;
    const descriptors = Array.from({ length: 400 }, (_, i) => ({
      key: `key-${i}`,
      rateLimit: { unit: RateLimitUnit.MINUTE, requestsPerUnit: i + 1 },
    }));
    xds.push('v3d', [{ name: 'huge', domain: 'gw', descriptors }]);
    const nack = await xds.waitFor((r) => r.error_detail != null, { from });
    expect(nack.version_info).toBe('v2');
    expect(nack.error_detail?.message).toMatch(
      /xds:huge: .*over the limit of 16,384 bytes \(CONFIG_MAX_BYTES\)/,
    );
    expect(await limitNow()).toBe(5);
  });

  it('NACKs a resource that is not a RateLimitConfig', async () => {
    const from = xds.requests.length;
    xds.push('v3c', [], [Buffer.from([0x0a, 0xff])]);
    const nack = await xds.waitFor((r) => r.error_detail != null, { from });
    expect(nack.error_detail?.message).toContain('not a valid RateLimitConfig');
    expect(await limitNow()).toBe(5);
  });

  it('keeps the config while the server is down, reconnects with the last accepted version, applies the next snapshot', async () => {
    xds.stop();
    await new Promise((r) => setTimeout(r, 300));
    expect(await limitNow()).toBe(5);
    const from = xds.requests.length;
    xds.push('v4', [config(7)]);
    await xds.restart();
    const resubscribe = await xds.waitFor((r) => r.response_nonce === '', { from, timeoutMs: 5_000 });
    expect(resubscribe.version_info).toBe('v2');
    expect(resubscribe.node?.id).toBe('rls-node-1');
    await eventuallyLimit(7);
    await xds.waitFor((r) => r.version_info === 'v4' && r.error_detail == null, { from });
  });
});
