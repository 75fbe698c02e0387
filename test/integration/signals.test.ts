import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type SignalApi, SignalRateBound } from '../../src/adaptive/signals/signal-gate.js';
import { loadSignalSettings } from '../../src/config/settings/signal-settings.js';
import {
  type ErrorRateSample,
  type Penalty,
  SignalServiceClient,
} from '../../src/gen/ratelimit/adaptive/v1/signals.js';
import { createGrpcServer } from '../../src/grpc/grpc-server.js';
import { createHttpServer } from '../../src/http/http-server.js';
import { silentLogger } from '../../src/log/logger.js';
import { ServiceMetrics } from '../../src/metrics/service-metrics.js';
import { encodeAccessLogs } from '../support/envoy-access-log.js';
import { listServicesByReflection } from '../support/grpc-extras.js';
import { ManualClock } from '../support/manual-clock.js';
import { RecordingErrorSampleSink, RecordingSignalSink } from '../support/signal-sinks.js';

/*
 * The adaptive module's inputs on the real servers: createGrpcServer and
 * createHttpServer on loopback, wired from the settings as the app will be,
 * with recording fakes of the engine's sinks (the transport is under test).
 * One rate bound and one token serve both ports.
 */

const TOKEN = 'integration-token';
let grpcServer: grpc.Server | undefined;
let httpServer: HttpServer | undefined;
let client: InstanceType<typeof SignalServiceClient> | undefined;
let raw: grpc.Client | undefined;

afterEach(async () => {
  client?.close();
  raw?.close();
  grpcServer?.forceShutdown();
  await new Promise((resolve) => httpServer?.close(resolve));
  httpServer?.closeAllConnections();
  [client, raw, grpcServer, httpServer] = [undefined, undefined, undefined, undefined];
});

async function start(env: Record<string, string> = { ADAPTIVE_SIGNAL_TOKEN: TOKEN }) {
  const settings = loadSignalSettings(env);
  const sink = new RecordingSignalSink();
  const samples = new RecordingErrorSampleSink();
  const metrics = new ServiceMetrics();
  const clock = new ManualClock(0);
  const signals: SignalApi = {
    sink,
    token: settings.token,
    limits: settings.limits,
    rate: new SignalRateBound(settings.maxPerSecond, clock),
    onOutcome: (source, outcome) => metrics.signal(source, outcome),
  };
  const logger = silentLogger();
  grpcServer = createGrpcServer({
    handler: { shouldRateLimit: () => Promise.reject(new Error('unused')) },
    health: new HealthImplementation(),
    logger,
    maxConnectionAgeMs: 60_000,
    maxConnectionAgeGraceMs: 1_000,
    signals,
    accessLog: { sink: samples, limits: settings.accessLog },
  });
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer?.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  httpServer = createHttpServer({
    handler: { shouldRateLimit: () => Promise.reject(new Error('unused')) },
    isServing: () => true,
    logger,
    metrics: { expose: () => metrics.expose(), httpCall: (r, c, s) => metrics.httpCall(r, c, s) },
    signals,
  });
  await new Promise<void>((resolve) => httpServer?.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${port}`;
  client = new SignalServiceClient(address, grpc.credentials.createInsecure());
  raw = new grpc.Client(address, grpc.credentials.createInsecure());
  const httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  return { sink, samples, metrics, clock, address, httpUrl };
}

const bearer = (token: string): grpc.Metadata => {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
};

type Status = { code: grpc.status; details: string };

function record(sample: ErrorRateSample, metadata = bearer(TOKEN)): Promise<Status> {
  return new Promise((resolve) =>
    client?.recordErrorRate(sample, metadata, (e) =>
      resolve(e ? { code: e.code, details: e.details } : { code: 0, details: '' }),
    ),
  );
}

function penalize(penalty: Penalty, metadata = bearer(TOKEN)): Promise<Status> {
  return new Promise((resolve) =>
    client?.penalize(penalty, metadata, (e) =>
      resolve(e ? { code: e.code, details: e.details } : { code: 0, details: '' }),
    ),
  );
}

/** A unary call with hand-written bytes (what the generated client cannot send). */
function rawCall(method: string, bytes: Uint8Array): Promise<Status> {
  return new Promise((resolve) =>
    raw?.makeUnaryRequest(
      `/ratelimit.adaptive.v1.SignalService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(bytes),
      bearer(TOKEN),
      (e) => resolve(e ? { code: e.code, details: e.details } : { code: 0, details: '' }),
    ),
  );
}

function streamAccessLogs(messages: Buffer[]): Promise<Status> {
  return new Promise((resolve) => {
    const call = raw?.makeClientStreamRequest(
      '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
      (b: Buffer) => b,
      (b: Buffer) => b,
      (e) => resolve(e ? { code: e.code, details: e.details } : { code: 0, details: '' }),
    );
    for (const m of messages) call?.write(m);
    call?.end();
  });
}

const SAMPLE = { domain: 'api', controller: 'checkout-health', total: 100, errors: 37 };
const PENALTY = { domain: 'api', controller: 'abusers', value: '1.2.3.4', ttl: '10m', reason: 'waf' };

