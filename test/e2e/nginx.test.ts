import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DescriptorStatus, RateLimitResult } from '../../src/core/decision.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { createHttpServer } from '../../src/http/http-server.js';
import { silentLogger } from '../../src/log/logger.js';
import { freePort } from '../support/free-port.js';
import { type FailureVariant, type NginxTestServer, startNginx } from '../support/nginx.js';
import { startServer, type TestServer } from '../support/server.js';

// The shipped deploy/nginx configs send domain "nginx" and the descriptor
// "remote_address=$remote_addr, path=$uri".
const CONFIG = `domain: nginx
descriptors:
  - key: remote_address
    descriptors:
      - key: path
        rate_limit:
          unit: minute
          requests_per_unit: 3
`;

let app: Server;
let appAddress: string;
/** Paths the application saw, in order. */
const seen: string[] = [];
const nginxes: NginxTestServer[] = [];

beforeAll(async () => {
  app = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`app ${req.url}\n`);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => app.close(() => resolve()));
});

afterEach(async () => {
  await Promise.all(nginxes.splice(0).map((n) => n.stop()));
});

async function nginxFor(ratelimitAddress: string, variant: FailureVariant): Promise<NginxTestServer> {
  const nginx = await startNginx({ listenPort: await freePort(), appAddress, ratelimitAddress, variant });
  nginxes.push(nginx);
  return nginx;
}

let uniq = 0;
const uniquePath = (name: string) => `/${name}-${process.pid}-${Date.now()}-${uniq++}`;

function rateLimitHeaders(response: Response): Record<string, string | null> {
  return {
    limit: response.headers.get('x-ratelimit-limit'),
    remaining: response.headers.get('x-ratelimit-remaining'),
    reset: response.headers.get('x-ratelimit-reset'),
    retryAfter: response.headers.get('retry-after'),
  };
}

