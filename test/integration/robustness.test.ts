import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RateLimitRequest,
  RateLimitResponse,
  RateLimitResponse_Code,
  RateLimitServiceClient,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { startServer, type TestServer } from '../support/server.js';

/*
 * Hostile and broken clients must cost the server one connection or one call, never the
 * process: after each abuse a fresh client (its own connection) still gets a normal answer.
 */

const PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const LIMIT = 1_000_000;
const CONFIG = {
  'robust.yaml': `domain: robust
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: ${LIMIT} }
`,
};
const TEN_MB = 10 * 1024 * 1024;

let server: TestServer;
/** Raw connections opened by the tests; destroyed in afterAll even when a test fails. */
const opened = new Set<{ destroy(): void }>();
const faults: unknown[] = [];
const onFault = (err: unknown) => faults.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onFault);
  process.on('uncaughtException', onFault);
  server = await startServer({ config: CONFIG });
});

afterAll(async () => {
  for (const conn of opened) conn.destroy();
  await server?.stop();
  process.off('unhandledRejection', onFault);
  process.off('uncaughtException', onFault);
});

/** A client on its own connection (no subchannel shared with earlier clients). */
function freshClient(): RateLimitServiceClient {
  return new RateLimitServiceClient(server.grpcAddress, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

function call(client: RateLimitServiceClient, request: RateLimitRequest): Promise<RateLimitResponse> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 15_000;
    client.shouldRateLimit(request, new grpc.Metadata(), { deadline }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

const request = (value: string) =>
  RateLimitRequest.fromPartial({ domain: 'robust', descriptors: [{ entries: [{ key: 'user', value }] }] });

/** A new connection gets a normal OK answer with the configured limit. */
async function expectServing(): Promise<void> {
  const client = freshClient();
  try {
    const res = await call(client, request(`probe-${Date.now()}`));
    expect(res.overallCode).toBe(RateLimitResponse_Code.OK);
    expect(res.statuses[0]?.currentLimit?.requestsPerUnit).toBe(LIMIT);
  } finally {
    client.close();
  }
}

function hostPort(): { host: string; port: number } {
  const i = server.grpcAddress.lastIndexOf(':');
  return { host: server.grpcAddress.slice(0, i), port: Number(server.grpcAddress.slice(i + 1)) };
}

/** Writes `bytes` on a raw TCP connection; resolves true if the server closed it within 5 s. */
function writeRaw(bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(hostPort());
    opened.add(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 5_000);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.on('connect', () => socket.write(bytes));
  });
}

/** Length-prefixed gRPC message frame (uncompressed). */
function grpcFrame(message: Buffer, declaredLength = message.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, message]);
}

interface RawStream {
  session: http2.ClientHttp2Session;
  stream: http2.ClientHttp2Stream;
  /** The TCP socket under the session (http2 forbids destroying it through `session.socket`). */
  socket: net.Socket;
}

/** Opens a raw HTTP/2 ShouldRateLimit stream; errors from our own abuse are swallowed. */
function rawStream(): RawStream {
  const socket = net.connect(hostPort());
  socket.on('error', () => {});
  opened.add(socket);
  const session = http2.connect(`http://${server.grpcAddress}`, { createConnection: () => socket });
  opened.add(session);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST',
    ':path': PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  return { session, stream, socket };
}

/** Resolves once the server has acknowledged a PING sent after everything written so far. */
const flushed = (session: http2.ClientHttp2Session) =>
  new Promise<void>((resolve) => session.ping(() => resolve()) || resolve());

function varint(n: number): Buffer {
  const out: number[] = [];
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return Buffer.from(out);
}
/** A length-delimited protobuf field (wire type 2). */
const lengthDelimited = (field: number, payload: Buffer) =>
  Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);

/** RateLimitRequest{domain, descriptors: [{entries: [{key, value}]}]} with raw key/value bytes. */
function handEncodedRequest(domain: string, key: Buffer, value: Buffer): Buffer {
  const entry = Buffer.concat([lengthDelimited(1, key), lengthDelimited(2, value)]);
  const descriptor = lengthDelimited(1, entry);
  return Buffer.concat([lengthDelimited(1, Buffer.from(domain)), lengthDelimited(2, descriptor)]);
}

