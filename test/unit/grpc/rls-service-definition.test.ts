import { describe, expect, it } from 'vitest';
import {
  RateLimitResponse,
  RateLimitResponse_Code,
  RateLimitResponse_RateLimit_Unit,
  RateLimitServiceService,
} from '../../../src/gen/envoy/service/ratelimit/v3/rls.js';
import {
  RATE_LIMIT_SERVICE_DEFINITION,
  serializeResponse,
} from '../../../src/grpc/rls-service-definition.js';

const response = (remaining: number, headers = 0): RateLimitResponse => ({
  overallCode: remaining > 0 ? RateLimitResponse_Code.OK : RateLimitResponse_Code.OVER_LIMIT,
  statuses: [
    {
      code: RateLimitResponse_Code.OK,
      currentLimit: { name: 'per-user', requestsPerUnit: 10, unit: RateLimitResponse_RateLimit_Unit.MINUTE },
      limitRemaining: remaining,
      durationUntilReset: { seconds: 58, nanos: 0 },
      quota: undefined,
    },
  ],
  responseHeadersToAdd: Array.from({ length: headers }, (_, i) => ({
    key: `X-Header-${i}`,
    value: 'v'.repeat(200),
    rawValue: Buffer.alloc(0),
  })),
  requestHeadersToAdd: [],
  rawBody: Buffer.alloc(0),
  dynamicMetadata: undefined,
  quota: undefined,
});

describe('the ShouldRateLimit response serializer', () => {
  it('writes the same bytes as the generated one, answer after answer, small and large', () => {
    const generated = RateLimitServiceService.shouldRateLimit.responseSerialize;
    for (const message of [response(9), response(0, 40), response(3), response(1, 1)]) {
      expect(Buffer.compare(serializeResponse(message), generated(message))).toBe(0);
    }
  });

  it('returns buffers that later answers do not overwrite', () => {
    const first = serializeResponse(response(9));
    const copy = Buffer.from(first);
    serializeResponse(response(0, 40));
    expect(Buffer.compare(first, copy)).toBe(0);
  });

  it('still encodes correctly after an encode threw half way', () => {
    const broken = { ...response(5), statuses: [null] } as unknown as RateLimitResponse;
    expect(() => serializeResponse(broken)).toThrow();
    const decoded = RateLimitResponse.decode(serializeResponse(response(7)));
    expect(decoded.statuses[0]?.limitRemaining).toBe(7);
    expect(decoded.overallCode).toBe(RateLimitResponse_Code.OK);
  });

  it('is what the server registers for ShouldRateLimit', () => {
    expect(RATE_LIMIT_SERVICE_DEFINITION.shouldRateLimit.responseSerialize).toBe(serializeResponse);
    expect(RATE_LIMIT_SERVICE_DEFINITION.shouldRateLimit.path).toBe(
      RateLimitServiceService.shouldRateLimit.path,
    );
  });

  it('hands the request to the handler as its raw bytes, so that a bad one is INVALID_ARGUMENT there and not INTERNAL in grpc-js', () => {
    const bytes = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // a length far past the end
    expect(RATE_LIMIT_SERVICE_DEFINITION.shouldRateLimit.requestDeserialize(bytes)).toBe(bytes);
  });
});