describe('nginx auth_request in front of an application (deploy/nginx)', () => {
  let service: TestServer;
  let ratelimitAddress: string;

  beforeAll(async () => {
    service = await startServer({ config: { 'nginx.yaml': CONFIG } });
    ratelimitAddress = new URL(service.httpUrl).host;
  });

  afterAll(async () => {
    await service.stop();
  });

  it('passes requests within the limit to the application with X-RateLimit-* headers', async () => {
    const nginx = await nginxFor(ratelimitAddress, 'fail-closed');
    const path = uniquePath('within');
    for (const remaining of ['2', '1', '0']) {
      const response = await fetch(nginx.url + path);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(`app ${path}\n`);
      const headers = rateLimitHeaders(response);
      expect(headers).toMatchObject({ limit: '3', remaining, retryAfter: null });
      expect(Number(headers.reset)).toBeGreaterThan(0);
      expect(Number(headers.reset)).toBeLessThanOrEqual(60);
    }
    expect(seen.filter((p) => p === path)).toHaveLength(3);
  });

  it('answers the 4th request in a 3/minute window with 429, Retry-After and X-RateLimit-* headers', async () => {
    const nginx = await nginxFor(ratelimitAddress, 'fail-closed');
    const path = uniquePath('over');
    for (let i = 0; i < 3; i++) expect((await fetch(nginx.url + path)).status).toBe(200);
    const response = await fetch(nginx.url + path);
    expect(response.status).toBe(429);
    const headers = rateLimitHeaders(response);
    expect(headers).toMatchObject({ limit: '3', remaining: '0' });
    expect(Number(headers.retryAfter)).toBeGreaterThan(0);
    expect(Number(headers.retryAfter)).toBeLessThanOrEqual(60);
    expect(headers.reset).toBe(headers.retryAfter);
    expect(seen.filter((p) => p === path)).toHaveLength(3);
  });

  it('does not limit a different descriptor value (another path) when one is over', async () => {
    const nginx = await nginxFor(ratelimitAddress, 'fail-open');
    const limited = uniquePath('limited');
    for (let i = 0; i < 4; i++) await fetch(nginx.url + limited);
    expect((await fetch(nginx.url + limited)).status).toBe(429);
    const other = await fetch(nginx.url + uniquePath('other'));
    expect(other.status).toBe(200);
    expect(rateLimitHeaders(other)).toMatchObject({ limit: '3', remaining: '2' });
  });

  it('ignores X-RateLimit-Descriptor and X-RateLimit-Hits headers sent by the client', async () => {
    const nginx = await nginxFor(ratelimitAddress, 'fail-closed');
    const path = uniquePath('spoof');
    const victim = `remote_address=127.0.0.1, path=${path}`;
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${nginx.url}/attacker-${i}`, {
        headers: { 'x-ratelimit-descriptor': victim, 'x-ratelimit-hits': '10' },
      });
      expect(response.status).toBe(200);
    }
    expect(rateLimitHeaders(await fetch(nginx.url + path))).toMatchObject({ remaining: '2' });
  });
});

describe('nginx with the rate limit service down', () => {
  let downAddress: string;

  beforeAll(async () => {
    // A service that ran and stopped: nothing listens on its port any more.
    const service = await startServer({ config: { 'nginx.yaml': CONFIG } });
    downAddress = new URL(service.httpUrl).host;
    await service.stop();
  });

  it('fail-open passes traffic to the application, without X-RateLimit-* headers', async () => {
    const nginx = await nginxFor(downAddress, 'fail-open');
    const path = uniquePath('open');
    for (let i = 0; i < 5; i++) {
      const response = await fetch(nginx.url + path);
      expect(response.status).toBe(200);
      expect(rateLimitHeaders(response)).toEqual({
        limit: null,
        remaining: null,
        reset: null,
        retryAfter: null,
      });
    }
    expect(seen.filter((p) => p === path)).toHaveLength(5);
  });

  it('fail-closed answers 503 and does not call the application', async () => {
    const nginx = await nginxFor(downAddress, 'fail-closed');
    const path = uniquePath('closed');
    const response = await fetch(nginx.url + path);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('rate limit service unavailable\n');
    expect(seen).not.toContain(path);
  });
});

describe('/auth as gateways see it', () => {
  const overStatus: DescriptorStatus = {
    code: 'OVER_LIMIT',
    currentLimit: { requestsPerUnit: 3, unit: 'MINUTE', name: '' },
    limitRemaining: 0,
    durationUntilResetSeconds: 17,
  };
  const overLimit: RateLimitResult = {
    overallCode: 'OVER_LIMIT',
    statuses: [overStatus],
    responseHeadersToAdd: [],
    decidingStatus: overStatus,
    retryAfterSeconds: 17,
  };
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(
    answer: () => Promise<RateLimitResult>,
    authOverLimitStatus?: number,
  ): Promise<string> {
    server = createHttpServer({
      handler: { shouldRateLimit: answer },
      isServing: () => true,
      logger: silentLogger(),
      authOverLimitStatus,
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('answers over limit with the configured status (429 for forward-auth) and Retry-After', async () => {
    const url = await serve(async () => overLimit, 429);
    const response = await fetch(`${url}/auth?domain=d&descriptor=k=v`, { method: 'POST', body: 'ignored' });
    expect(response.status).toBe(429);
    expect(rateLimitHeaders(response)).toEqual({ limit: '3', remaining: '0', reset: '17', retryAfter: '17' });
  });

  it('answers 400 with the reason for a malformed subrequest', async () => {
    const url = await serve(async () => overLimit);
    const response = await fetch(`${url}/auth`, { headers: { 'x-ratelimit-descriptor': 'k=v' } });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/missing domain/);
  });

  it('answers 503 when the service cannot decide', async () => {
    const url = await serve(async () => {
      throw new BackendUnavailableError('redis down');
    });
    const response = await fetch(`${url}/auth`, {
      headers: { 'x-ratelimit-domain': 'd', 'x-ratelimit-descriptor': 'k=v' },
    });
    expect(response.status).toBe(503);
  });
});
