import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

const GOOD =
  'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 5 }\n';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** The value of one un-labelled sample in Prometheus text, or undefined. */
async function sample(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('GET /metrics', () => {
  it('counts config loads, and a bad reload as an error while the old config keeps answering', async () => {
    server = await startServer({ config: { 'shop.yaml': GOOD } });
    const url = server.httpUrl;
    expect(await sample(url, 'ratelimit_service_config_load_success')).toBe(1);
    expect(await sample(url, 'ratelimit_service_config_load_error')).toBe(0);

    await writeFile(
      join(server.configDir, 'shop.yaml'),
      'domain: shop\ndescriptors:\n  - key: user\n    ratelimit: {}\n',
    );
    await expect.poll(() => sample(url, 'ratelimit_service_config_load_error'), { timeout: 5_000 }).toBe(1);
    expect(await sample(url, 'ratelimit_service_config_load_success')).toBe(1);
    const reply = await fetch(`${url}/json`, {
      method: 'POST',
      body: JSON.stringify({ domain: 'shop', descriptors: [{ entries: [{ key: 'user', value: 'a' }] }] }),
    });
    expect(await reply.json()).toMatchObject({ statuses: [{ currentLimit: { requestsPerUnit: 5 } }] });
  });

  it('serves the Prometheus text format', async () => {
    server = await startServer({ config: { 'shop.yaml': GOOD } });
    const reply = await fetch(`${server.httpUrl}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('text/plain');
    expect(await reply.text()).toContain('# TYPE ratelimit_service_config_load_success counter');
  });

  it('counts HTTP requests by fixed route and status, never by raw path', async () => {
    server = await startServer({ config: { 'shop.yaml': GOOD } });
    const url = server.httpUrl;
    await fetch(`${url}/healthcheck`);
    await fetch(`${url}/no/such/path?x=1`);
    await fetch(`${url}/json`, { method: 'POST', body: 'not json' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('ratelimit_http_requests_total{route="/healthcheck",code="200"} 1');
    expect(text).toContain('ratelimit_http_requests_total{route="other",code="404"} 1');
    expect(text).toContain('ratelimit_http_requests_total{route="/json",code="400"} 1');
    expect(text).not.toContain('/no/such/path');
    expect(text).toContain('ratelimit_http_response_time_seconds_count{route="/json"} 1');
  });
});
