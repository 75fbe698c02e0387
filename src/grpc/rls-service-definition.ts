import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { RateLimitResponse, RateLimitServiceService } from '../gen/envoy/service/ratelimit/v3/rls.js';

/**
 * The generated RateLimitService definition with a cheaper response
 * serializer. The generated one builds a new BinaryWriter (and its 128-byte
 * buffer) per answer and copies the result once more into a Buffer; this one
 * reuses one writer (encoding is synchronous, so calls never interleave) and
 * wraps the finished bytes without copying. Same bytes on the wire.
 */
export const RATE_LIMIT_SERVICE_DEFINITION = {
  ...RateLimitServiceService,
  shouldRateLimit: { ...RateLimitServiceService.shouldRateLimit, responseSerialize: serializeResponse },
} as const;

let writer = new BinaryWriter();

export function serializeResponse(response: RateLimitResponse): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = RateLimitResponse.encode(response, writer).finish();
  } catch (error) {
    writer = new BinaryWriter(); // a throw mid-message leaves the writer's position and fork stack behind
    throw error;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