describe('the signal API and the access-log stream on the real servers', () => {
  it('HTTP and gRPC signals reach the sink; a wrong token changes nothing', async () => {
    const { sink, httpUrl, metrics } = await start();
    const post = (body: unknown, token: string) =>
      fetch(`${httpUrl}/v1/signals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    expect((await post(SAMPLE, TOKEN)).status).toBe(202);
    expect(await record(SAMPLE)).toEqual({ code: grpc.status.OK, details: '' });
    expect((await penalize(PENALTY)).code).toBe(grpc.status.OK);
    // wrong or missing tokens, on both ports
    expect((await post(PENALTY, 'wrong')).status).toBe(401);
    expect((await record(SAMPLE, bearer('wrong'))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await penalize(PENALTY, new grpc.Metadata())).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(sink.calls).toEqual([
      ['errorRate', 'api', 'checkout-health', 100, 37],
      ['errorRate', 'api', 'checkout-health', 100, 37],
      ['penalize', 'api', 'abusers', '1.2.3.4', 600_000, 'waf'],
    ]);
    const text = (await metrics.expose()).body;
    expect(text).toContain('ratelimit_adaptive_signals_total{source="http",outcome="accepted"} 1');
    expect(text).toContain('ratelimit_adaptive_signals_total{source="grpc",outcome="accepted"} 2');
    expect(text).toContain('ratelimit_adaptive_signals_total{source="grpc",outcome="unauthorized"} 2');
    expect(text).toContain('ratelimit_http_requests_total{route="/v1/signals",code="202"} 1');
  });

  it('gRPC answers INVALID_ARGUMENT with the same reasons as the JSON body, and for a uint64 above 2^53', async () => {
    const { sink } = await start();
    expect(await record({ ...SAMPLE, errors: 101 })).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'errors (101) must not be more than total (100)',
    });
    expect(await penalize({ ...PENALTY, ttl: '25h' })).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'ttl is 25h; at most 24h is allowed',
    });
    expect(await record({ ...SAMPLE, controller: 'unknown' })).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'domain has no controller "unknown"',
    });
    const huge = new BinaryWriter();
    huge.uint32(0x0a).string('api').uint32(0x12).string('c').uint32(0x18).uint64('9007199254740993');
    expect(await rawCall('RecordErrorRate', huge.finish())).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'total must be an integer from 0 to 1000000000, got 9007199254740993',
    });
    expect((await rawCall('Penalize', Uint8Array.of(0xff))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(sink.calls).toEqual([]);
  });

  it('with no token configured: 403 and PERMISSION_DENIED, and the sink is never called', async () => {
    const { sink, httpUrl } = await start({});
    const answer = await fetch(`${httpUrl}/v1/signals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(SAMPLE),
    });
    expect(answer.status).toBe(403);
    expect((await record(SAMPLE)).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(sink.calls).toEqual([]);
  });

  it('one rate bound for both ports: 429 with Retry-After on HTTP, RESOURCE_EXHAUSTED on gRPC', async () => {
    const { sink, httpUrl, clock } = await start({
      ADAPTIVE_SIGNAL_TOKEN: TOKEN,
      ADAPTIVE_SIGNAL_MAX_PER_SECOND: '2',
    });
    expect((await record(SAMPLE)).code).toBe(grpc.status.OK);
    expect((await record(SAMPLE)).code).toBe(grpc.status.OK);
    expect(await record(SAMPLE)).toEqual({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: 'more than 2 signal requests per second; retry in 1s',
    });
    const over = await fetch(`${httpUrl}/v1/signals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(SAMPLE),
    });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    // a stranger is refused for the token, not for the rate, and spends nothing
    expect((await record(SAMPLE, bearer('wrong'))).code).toBe(grpc.status.UNAUTHENTICATED);
    clock.advance(1_000);
    expect((await penalize(PENALTY)).code).toBe(grpc.status.OK);
    expect(sink.calls).toHaveLength(3);
  });

  it("streams Envoy's access logs into the error-sample sink; a bad message ends the stream", async () => {
    const { samples } = await start();
    const first = await encodeAccessLogs([
      { cluster: 'checkout', code: 200 },
      { cluster: 'checkout', code: 503 },
      { cluster: 'checkout', code: 429 },
    ]);
    const second = await encodeAccessLogs([{ cluster: 'search', route: 'r1', code: 500 }], false);
    expect(await streamAccessLogs([first, second])).toEqual({ code: grpc.status.OK, details: '' });
    expect(samples.calls).toEqual([
      {
        key: { upstreamCluster: 'checkout', routeName: '', authority: '' },
        total: 3,
        errors: 1,
        upstream429: 1,
      },
      {
        key: { upstreamCluster: 'search', routeName: 'r1', authority: '' },
        total: 1,
        errors: 1,
        upstream429: 0,
      },
    ]);
    const status = await streamAccessLogs([Buffer.from([0x0a, 0x05])]);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(samples.calls).toHaveLength(2);
  });

  it('lists SignalService through server reflection', async () => {
    const { address } = await start();
    expect(await listServicesByReflection(address)).toContain('ratelimit.adaptive.v1.SignalService');
  });
});
