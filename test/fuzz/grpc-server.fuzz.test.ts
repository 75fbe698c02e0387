import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitResponse } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { maxRequestMessageBytes } from '../../src/grpc/rls-request-decoder.js';
import { DEFAULT_REQUEST_LIMITS } from '../../src/service/request-validation.js';
import { fuzzBudget } from '../support/fuzz-budget.js';
import { anyMessage, FUZZ_CONFIG_YAML } from '../support/fuzz-requests.js';
import { startServer, type TestServer } from '../support/server.js';

/*
 * Fewer adversarial messages than the in-process fuzzer, through the real gRPC
 * server: every answer is OK or INVALID_ARGUMENT with details (RESOURCE_EXHAUSTED
 * for a message over the size cap), never INTERNAL or UNKNOWN, and the server
 * still answers afterwards.
 */

/** Longer messages are refused by grpc-js (RESOURCE_EXHAUSTED) before they reach the decoder. */
const MAX_MESSAGE = maxRequestMessageBytes(DEFAULT_REQUEST_LIMITS);
const PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
const budget = fuzzBudget(3, 150);
let server: TestServer;
let client: grpc.Client;

beforeAll(async () => {
  server = await startServer({ config: { 'fuzz.yaml': FUZZ_CONFIG_YAML } });
  client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

function call(bytes: Buffer): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      PATH,
      (b: Buffer) => b,
      (b: Buffer) => RateLimitResponse.decode(b),
      bytes,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err) => resolve({ code: err ? err.code : grpc.status.OK, details: err?.details ?? '' }),
    );
  });
}

describe('ShouldRateLimit fuzzing through the real gRPC server', () => {
  it(
    'answers OK or INVALID_ARGUMENT with details (RESOURCE_EXHAUSTED over the size cap), never INTERNAL, and keeps serving',
    async () => {
      await fc.assert(
        fc.asyncProperty(anyMessage, async (bytes) => {
          const { code, details } = await call(bytes);
          if (bytes.length > MAX_MESSAGE) expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
          else expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT]).toContain(code);
          if (code !== grpc.status.OK) expect(details).not.toBe('');
        }),
        budget.params,
      );
      const healthy = await call(
        Buffer.from([0x0a, 4, ...Buffer.from('fuzz'), 0x12, 8, 0x0a, 6, 0x0a, 4, ...Buffer.from('user')]),
      );
      expect(healthy.code).toBe(grpc.status.OK);
    },
    budget.testTimeoutMs,
  );
});
