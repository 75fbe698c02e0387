import { type ClientHttp2Session, connect as connectHttp2, constants } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { GatedStore } from '../support/gated-store.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';

const CONFIG = {
  'shop.yaml':
    'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 100 }\n',
};
const ASK = { domain: 'shop', descriptors: [{ entries: entries('user=alice') }] };

let server: TestServer | undefined;
const clients: RlsTestClient[] = [];
const sockets: Socket[] = [];
const sessions: ClientHttp2Session[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const session of sessions.splice(0)) session.destroy();
  for (const client of clients.splice(0)) client.close();
  await server?.stop();
  server = undefined;
});

/** A client with a connection of its own. */
function client(address: string): RlsTestClient {
  const c = createRlsClient(address, { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(c);
  return c;
}

function portOf(url: string): number {
  return Number(url.slice(url.lastIndexOf(':') + 1));
}

/** A TCP connection that sends nothing (and reads, so it sees the server close it); resolves once connected. */
function silent(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    sockets.push(socket);
    socket.on('error', () => {});
    socket.resume();
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the ms until `socket` closes (rejects after `withinMs`). */
function closedWithin(socket: Socket, withinMs: number): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.closed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`still open after ${withinMs} ms`)), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - start);
    });
  });
}

function http2Session(grpcAddress: string): Promise<ClientHttp2Session> {
  const session = connectHttp2(`http://${grpcAddress}`);
  sessions.push(session);
  session.on('error', () => {});
  return new Promise((resolve) => session.once('remoteSettings', () => resolve(session)));
}

async function metricsText(httpUrl: string): Promise<string> {
  return (await fetch(`${httpUrl}/metrics`)).text();
}

describe('handshake timeout (CONNECTION_HANDSHAKE_TIMEOUT)', () => {
  it('closes a gRPC connection that sends no HTTP/2 preface, and counts it', async () => {
    server = await startServer({ config: CONFIG, env: { CONNECTION_HANDSHAKE_TIMEOUT: '300ms' } });
    const mute = await silent(portOf(server.grpcAddress));
    const talking = await http2Session(server.grpcAddress);
    const ms = await closedWithin(mute, 3_000);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(talking.closed).toBe(false);
    expect(await client(server.grpcAddress).shouldRateLimit(ASK)).toMatchObject({ overallCode: Code.OK });
    expect(await metricsText(server.httpUrl)).toMatch(
      /ratelimit_connections_closed_total\{port="grpc",reason="handshake_timeout"\} 1/,
    );
  });

  it('closes an HTTP connection that sends no request head', async () => {
    server = await startServer({ config: CONFIG, env: { CONNECTION_HANDSHAKE_TIMEOUT: '300ms' } });
    const mute = await silent(portOf(server.httpUrl));
    expect(await closedWithin(mute, 3_000)).toBeGreaterThanOrEqual(250);
  });
});

describe('idle timeouts', () => {
  it('closes an idle HTTP keep-alive connection after HTTP_IDLE_TIMEOUT', async () => {
    server = await startServer({ config: CONFIG, env: { HTTP_IDLE_TIMEOUT: '300ms' } });
    const socket = await silent(portOf(server.httpUrl));
    const answered = new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(String(chunk))));
    socket.write('GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    expect(await answered).toMatch(/^HTTP\/1.1 200/);
    const ms = await closedWithin(socket, 3_000);
    expect(ms).toBeGreaterThanOrEqual(250);
  });

  it('sends GOAWAY to a gRPC connection idle for GRPC_MAX_CONNECTION_IDLE; the client reconnects', async () => {
    server = await startServer({ config: CONFIG, env: { GRPC_MAX_CONNECTION_IDLE: '300ms' } });
    const session = await http2Session(server.grpcAddress);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    expect(await goaway).toBe(0);
    const c = client(server.grpcAddress);
    await c.shouldRateLimit(ASK);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await c.shouldRateLimit(ASK)).toMatchObject({ overallCode: Code.OK });
  });

  it('still applies GRPC_MAX_CONNECTION_AGE to the connections it accepts', async () => {
    server = await startServer({
      config: CONFIG,
      env: { GRPC_MAX_CONNECTION_AGE: '300ms', GRPC_MAX_CONNECTION_AGE_GRACE: '100ms' },
    });
    const session = await http2Session(server.grpcAddress);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    await goaway;
    await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', resolve)));
  });
});

