import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';

const CONFIG = `domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 5 }
  - key: path
    value: /api/*
    descriptors:
      - key: method
        value: GET
        shadow_mode: true
        rate_limit: { unit: minute, requests_per_unit: 2 }
  - key: burst
    rate_limit: { unit: minute, requests_per_unit: 1000 }
`;

let server: TestServer | undefined;
let client: RlsTestClient | undefined;
const closers: (() => void)[] = [];

afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.stop();
  server = undefined;
  for (const close of closers.splice(0)) close();
});

/** What a statsd daemon received: every line, and the datagrams (UDP) they came in. */
interface Received {
  readonly lines: string[];
  packets: number;
  readonly port: number;
}

async function udpListener(): Promise<Received> {
  const socket: Socket = createSocket('udp4');
  const received = { lines: [] as string[], packets: 0, port: 0 };
  socket.on('message', (message) => {
    received.packets += 1;
    received.lines.push(...message.toString('utf8').split('\n').filter(Boolean));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  received.port = socket.address().port;
  closers.push(() => socket.close());
  return received;
}

async function tcpListener(): Promise<Received> {
  const received = { lines: [] as string[], packets: 0, port: 0 };
  const tcp: Server = createServer((connection) => {
    let rest = '';
    connection.on('data', (chunk) => {
      const text = rest + chunk.toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      received.lines.push(...lines.filter(Boolean));
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  received.port = (tcp.address() as { port: number }).port;
  closers.push(() => tcp.close());
  return received;
}

/** Counter lines summed per `name` (plus `|#tags` when present); other types are left out. */
function counters(lines: readonly string[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const stat = line.slice(0, colon);
    const [value, type, ...rest] = line.slice(colon + 1).split('|');
    if (type !== 'c') continue;
    const tags = rest.find((part) => part.startsWith('#'));
    const key = tags === undefined ? stat : `${stat}|${tags}`;
    sums.set(key, (sums.get(key) ?? 0) + Number(value));
  }
  return sums;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for stats');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function knownSequence(rls: RlsTestClient): Promise<void> {
  // 7 single hits on user (limit 5, NEAR_LIMIT_RATIO 0.8): 5 within, hit 5 near, 2 over
  for (let i = 0; i < 7; i++) {
    await rls.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('user=alice') }] });
  }
  // shadow rule (limit 2) hit 3 times: the third is over and shadowed
  for (let i = 0; i < 3; i++) {
    await rls.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: entries('path=/api/users', 'method=GET') }],
    });
  }
  await rls.shouldRateLimit({ domain: 'nowhere', descriptors: [{ entries: entries('user=bob') }] });
}

describe('statsd (USE_STATSD, the reference default: TCP, gostats names)', () => {
  it('sends exact counter values each interval, with EXTRA_TAGS serialised into the name as gostats does', async () => {
    const statsd = await tcpListener();
    server = await startServer({
      config: { 'shop.yaml': CONFIG },
      env: {
        USE_STATSD: 'true',
        STATSD_HOST: '127.0.0.1',
        STATSD_PORT: String(statsd.port),
        STATS_FLUSH_INTERVAL: '200ms',
        EXTRA_TAGS: 'zone:eu.west.1,env:prod',
      },
    });
    client = createRlsClient(server.grpcAddress);
    await knownSequence(client);
    const tag = '.__env=prod.__zone=eu_west_1';
    const rule = (key: string, stat: string) => `ratelimit.service.rate_limit.shop.${key}.${stat}${tag}`;
    const requests = `ratelimit_server.ShouldRateLimit.total_requests${tag}`;
    // sent by the interval, before any stop
    await until(() => counters(statsd.lines).get(requests) === 11);
    await server.stop();
    server = undefined;
    const sums = counters(statsd.lines);
    expect(sums.get(rule('user', 'total_hits'))).toBe(7);
    expect(sums.get(rule('user', 'within_limit'))).toBe(5);
    expect(sums.get(rule('user', 'near_limit'))).toBe(1);
    expect(sums.get(rule('user', 'over_limit'))).toBe(2);
    expect(sums.has(rule('user', 'shadow_mode'))).toBe(false);
    const shadowRule = 'path_/api/*.method_GET';
    expect(sums.get(rule(shadowRule, 'total_hits'))).toBe(3);
    expect(sums.get(rule(shadowRule, 'over_limit'))).toBe(1);
    expect(sums.get(rule(shadowRule, 'shadow_mode'))).toBe(1);
    expect(sums.get(`ratelimit.service.rate_limit.nowhere.domain_not_found${tag}`)).toBe(1);
    expect(sums.get(`ratelimit.service.config_load_success${tag}`)).toBe(1);
    expect(sums.get(requests)).toBe(11);
    const timers = statsd.lines.filter((line) =>
      line.startsWith(`ratelimit_server.ShouldRateLimit.response_time${tag}:`),
    );
    expect(timers.length).toBeGreaterThan(0);
    for (const line of timers) expect(line).toMatch(/:\d+(\.\d+)?\|ms$/);
  });
});

