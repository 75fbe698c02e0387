/** Reads a ShouldRateLimit answer's overall_code without decoding the whole RateLimitResponse. */

/**
 * RateLimitResponse.overall_code from the start of a response body (`length` valid bytes of
 * `frame`: the 5-byte gRPC header, then protobuf), or -1 while too few bytes have arrived.
 *
 * Reads only the first field instead of decoding the message: overall_code is field 1 (tag
 * byte 0x08, varint) and protobuf encoders (ts-proto, protobufjs, Go) write fields in field
 * number order, so when present it comes first; when the first field is another one, or the
 * message is empty, overall_code was the proto3 default UNKNOWN (0). Codes 0..2 fit in one
 * varint byte; a longer varint is reported as 128 (an unexpected code).
 */
export function overallCode(frame: Buffer, length: number): number {
  if (length < 5) return -1;
  if (frame.readUInt32BE(1) === 0) return 0;
  if (length < 6) return -1;
  if (frame[5] !== 0x08) return 0;
  if (length < 7) return -1;
  const value = frame[6]!;
  return value & 0x80 ? 128 : value;
}
