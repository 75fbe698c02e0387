import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorSampleKey } from '../../src/adaptive/signals/access-log-classifier.js';
import { DEFAULT_ACCESS_LOG_LIMITS } from '../../src/grpc/access-log-decoder.js';
import {
  ACCESS_LOG_SERVICE_DEFINITION,
  type AccessLogHandlerOptions,
  accessLogHandler,
} from '../../src/grpc/access-log-service.js';
import { encodeAccessLogs } from '../support/envoy-access-log.js';

/*
 * A real grpc-js server on loopback and a grpc-js client streaming messages
 * encoded with protobufjs from Envoy's own protos (as Envoy's gRPC access
 * logger sends them): the sink receives the right totals, and a bad message
 * ends the stream with INVALID_ARGUMENT naming the problem.
 */

const PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

interface Recorded {
  key: ErrorSampleKey;
  total: number;
  errors: number;
  upstream429: number;
}

let server: grpc.Server;
let client: grpc.Client;
let recorded: Recorded[];

async function start(options: Partial<AccessLogHandlerOptions> = {}): Promise<void> {
  server = new grpc.Server();
  server.addService(ACCESS_LOG_SERVICE_DEFINITION, {
    streamAccessLogs: accessLogHandler({
      sink: {
        record: (key, total, errors, upstream429) => recorded.push({ key, total, errors, upstream429 }),
      },
      limits: DEFAULT_ACCESS_LOG_LIMITS,
      ...options,
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/** Streams the messages, ends the stream, and resolves with the call's status. */
function stream(messages: Buffer[]): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(
      PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      (error) =>
        resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: '' }),
    );
    for (const m of messages) call.write(m);
    call.end();
  });
}

beforeEach(() => {
  recorded = [];
});

afterEach(() => {
  client?.close();
  server?.forceShutdown();
});

describe('StreamAccessLogs over grpc-js on loopback', () => {
  it('records every message of a stream, per key, and answers OK when the stream ends', async () => {
    await start();
    const first = await encodeAccessLogs([
      { cluster: 'checkout', code: 200, noise: true },
      { cluster: 'checkout', code: 503 },
      { cluster: 'checkout', code: 200, flags: { upstream_connection_failure: true } },
      { cluster: 'search', route: 's', authority: 'a.example', code: 429 },
    ]);
    const second = await encodeAccessLogs(
      [
        { cluster: 'checkout', code: 200 },
        { cluster: 'checkout', code: 429, flags: { rate_limited: true } },
      ],
      false,
    );
    expect(await stream([first, second])).toEqual({ code: grpc.status.OK, details: '' });
    const checkout = { upstreamCluster: 'checkout', routeName: '', authority: '' };
    expect(recorded).toEqual([
      { key: checkout, total: 3, errors: 2, upstream429: 0 },
      {
        key: { upstreamCluster: 'search', routeName: 's', authority: 'a.example' },
        total: 1,
        errors: 0,
        upstream429: 1,
      },
      { key: checkout, total: 1, errors: 0, upstream429: 0 },
    ]);
  });

  it('ends the stream with INVALID_ARGUMENT naming the bound, keeping what came before', async () => {
    await start({ limits: { ...DEFAULT_ACCESS_LOG_LIMITS, maxEntriesPerMessage: 2 } });
    const ok = await encodeAccessLogs([{ cluster: 'c', code: 500 }]);
    const tooMany = await encodeAccessLogs([{ cluster: 'c' }, { cluster: 'c' }, { cluster: 'c' }]);
    expect(await stream([ok, tooMany, ok])).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'access log entry 2: at most 2 entries per message are allowed',
    });
    expect(recorded).toEqual([
      { key: { upstreamCluster: 'c', routeName: '', authority: '' }, total: 1, errors: 1, upstream429: 0 },
    ]);
  });

  it('ends the stream with INVALID_ARGUMENT for a message over maxMessageBytes', async () => {
    await start({ limits: { ...DEFAULT_ACCESS_LOG_LIMITS, maxMessageBytes: 100 } });
    const big = await encodeAccessLogs([{ cluster: 'c', noise: true }]);
    expect(big.length).toBeGreaterThan(100);
    expect(await stream([big])).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: `access log message is ${big.length} bytes; at most 100 are allowed`,
    });
  });

  it('answers malformed bytes with INVALID_ARGUMENT, never INTERNAL', async () => {
    await start();
    const status = await stream([Buffer.from([0x12, 0x05, 0x0a])]);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/^malformed request: length 5 runs past the end of its message/);
    expect(recorded).toEqual([]);
  });

  it('answers INTERNAL and reports the error when the sink throws', async () => {
    const seen: unknown[] = [];
    await start({
      sink: {
        record: () => {
          throw new Error('sink broke');
        },
      },
      onUnexpectedError: (e) => seen.push(e),
    });
    const status = await stream([await encodeAccessLogs([{ cluster: 'c' }])]);
    expect(status).toEqual({ code: grpc.status.INTERNAL, details: 'internal error' });
    expect(seen).toHaveLength(1);
  });

  it('answers OK to a stream with no messages', async () => {
    await start();
    expect((await stream([])).code).toBe(grpc.status.OK);
    expect(recorded).toEqual([]);
  });
});