describe('max concurrent streams (GRPC_MAX_CONCURRENT_STREAMS)', () => {
  it('is advertised, and calls beyond it wait for a free stream instead of failing', async () => {
    const store = new GatedStore();
    server = await startServer({ config: CONFIG, store, env: { GRPC_MAX_CONCURRENT_STREAMS: '2' } });
    const session = await http2Session(server.grpcAddress);
    expect(session.remoteSettings.maxConcurrentStreams).toBe(2);

    const c = client(server.grpcAddress);
    await c.shouldRateLimit(ASK);
    store.hold();
    const calls = Array.from({ length: 5 }, () => c.shouldRateLimit(ASK));
    await expect.poll(() => store.started, { timeout: 3_000 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(store.started).toBe(3); // the first call, then at most 2 at once
    store.release();
    const answers = await Promise.all(calls);
    expect(answers.every((answer) => answer.overallCode === Code.OK)).toBe(true);
  });
});

describe('header list size', () => {
  it("resets a gRPC stream whose headers exceed Node's 64 KiB with REFUSED_STREAM, and keeps serving", async () => {
    server = await startServer({ config: CONFIG });
    const session = await http2Session(server.grpcAddress);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      'x-big': 'x'.repeat(70_000),
    });
    stream.on('error', () => {});
    stream.end(Buffer.alloc(5));
    stream.resume();
    await new Promise((resolve) => stream.once('close', resolve));
    expect(stream.rstCode).toBe(constants.NGHTTP2_REFUSED_STREAM);
    expect(await client(server.grpcAddress).shouldRateLimit(ASK)).toMatchObject({ overallCode: Code.OK });
  });

  it('answers 431 to an HTTP request head over HTTP_MAX_HEADER_SIZE', async () => {
    server = await startServer({ config: CONFIG, env: { HTTP_MAX_HEADER_SIZE: '2048' } });
    const response = await fetch(`${server.httpUrl}/healthcheck`, {
      headers: { 'x-big': 'x'.repeat(4_000) },
    });
    expect(response.status).toBe(431);
    expect((await fetch(`${server.httpUrl}/healthcheck`)).status).toBe(200);
  });
});

describe('connection cap (GRPC_MAX_CONNECTIONS, HTTP_MAX_CONNECTIONS)', () => {
  it('displaces the oldest idle connection for a new gRPC client, and counts it', async () => {
    server = await startServer({ config: CONFIG, env: { GRPC_MAX_CONNECTIONS: '3' } });
    const port = portOf(server.grpcAddress);
    const idle = [await silent(port), await silent(port), await silent(port)];
    expect(await client(server.grpcAddress).shouldRateLimit(ASK)).toMatchObject({ overallCode: Code.OK });
    await closedWithin(idle[0] as Socket, 2_000);
    expect(idle[1]?.closed).toBe(false);
    const text = await metricsText(server.httpUrl);
    expect(text).toMatch(/ratelimit_connections_closed_total\{port="grpc",reason="evicted"\} 1/);
    expect(text).toMatch(/ratelimit_connections_open\{port="grpc"\} 3/);
  });

  it('refuses a new connection at once while every connection has a call in flight', async () => {
    const store = new GatedStore();
    server = await startServer({ config: CONFIG, store, env: { GRPC_MAX_CONNECTIONS: '2' } });
    const [a, b] = [client(server.grpcAddress), client(server.grpcAddress)];
    await Promise.all([a.shouldRateLimit(ASK), b.shouldRateLimit(ASK)]);
    store.hold();
    const held = [a.shouldRateLimit(ASK), b.shouldRateLimit(ASK)];
    await expect.poll(() => store.started, { timeout: 3_000 }).toBe(4);

    const newcomer = await silent(portOf(server.grpcAddress));
    expect(await closedWithin(newcomer, 1_000)).toBeLessThan(500);
    store.release();
    await Promise.all(held);
    expect(await metricsText(server.httpUrl)).toMatch(
      /ratelimit_connections_closed_total\{port="grpc",reason="refused"\} 1/,
    );
  });

  it('refuses a new HTTP connection while the only one is busy, and serves again after', async () => {
    const store = new GatedStore();
    server = await startServer({
      config: CONFIG,
      store,
      env: { HTTP_MAX_CONNECTIONS: '1', CONNECTION_EVICTION_MIN_IDLE: '0' },
    });
    store.hold();
    const busy = fetch(`${server.httpUrl}/json`, { method: 'POST', body: JSON.stringify(ASK) });
    await expect.poll(() => store.started, { timeout: 3_000 }).toBe(1);
    const newcomer = await silent(portOf(server.httpUrl));
    expect(await closedWithin(newcomer, 1_000)).toBeLessThan(500);
    store.release();
    expect((await busy).status).toBe(200);
    // the scrape's new connection displaces the now idle one (CONNECTION_EVICTION_MIN_IDLE 0)
    const text = await metricsText(server.httpUrl);
    expect(text).toMatch(/ratelimit_connections_closed_total\{port="http",reason="refused"\} 1/);
  });

  it('answers /healthcheck on a new connection when idle connections fill the HTTP port', async () => {
    server = await startServer({ config: CONFIG, env: { HTTP_MAX_CONNECTIONS: '2' } });
    const port = portOf(server.httpUrl);
    const idle = [await silent(port), await silent(port)];
    const health = await fetch(`${server.httpUrl}/healthcheck`, { signal: AbortSignal.timeout(3_000) });
    expect(health.status).toBe(200);
    await closedWithin(idle[0] as Socket, 2_000);
  });
});
