import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { maxJsonBodyBytes } from '../../src/http/json-codec.js';
import { DEFAULT_REQUEST_LIMITS } from '../../src/service/request-validation.js';
import { startServer, type TestServer } from '../support/server.js';

const CONFIG = {
  'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: client
    value: web
    shadow_mode: true
    rate_limit: { unit: hour, requests_per_unit: 100, name: web }
`,
};

let server: TestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/json`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const request = (user: string) => ({
  domain: 'shop',
  descriptors: [{ entries: [{ key: 'user', value: user }] }],
});

describe('POST /json', () => {
  it('answers 200 with the protobuf-JSON response, then 429 when over the limit', async () => {
    server = await startServer({ config: CONFIG });
    const first = await postJson(server.httpUrl, request('alice'));
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json');
    const body = (await first.json()) as { statuses: { durationUntilReset: string }[] };
    expect(body).toMatchObject({
      overallCode: 'OK',
      statuses: [{ code: 'OK', currentLimit: { requestsPerUnit: 2, unit: 'MINUTE' }, limitRemaining: 1 }],
    });
    expect(body.statuses[0]?.durationUntilReset).toMatch(/^\d+s$/);
    await postJson(server.httpUrl, request('alice'));
    const over = await postJson(server.httpUrl, request('alice'));
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({
      overallCode: 'OVER_LIMIT',
      statuses: [{ code: 'OVER_LIMIT' }],
    });
  });

  it('accepts snake_case field names and string uint64 values', async () => {
    server = await startServer({ config: CONFIG });
    const reply = await postJson(server.httpUrl, {
      domain: 'shop',
      hits_addend: 5,
      descriptors: [{ entries: [{ key: 'user', value: 'bob' }], hits_addend: '1' }],
    });
    expect(reply.status).toBe(200);
    // the descriptor's "1" replaces the request's 5: one of two used
    expect(await reply.json()).toMatchObject({ statuses: [{ code: 'OK', limitRemaining: 1 }] });
  });

  it('echoes the rule name in currentLimit', async () => {
    server = await startServer({ config: CONFIG });
    const reply = await postJson(server.httpUrl, {
      domain: 'shop',
      descriptors: [{ entries: [{ key: 'client', value: 'web' }] }],
    });
    expect(await reply.json()).toMatchObject({ statuses: [{ currentLimit: { name: 'web', unit: 'HOUR' } }] });
  });

  it.each([
    ['not json', 'not valid JSON'],
    [
      { domain: 'shop', descriptors: [{ entries: [{ key: 'user', value: 'a' }], color: 'red' }] },
      "unknown field 'color'",
    ],
    [{ domain: 'shop', descriptors: 'user' }, 'descriptors must be a list'],
    [{ domain: '', descriptors: [{ entries: [{ key: 'user', value: 'a' }] }] }, 'domain must not be empty'],
    [
      { domain: 'shop', descriptors: [{ entries: [{ key: 'user', value: 'a' }], hitsAddend: -1 }] },
      'non-negative',
    ],
  ])('answers 400 with the reason for a malformed body (%#)', async (body, reason) => {
    server = await startServer({ config: CONFIG });
    const reply = await postJson(server.httpUrl, body);
    expect(reply.status).toBe(400);
    expect(await reply.text()).toContain(reason);
  });

  it('answers 503 when no config is loaded', async () => {
    server = await startServer({
      config: { 'bad.yaml': 'domain: shop\ndescriptors: [a]\n' },
      env: { FORCE_START_WITHOUT_INITIAL_CONFIG: 'true' },
    });
    const reply = await postJson(server.httpUrl, request('x'));
    expect(reply.status).toBe(503);
    expect(await reply.text()).toContain('no rate limit configuration loaded');
  });

  it('answers 413 for a body over the bound derived from the request limits (5.5 MB by default) and keeps serving', async () => {
    server = await startServer({ config: CONFIG });
    const huge = JSON.stringify({ domain: 'shop', descriptors: [], pad: 'x'.repeat(6_000_000) });
    const reply = await postJson(server.httpUrl, huge);
    expect(reply.status).toBe(413);
    expect(await reply.text()).toBe(
      `request body larger than ${maxJsonBodyBytes(DEFAULT_REQUEST_LIMITS)} bytes\n`,
    );
    expect((await postJson(server.httpUrl, request('after'))).status).toBe(200);
  });

  it('answers 413 from a Content-Length over the bound without waiting for the body', async () => {
    server = await startServer({ config: CONFIG });
    const { port } = new URL(server.httpUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n{');
      });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('answers 400 naming the bound for a body of more JSON objects than the limits allow, before parsing it', async () => {
    server = await startServer({ config: CONFIG });
    const body = `{"domain":"shop","descriptors":[${Array(100_000).fill('{}').join(',')}]}`;
    const reply = await postJson(server.httpUrl, body);
    expect(reply.status).toBe(400);
    expect(await reply.text()).toMatch(/^request body has more than 2177 JSON objects/);
  });

  it('accepts the largest request within the limits: 64 descriptors of 32 entries, 256-byte keys, 1024-byte values', async () => {
    server = await startServer({ config: CONFIG });
    const entries = Array.from({ length: 32 }, (_, i) => ({
      key: `${i}`.padEnd(256, 'k'),
      value: 'v'.repeat(1024),
    }));
    const body = { domain: 'shop', descriptors: Array.from({ length: 64 }, () => ({ entries })) };
    const reply = await postJson(server.httpUrl, body);
    expect(reply.status).toBe(200);
  });
});

describe('GET /healthcheck and the debug port', () => {
  it('answers 200 OK while serving, and 500 without a config only under HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED', async () => {
    server = await startServer({ config: CONFIG });
    const ok = await fetch(`${server.httpUrl}/healthcheck`);
    expect([ok.status, await ok.text()]).toEqual([200, 'OK']);
    await server.stop();
    server = await startServer({
      config: { 'bad.yaml': 'domain: [x]\n' },
      env: { FORCE_START_WITHOUT_INITIAL_CONFIG: 'true' },
    });
    expect((await fetch(`${server.httpUrl}/healthcheck`)).status).toBe(200);
    await server.stop();
    server = await startServer({
      config: { 'bad.yaml': 'domain: [x]\n' },
      env: { FORCE_START_WITHOUT_INITIAL_CONFIG: 'true', HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED: 'true' },
    });
    const failing = await fetch(`${server.httpUrl}/healthcheck`);
    expect([failing.status, await failing.text()]).toEqual([500, 'NOT_SERVING']);
  });

  it('shows what is degraded on /healthcheck?detail while /healthcheck stays 200', async () => {
    server = await startServer({
      config: { 'bad.yaml': 'domain: [x]\n' },
      env: { FORCE_START_WITHOUT_INITIAL_CONFIG: 'true' },
    });
    const detail = await fetch(`${server.httpUrl}/healthcheck?detail`);
    expect(detail.status).toBe(200);
    expect(detail.headers.get('content-type')).toBe('application/json');
    expect(await detail.json()).toEqual({
      status: 'SERVING',
      reasons: [],
      degraded: ['no config loaded: every request is answered with an error'],
      config: { loaded: false, domains: null },
      backend: { kind: 'memory', warm: true, connected: true },
    });
  });

  it('lists the loaded limits, sorted, on /rlconfig', async () => {
    server = await startServer({ config: CONFIG });
    const text = await (await fetch(`${server.debugUrl}/rlconfig`)).text();
    expect(text.trim().split('\n')).toEqual([
      'shop.client_web: unit=HOUR requests_per_unit=100, shadow_mode: true, quota_mode: false',
      'shop.user: unit=MINUTE requests_per_unit=2, shadow_mode: false, quota_mode: false',
    ]);
  });
});

describe('GET /auth through the real server', () => {
  it('answers over limit with AUTH_REQUEST_OVER_LIMIT_STATUS (429 for forward-auth gateways)', async () => {
    server = await startServer({ config: CONFIG, env: { AUTH_REQUEST_OVER_LIMIT_STATUS: '429' } });
    const ask = () =>
      fetch(`${server?.httpUrl}/auth`, {
        headers: { 'X-RateLimit-Domain': 'shop', 'X-RateLimit-Descriptor': 'user=forward' },
      });
    expect((await ask()).status).toBe(200);
    expect((await ask()).status).toBe(200);
    const over = await ask();
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.headers.get('x-ratelimit-limit')).toBe('2');
  });

  it('answers 400 naming the bound for 65 descriptors or a descriptor of 33 entries', async () => {
    server = await startServer({ config: CONFIG });
    const query = Array.from({ length: 65 }, (_, i) => `descriptor=user=${i}`).join('&');
    const tooMany = await fetch(`${server.httpUrl}/auth?domain=shop&${query}`);
    expect(tooMany.status).toBe(400);
    expect(await tooMany.text()).toMatch(/^65 descriptors .*; at most 64 are allowed/);
    const wide = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',');
    const tooWide = await fetch(`${server.httpUrl}/auth`, {
      headers: { 'X-RateLimit-Domain': 'shop', 'X-RateLimit-Descriptor': wide },
    });
    expect(tooWide.status).toBe(400);
    expect(await tooWide.text()).toBe(
      'descriptor 0 entry 32: at most 32 entries per descriptor are allowed\n',
    );
  });

  it("leaves a request line and headers over 16 KiB to Node's HTTP parser (431), then keeps serving", async () => {
    server = await startServer({ config: CONFIG });
    const long = await fetch(`${server.httpUrl}/auth?domain=shop&descriptor=user=${'x'.repeat(17 * 1024)}`);
    expect(long.status).toBe(431);
    const ok = await fetch(`${server.httpUrl}/auth`, {
      headers: { 'X-RateLimit-Domain': 'shop', 'X-RateLimit-Descriptor': 'user=after' },
    });
    expect(ok.status).toBe(200);
  });
});

describe('GET /auth headers', () => {
  const TWO_LIMITS = {
    'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: plan
    rate_limit: { unit: hour, requests_per_unit: 1 }
`,
  };

  it('describe the status the gRPC RateLimit-* headers describe: the last one over limit', async () => {
    server = await startServer({ config: TWO_LIMITS, env: { LIMIT_RESPONSE_HEADERS_ENABLED: 'true' } });
    const ask = () => fetch(`${server?.httpUrl}/auth?domain=shop&descriptor=plan=free&descriptor=user=bob`);
    const first = await ask();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('1');
    await ask();
    // both over: plan (1/hour) resets later, but the last descriptor over (user, 2/minute) decides
    const over = await ask();
    expect(over.status).toBe(403);
    expect(over.headers.get('x-ratelimit-limit')).toBe('2');
    expect(over.headers.get('x-ratelimit-limit')).toBe(over.headers.get('ratelimit-limit'));
    expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(over.headers.get('x-ratelimit-reset')).toBe(over.headers.get('ratelimit-reset'));
    // Retry-After is when the whole request passes: not before plan (1/hour) frees up
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(
      Number(over.headers.get('x-ratelimit-reset')),
    );
    const json = await fetch(`${server?.httpUrl}/json`, {
      method: 'POST',
      body: JSON.stringify({ domain: 'shop', descriptors: [{ entries: [{ key: 'plan', value: 'free' }] }] }),
    }).then((response) => response.json() as Promise<{ statuses: { durationUntilReset: string }[] }>);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(
      Number.parseInt(json.statuses[0]?.durationUntilReset ?? '', 10) - 1,
    );
  });
});
