import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RateLimitResponse_Code as Code,
  RateLimitResponse_RateLimit_Unit as Unit,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { healthCheck, listServicesByReflection } from '../support/grpc-extras.js';
import { startServer, type TestServer } from '../support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const CONFIG = {
  'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: vip
    rate_limit: { unlimited: true }
  - key: path
    value: /login
    shadow_mode: true
    rate_limit: { unit: second, requests_per_unit: 1 }
`,
};

let server: TestServer | undefined;
let client: RlsTestClient | undefined;

afterEach(async () => {
  client?.close();
  await server?.stop();
  server = undefined;
  client = undefined;
});

async function start(env: Record<string, string> = {}, config: Record<string, string> = CONFIG) {
  server = await startServer({ config, env });
  client = createRlsClient(server.grpcAddress);
  return { server, client };
}

describe('ShouldRateLimit over gRPC', () => {
  it('answers OK three times then OVER_LIMIT for a 3/minute limit, with limit, remaining and reset', async () => {
    const { client } = await start();
    const ask = () =>
      client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('user=alice') }] });
    const answers = [await ask(), await ask(), await ask(), await ask()];
    expect(answers.map((a) => a.overallCode)).toEqual([Code.OK, Code.OK, Code.OK, Code.OVER_LIMIT]);
    expect(answers.map((a) => a.statuses[0]?.limitRemaining)).toEqual([2, 1, 0, 0]);
    const last = answers[3]?.statuses[0];
    expect(last?.currentLimit).toEqual({ name: '', requestsPerUnit: 3, unit: Unit.MINUTE });
    expect(last?.durationUntilReset?.seconds).toBeGreaterThanOrEqual(1);
    expect(last?.durationUntilReset?.seconds).toBeLessThanOrEqual(60);
  });

  it('returns one status per descriptor in request order, unlimited and unmatched included', async () => {
    const { client } = await start();
    const reply = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [
        { entries: entries('vip=yes') },
        { entries: entries('nothing=here') },
        { entries: entries('user=bob') },
      ],
    });
    expect(reply.statuses.map((s) => s.code)).toEqual([Code.OK, Code.OK, Code.OK]);
    expect(reply.statuses[0]?.limitRemaining).toBe(4_294_967_295);
    expect(reply.statuses[1]).toMatchObject({ limitRemaining: 0, currentLimit: undefined });
    expect(reply.statuses[2]?.limitRemaining).toBe(2);
  });

  it('charges per-descriptor hits_addend and treats 0 as check-only', async () => {
    const { client } = await start();
    const user = entries('user=carol');
    const charged = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: user, hitsAddend: 2 }],
    });
    const checked = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: user, hitsAddend: 0 }],
    });
    expect(charged.statuses[0]?.limitRemaining).toBe(1);
    expect(checked.statuses[0]?.limitRemaining).toBe(1);
  });

  it('keeps a shadow-mode rule OK when over its limit', async () => {
    const { client } = await start();
    const ask = () =>
      client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('path=/login') }] });
    await ask();
    const over = await ask();
    expect(over.overallCode).toBe(Code.OK);
    expect(over.statuses[0]).toMatchObject({ code: Code.OK, limitRemaining: 0 });
  });

  it('adds RateLimit-* headers when LIMIT_RESPONSE_HEADERS_ENABLED is set', async () => {
    const { client } = await start({
      LIMIT_RESPONSE_HEADERS_ENABLED: 'true',
      LIMIT_REMAINING_HEADER: 'X-Left',
    });
    const reply = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: entries('user=dan') }],
    });
    const headers = Object.fromEntries(reply.responseHeadersToAdd.map((h) => [h.key, h.value]));
    expect(headers['RateLimit-Limit']).toBe('3');
    expect(headers['X-Left']).toBe('2');
    expect(Number(headers['RateLimit-Reset'])).toBeGreaterThan(0);
  });

  it('returns dynamic metadata when RESPONSE_DYNAMIC_METADATA is set', async () => {
    const { client } = await start({ RESPONSE_DYNAMIC_METADATA: 'true' });
    const reply = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: entries('user=eve') }],
    });
    expect(reply.dynamicMetadata).toMatchObject({ domain: 'shop', descriptors: [{ entries: ['user=eve'] }] });
  });

  it.each([
    [{ domain: '', descriptors: [{ entries: entries('user=a') }] }, 'domain must not be empty'],
    [{ domain: 'shop', descriptors: [] }, 'descriptor list must not be empty'],
    [{ domain: 'shop', descriptors: [{ entries: [{ key: '', value: 'x' }] }] }, 'empty key'],
    [
      { domain: 'shop', descriptors: Array.from({ length: 65 }, () => ({ entries: entries('user=a') })) },
      '64',
    ],
  ])('rejects a malformed request with INVALID_ARGUMENT naming the problem (%#)', async (request, text) => {
    const { client } = await start();
    await expect(client.shouldRateLimit(request)).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining(text),
    });
  });
});

describe('gRPC health and reflection', () => {
  it('reports SERVING for "" and "ratelimit" once the config is loaded', async () => {
    const { server } = await start();
    expect(await healthCheck(server.grpcAddress, '')).toBe('SERVING');
    expect(await healthCheck(server.grpcAddress, 'ratelimit')).toBe('SERVING');
  });

  it('lists the rate limit and health services through server reflection', async () => {
    const { server } = await start();
    const services = await listServicesByReflection(server.grpcAddress);
    expect(services).toContain('envoy.service.ratelimit.v3.RateLimitService');
    expect(services).toContain('grpc.health.v1.Health');
  });

  it('forced to start with an invalid config: SERVING as the reference, answering UNAVAILABLE', async () => {
    const { server, client } = await start(
      { FORCE_START_WITHOUT_INITIAL_CONFIG: 'true' },
      { 'bad.yaml': 'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: fortnight }\n' },
    );
    expect(await healthCheck(server.grpcAddress, 'ratelimit')).toBe('SERVING');
    await expect(
      client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('user=a') }] }),
    ).rejects.toMatchObject({ code: status.UNAVAILABLE, details: 'no rate limit configuration loaded' });
  });

  it('HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED: NOT_SERVING until a config with a domain loads, and after a load with none', async () => {
    const { server } = await start(
      { FORCE_START_WITHOUT_INITIAL_CONFIG: 'true', HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED: 'true' },
      { 'bad.yaml': 'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: fortnight }\n' },
    );
    const health = () => healthCheck(server.grpcAddress, 'ratelimit');
    expect(await health()).toBe('NOT_SERVING');
    await writeFile(join(server.configDir, 'bad.yaml'), 'domain: shop\n');
    await expect.poll(health, { timeout: 5_000 }).toBe('SERVING');
    // a failed load changes nothing
    await writeFile(join(server.configDir, 'bad.yaml'), 'domain: [shop\n');
    await sleep(300);
    expect(await health()).toBe('SERVING');
    // a successful load with no domain makes it unhealthy again
    await rm(join(server.configDir, 'bad.yaml'));
    await expect.poll(health, { timeout: 5_000 }).toBe('NOT_SERVING');
  });

  it('refuses to start on an invalid config, naming file and line', async () => {
    await expect(
      startServer({
        config: { 'bad.yaml': 'domain: shop\ndescriptors:\n  - key: user\n    ratelimit: {}\n' },
      }),
    ).rejects.toMatchObject({
      problems: [expect.objectContaining({ file: expect.stringContaining('bad.yaml'), line: 4 })],
    });
  });
});
