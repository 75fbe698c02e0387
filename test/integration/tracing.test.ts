import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitServiceClient,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { BACKEND_SPAN } from '../../src/tracing/tracing-store.js';
import { entries } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';

const CONFIG = {
  'shop.yaml': `
domain: shop
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 1 }
`,
};

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';

let server: TestServer | undefined;
let client: RateLimitServiceClient | undefined;
let collector: Server | undefined;

afterEach(async () => {
  client?.close();
  await server?.stop();
  await new Promise((resolve) => (collector === undefined ? resolve(undefined) : collector.close(resolve)));
  server = undefined;
  client = undefined;
  collector = undefined;
});

async function start(env: Record<string, string>, exporter?: InMemorySpanExporter) {
  server = await startServer({
    config: CONFIG,
    env,
    ...(exporter === undefined ? {} : { spanProcessor: new SimpleSpanProcessor(exporter) }),
  });
  client = new RateLimitServiceClient(server.grpcAddress, credentials.createInsecure());
}

function ask(domain: string, headers: Record<string, string> = {}): Promise<RateLimitResponse> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  const request: RateLimitRequest = {
    domain,
    descriptors: [{ entries: entries('user=alice') }],
    hitsAddend: 0,
  };
  return new Promise((resolve, reject) => {
    client?.shouldRateLimit(request, metadata, { deadline: Date.now() + 5_000 }, (error, reply) =>
      error ? reject(error as ServiceError) : resolve(reply),
    );
  });
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((span) => span.name === name);

describe('tracing of ShouldRateLimit', () => {
  it('makes a server span under the caller traceparent, with domain and decision, and a child backend span', async () => {
    const exporter = new InMemorySpanExporter();
    await start({ TRACING_ENABLED: 'true' }, exporter);
    const traceparent = `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`;
    await ask('shop', { traceparent, tracestate: 'vendor=abc' });
    await ask('shop', { traceparent });

    const calls = named(exporter.getFinishedSpans(), 'ShouldRateLimit');
    expect(calls).toHaveLength(2);
    const [first, second] = calls;
    expect(first?.kind).toBe(SpanKind.SERVER);
    expect(first?.spanContext().traceId).toBe(TRACE_ID);
    expect(first?.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    expect(first?.spanContext().traceState?.get('vendor')).toBe('abc');
    expect(first?.attributes).toMatchObject({
      'ratelimit.domain': 'shop',
      'ratelimit.descriptors': 1,
      'ratelimit.overall_code': 'OK',
      'rpc.method': 'ShouldRateLimit',
      'rpc.grpc.status_code': 0,
    });
    expect(second?.attributes['ratelimit.overall_code']).toBe('OVER_LIMIT');
    expect(first?.resource.attributes['service.name']).toBe('RateLimit');

    const backend = named(exporter.getFinishedSpans(), BACKEND_SPAN);
    expect(backend).toHaveLength(2);
    expect(backend[0]?.spanContext().traceId).toBe(TRACE_ID);
    expect(backend[0]?.parentSpanContext?.spanId).toBe(first?.spanContext().spanId);
    expect(backend[0]?.attributes).toEqual({ 'ratelimit.backend': 'memory', 'ratelimit.checks': 1 });
  });

  it('starts a new trace without traceparent and records nothing when the caller did not sample', async () => {
    const exporter = new InMemorySpanExporter();
    await start({ TRACING_ENABLED: 'true' }, exporter);
    await ask('shop');
    const [root] = named(exporter.getFinishedSpans(), 'ShouldRateLimit');
    expect(root?.parentSpanContext).toBeUndefined();
    expect(root?.spanContext().traceId).not.toBe(TRACE_ID);

    exporter.reset();
    await ask('shop', { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-00` });
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('marks a failed call with error status and its gRPC code', async () => {
    const exporter = new InMemorySpanExporter();
    await start({ TRACING_ENABLED: 'true' }, exporter);
    await expect(ask('')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    const [span] = named(exporter.getFinishedSpans(), 'ShouldRateLimit');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.status.message).toMatch(/domain/);
    expect(span?.attributes['rpc.grpc.status_code']).toBe(status.INVALID_ARGUMENT);
  });

  it('records no span at all when tracing is off', async () => {
    const exporter = new InMemorySpanExporter();
    await start({}, exporter);
    await ask('shop', { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` });
    await server?.stop();
    server = undefined;
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('exports the spans over OTLP/http to the collector named by OTEL_EXPORTER_OTLP_ENDPOINT on stop', async () => {
    const bodies: string[] = [];
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        if (req.url === '/v1/traces') bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector?.listen(0, '127.0.0.1', resolve));
    const port = (collector.address() as AddressInfo).port;
    await start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, TRACING_SERVICE_NAME: 'rl-test' });
    await ask('shop', { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` });
    expect(bodies).toEqual([]); // batched, not sent per call
    await server?.stop();
    server = undefined;

    const exported = bodies.join('\n');
    expect(exported).toContain('"ShouldRateLimit"');
    expect(exported).toContain(`"${BACKEND_SPAN}"`);
    expect(exported).toContain('rl-test');
    expect(exported).toContain(TRACE_ID);
  });
});
