import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { RateLimitResponse, RateLimitServiceService } from '../gen/envoy/service/ratelimit/v3/rls.js';

/**
 * The generated RateLimitService definition with two changes.
 * - Requests reach the handler as their raw bytes: the handler decodes them
 *   with the counting decoder (rls-request-decoder.ts) under the configured
 *   limits. A throwing `requestDeserialize` would make grpc-js answer INTERNAL
 *   "Error deserializing request"; in the handler a bad request maps to
 *   INVALID_ARGUMENT with its message, through error-status.ts.
 * - A cheaper response serializer. The generated one builds a new BinaryWriter
 *   (and its 128-byte buffer) per answer and copies the result once more into a
 *   Buffer; this one reuses one writer (encoding is synchronous, so calls never
 *   interleave) and wraps the finished bytes without copying. Same bytes on the wire.
 */
export const RATE_LIMIT_SERVICE_DEFINITION = {
  ...RateLimitServiceService,
  shouldRateLimit: {
    ...RateLimitServiceService.shouldRateLimit,
    requestDeserialize: rawRequest,
    responseSerialize: serializeResponse,
  },
} as const;

/** The request's bytes as grpc-js received them (one Buffer per message). */
export function rawRequest(bytes: Buffer): Buffer {
  return bytes;
}

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
