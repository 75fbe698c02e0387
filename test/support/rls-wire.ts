import fc from 'fast-check';
import type { RateLimitRequest as CoreRequest, RequestDescriptor } from '../../src/core/descriptor.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { RateLimitDescriptor } from '../../src/gen/envoy/extensions/common/ratelimit/v3/ratelimit.js';
import { RateLimitRequest } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { UNIT_BY_NUMBER } from '../../src/grpc/rls-codec.js';

/**
 * Protobuf wire helpers for tests of the ShouldRateLimit request decoder:
 * hand-made fields (for malformed and out-of-range messages) and the reference
 * result of the generated decoder, converted to the core request the way the
 * server did before it decoded the wire itself.
 */

import { LEN, VARINT } from '../../src/grpc/protobuf-wire.js';

export { END_GROUP, FIXED32, FIXED64, LEN, START_GROUP, VARINT } from '../../src/grpc/protobuf-wire.js';

/** An unsigned varint of any size (values over 2^64 - 1 make overlong, invalid varints). */
export function varint(value: bigint | number): Buffer {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? low : low | 0x80);
  } while (v !== 0n);
  return Buffer.from(out);
}

export function tag(field: number, wireType: number): Buffer {
  return varint((BigInt(field) << 3n) | BigInt(wireType));
}

/** A length-delimited field: tag, length, bytes (strings as UTF-8). */
export function len(field: number, ...parts: (Buffer | string)[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return Buffer.concat([tag(field, LEN), varint(body.length), body]);
}

export function uint(field: number, value: bigint | number): Buffer {
  return Buffer.concat([tag(field, VARINT), varint(value)]);
}

export const entry = (key: Buffer | string, value: Buffer | string): Buffer =>
  len(1, len(1, key), len(2, value));
export const descriptor = (...fields: Buffer[]): Buffer => len(2, ...fields);
export const domain = (name: Buffer | string): Buffer => len(1, name);
export const override = (requestsPerUnit: bigint | number, unit: bigint | number): Buffer =>
  len(2, uint(1, requestsPerUnit), uint(2, unit));
export const descriptorHits = (hits: bigint | number): Buffer => len(3, uint(1, hits));
export const requestHits = (hits: bigint | number): Buffer => uint(3, hits);

export function message(...fields: Buffer[]): Buffer {
  return Buffer.concat(fields);
}

/** What the generated decoder makes of `bytes`, as a core request (the server's old path). */
export function decodeWithGenerated(bytes: Uint8Array): CoreRequest {
  const proto = RateLimitRequest.decode(bytes);
  return {
    domain: proto.domain,
    descriptors: proto.descriptors.map(fromProto),
    hitsAddend: proto.hitsAddend,
  };
}

function fromProto(d: RateLimitDescriptor, index: number): RequestDescriptor {
  if (d.limit === undefined) return { entries: d.entries, limit: undefined, hitsAddend: d.hitsAddend };
  const unit = UNIT_BY_NUMBER[d.limit.unit];
  if (unit === undefined) throw new InvalidArgumentError(`descriptor ${index}: unknown unit`);
  return {
    entries: d.entries,
    limit: { requestsPerUnit: d.limit.requestsPerUnit, unit },
    hitsAddend: d.hitsAddend,
  };
}

/** Strings as Envoy may send them: ASCII, separators, unicode, lone surrogates. */
export const wireString = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({
      unit: fc.constantFrom('_', ':', '{', '}', '\0', '=', ',', '%', 'é', '\ud800', '😀'),
      maxLength,
    }),
  );

/** Valid requests within the default limits, as the generated encoder writes them. */
export const validRequest: fc.Arbitrary<RateLimitRequest> = fc.record({
  domain: wireString(40),
  descriptors: fc.array(
    fc.record({
      entries: fc.array(fc.record({ key: wireString(20), value: wireString(40) }), { maxLength: 5 }),
      limit: fc.option(
        fc.record({
          requestsPerUnit: fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.nat()),
          unit: fc.integer({ min: 1, max: 7 }),
        }),
        { nil: undefined },
      ),
      hitsAddend: fc.option(fc.oneof(fc.constantFrom(0, 1, 2 ** 32, 2 ** 53 - 1), fc.nat()), {
        nil: undefined,
      }),
    }),
    { maxLength: 8 },
  ),
  hitsAddend: fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.nat()),
});

export function encodeRequest(request: RateLimitRequest): Buffer {
  return Buffer.from(RateLimitRequest.encode(request).finish());
}
