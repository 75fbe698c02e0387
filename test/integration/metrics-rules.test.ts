import { afterEach, describe, expect, it } from 'vitest';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';

const CONFIG = `domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 10 }
  - key: path
    value: /api/*
    descriptors:
      - key: method
        value: GET
        shadow_mode: true
        rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: tenant
    detailed_metric: true
    rate_limit: { unit: minute, requests_per_unit: 100 }
`;

let server: TestServer | undefined;
let client: RlsTestClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.stop();
  server = undefined;
});

/** Every sample line of /metrics as "name{labels}" → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const ruleSample = (stat: string, key1: string, key2 = '') =>
  `ratelimit_service_rate_limit_${stat}{domain="shop",key1="${key1}",key2="${key2}"}`;

describe('per rule metrics at GET /metrics', () => {
  it('counts hits per rule as the reference charges them, after a known request sequence', async () => {
    server = await startServer({ config: { 'shop.yaml': CONFIG } });
    client = createRlsClient(server.grpcAddress);
    // 12 single hits on user (limit 10, NEAR_LIMIT_RATIO 0.8): 10 within, hits 9-10 near, 2 over
    for (let i = 0; i < 12; i++) {
      await client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('user=alice') }] });
    }
    // shadow rule (limit 2) hit 3 times: third is over and shadowed, answered OK
    for (let i = 0; i < 3; i++) {
      const reply = await client.shouldRateLimit({
        domain: 'shop',
        descriptors: [{ entries: entries('path=/api/users', 'method=GET') }],
      });
      expect(reply.overallCode).toBe(1); // OK
    }
    // detailed_metric: runtime values in the labels; one request of 5 hits
    await client.shouldRateLimit({
      domain: 'shop',
      hitsAddend: 5,
      descriptors: [{ entries: entries('tenant=t1') }],
    });
    // unknown domain and an unmatched descriptor
    await client.shouldRateLimit({ domain: 'nope', descriptors: [{ entries: entries('user=alice') }] });
    await client.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('other=x') }] });

    const m = await scrape(server.httpUrl);
    expect(m.get(ruleSample('total_hits', 'user'))).toBe(12);
    expect(m.get(ruleSample('within_limit', 'user'))).toBe(10);
    expect(m.get(ruleSample('near_limit', 'user'))).toBe(2);
    expect(m.get(ruleSample('over_limit', 'user'))).toBe(2);
    expect(m.get(ruleSample('shadow_mode', 'user'))).toBe(0);

    expect(m.get(ruleSample('total_hits', 'path_/api/*', 'method_GET'))).toBe(3);
    expect(m.get(ruleSample('within_limit', 'path_/api/*', 'method_GET'))).toBe(2);
    expect(m.get(ruleSample('near_limit', 'path_/api/*', 'method_GET'))).toBe(1);
    expect(m.get(ruleSample('over_limit', 'path_/api/*', 'method_GET'))).toBe(1);
    expect(m.get(ruleSample('shadow_mode', 'path_/api/*', 'method_GET'))).toBe(1);

    expect(m.get(ruleSample('total_hits', 'tenant_t1'))).toBe(5);
    expect(m.get(ruleSample('within_limit', 'tenant_t1'))).toBe(5);

    const ruleSeries = [...m.keys()].filter((k) => k.startsWith('ratelimit_service_rate_limit_total_hits'));
    expect(ruleSeries).toHaveLength(3);
    expect(m.get('ratelimit_service_domain_not_found{domain="nope"}')).toBe(1);

    expect(m.get('ratelimit_service_total_requests{grpc_method="ShouldRateLimit"}')).toBe(18);
    expect(m.get('ratelimit_service_response_time_seconds_count{grpc_method="ShouldRateLimit"}')).toBe(18);
    expect(
      m.get('ratelimit_service_response_time_seconds_bucket{le="+Inf",grpc_method="ShouldRateLimit"}'),
    ).toBe(18);
  });

  it('counts gRPC errors by err_type and still counts the call', async () => {
    server = await startServer({ config: { 'shop.yaml': CONFIG } });
    client = createRlsClient(server.grpcAddress);
    await expect(client.shouldRateLimit({ domain: '', descriptors: [] })).rejects.toMatchObject({ code: 3 });
    const m = await scrape(server.httpUrl);
    expect(m.get('ratelimit_service_should_rate_limit_error{err_type="invalid_argument"}')).toBe(1);
    expect(m.get('ratelimit_service_total_requests{grpc_method="ShouldRateLimit"}')).toBe(1);
  });
});