describe('DogStatsD (USE_DOG_STATSD=true: UDP, EXTRA_TAGS as tags)', () => {
  it('sends the counts of a 200-request burst in a few datagrams, with exact values', async () => {
    const dog = await udpListener();
    server = await startServer({
      config: { 'shop.yaml': CONFIG },
      env: {
        USE_DOG_STATSD: 'true',
        STATSD_HOST: '127.0.0.1',
        STATSD_PORT: String(dog.port),
        // one flush in this test: the one at stop
        STATS_FLUSH_INTERVAL: '60s',
        EXTRA_TAGS: 'env:prod,zone:eu-west-1',
      },
    });
    client = createRlsClient(server.grpcAddress);
    await knownSequence(client);
    const rls = client;
    await Promise.all(
      Array.from({ length: 200 }, () =>
        rls.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('burst=x') }] }),
      ),
    );
    expect(dog.packets).toBe(0);
    await server.stop();
    server = undefined;
    await until(() =>
      counters(dog.lines).has('ratelimit_server.ShouldRateLimit.total_requests|#env:prod,zone:eu-west-1'),
    );
    // 211 calls, 20 stats: a couple of datagrams (1432 bytes each), never one per request
    expect(dog.packets).toBeLessThanOrEqual(3);
    const tags = '|#env:prod,zone:eu-west-1';
    const sums = counters(dog.lines);
    expect(sums.get(`ratelimit_server.ShouldRateLimit.total_requests${tags}`)).toBe(211);
    expect(sums.get(`ratelimit.service.rate_limit.shop.burst.total_hits${tags}`)).toBe(200);
    expect(sums.get(`ratelimit.service.rate_limit.shop.burst.within_limit${tags}`)).toBe(200);
    expect(sums.get(`ratelimit.service.rate_limit.shop.user.total_hits${tags}`)).toBe(7);
    expect(sums.get(`ratelimit.service.rate_limit.shop.user.within_limit${tags}`)).toBe(5);
    expect(sums.get(`ratelimit.service.rate_limit.shop.user.near_limit${tags}`)).toBe(1);
    expect(sums.get(`ratelimit.service.rate_limit.shop.user.over_limit${tags}`)).toBe(2);
    expect(sums.get(`ratelimit.service.rate_limit.shop.path_/api/*.method_GET.shadow_mode${tags}`)).toBe(1);
    expect(sums.get(`ratelimit.service.rate_limit.nowhere.domain_not_found${tags}`)).toBe(1);
    expect(sums.get(`ratelimit.service.config_load_success${tags}`)).toBe(1);
    // no gostats-style name tags on the DogStatsD wire
    expect(dog.lines.some((line) => line.includes('.__'))).toBe(false);
  });
});