function rawUnary(bytes: Buffer): Promise<RateLimitResponse> {
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  return new Promise<RateLimitResponse>((resolve, reject) => {
    const options = { deadline: Date.now() + 15_000 };
    client.makeUnaryRequest(
      PATH,
      (b: Buffer) => b,
      (b: Buffer) => RateLimitResponse.decode(b),
      bytes,
      new grpc.Metadata(),
      options,
      (err, res) => (err || !res ? reject(err) : resolve(res)),
    );
  }).finally(() => client.close());
}

async function expectRejected(req: RateLimitRequest): Promise<void> {
  const client = freshClient();
  try {
    const err = await call(client, req).then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    expect(err, 'a 10 MB request must not be answered').not.toBeNull();
    expect([grpc.status.RESOURCE_EXHAUSTED, grpc.status.INVALID_ARGUMENT]).toContain(err?.code);
  } finally {
    client.close();
  }
}

describe('gRPC server under broken and hostile clients', () => {
  it('closes a connection that sends random bytes and keeps serving other clients', async () => {
    expect(await writeRaw(randomBytes(64 * 1024))).toBe(true);
    await expectServing();
  });

  it('closes a connection that sends malformed frames after a valid HTTP/2 preface', async () => {
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(await writeRaw(Buffer.concat([preface, randomBytes(16 * 1024)]))).toBe(true);
    await expectServing();
  });

  it('keeps serving after a client resets its stream in the middle of a request message', async () => {
    const { session, stream } = rawStream();
    const message = Buffer.from(RateLimitRequest.encode(request('reset')).finish());
    stream.write(grpcFrame(message.subarray(0, 4), message.length));
    await flushed(session);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await flushed(session);
    session.destroy();
    await expectServing();
  });

  it('keeps serving after a client drops the TCP connection mid-message and before its answer', async () => {
    const partial = rawStream();
    partial.stream.write(grpcFrame(Buffer.alloc(3), 1000));
    await flushed(partial.session);
    partial.socket.destroy(); // TCP gone: no RST_STREAM, no GOAWAY

    // Complete request, then gone before the answer: the server writes to a dead stream.
    const complete = rawStream();
    complete.stream.end(grpcFrame(Buffer.from(RateLimitRequest.encode(request('gone')).finish())));
    await flushed(complete.session);
    complete.session.destroy();
    await new Promise((r) => setTimeout(r, 200));
    await expectServing();
  });

  it('rejects a 10 MB request with one huge entry value and keeps serving', async () => {
    await expectRejected(request('v'.repeat(TEN_MB)));
    await expectServing();
  });

  it('rejects a 10 MB request made of 100,000 descriptors and keeps serving', async () => {
    const entries = [{ key: 'user', value: 'x'.repeat(100) }];
    const descriptors = Array.from({ length: 100_000 }, () => ({ entries }));
    const req = RateLimitRequest.fromPartial({ domain: 'robust', descriptors });
    expect(RateLimitRequest.encode(req).finish().length).toBeGreaterThan(TEN_MB);
    await expectRejected(req);
    await expectServing();
  });

  it('answers normally when an entry value or key is not valid UTF-8', async () => {
    const invalid = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80, 0x61]);
    const byValue = await rawUnary(handEncodedRequest('robust', Buffer.from('user'), invalid));
    expect(byValue.overallCode).toBe(RateLimitResponse_Code.OK);
    expect(byValue.statuses).toHaveLength(1);
    expect(byValue.statuses[0]?.code).toBe(RateLimitResponse_Code.OK);
    expect(byValue.statuses[0]?.currentLimit?.requestsPerUnit).toBe(LIMIT);

    const byKey = await rawUnary(handEncodedRequest('robust', invalid, Buffer.from('v')));
    expect(byKey.overallCode).toBe(RateLimitResponse_Code.OK);
    expect(byKey.statuses).toHaveLength(1);
    await expectServing();
  });

  it('raised no unhandledRejection or uncaughtException during the abuse above', () => {
    expect(faults).toEqual([]);
  });
});
