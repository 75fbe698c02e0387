import type {
  DescriptorEntry,
  LimitOverride,
  RateLimitRequest,
  RequestDescriptor,
} from '../core/descriptor.js';
import { InvalidArgumentError, RateLimitError } from '../core/errors.js';
import type { RequestLimits } from '../service/request-validation.js';
import {
  decodeString,
  expectEnd,
  LEN,
  malformed,
  readLength,
  readTag,
  readVarint,
  skipField,
  VARINT,
  varintText,
  WireReader,
  wrongWireType,
} from './protobuf-wire.js';
import { UNIT_BY_NUMBER } from './rls-codec.js';

/**
 * A counting decoder of envoy.service.ratelimit.v3.RateLimitRequest, straight
 * from the wire bytes to the core request. Unlike the generated decoder, which
 * builds the whole message before anyone can count it (a 4 MB message of
 * 2,000,000 empty descriptors took 0.9 s and 330 MB), it stops at the first
 * size limit crossed, before the field's bytes are decoded, so a request costs
 * time and memory in proportion to the limits, not to the message.
 *
 * Every failure is an InvalidArgumentError naming the field (descriptor and
 * entry indexes are 0-based): a limit crossed, a number the service cannot
 * hold exactly, or "malformed request: …" for bytes that are not a protobuf
 * message (truncated, overlong varints, invalid wire types, a known field with
 * a wire type its type does not have). Unknown fields are skipped, as protobuf
 * requires (a newer Envoy may send fields this service does not know), within
 * the same bounds: their bytes are never copied.
 *
 * Wire format (rls.proto, ratelimit.proto):
 *   RateLimitRequest      1 domain string, 2 descriptors RateLimitDescriptor (repeated), 3 hits_addend uint32
 *   RateLimitDescriptor   1 entries Entry (repeated), 2 limit RateLimitOverride, 3 hits_addend UInt64Value
 *   Entry                 1 key string, 2 value string
 *   RateLimitOverride     1 requests_per_unit uint32, 2 unit enum
 *   UInt64Value           1 value uint64
 * As in the generated decoder, a repeated singular field keeps its last value,
 * and strings that are not valid UTF-8 decode with U+FFFD.
 *
 * @throws InvalidArgumentError, never anything else.
 */
export function decodeRateLimitRequest(bytes: Uint8Array, limits: RequestLimits): RateLimitRequest {
  const reader = new WireReader(bytes);
  try {
    return readRequest(reader, limits);
  } catch (error) {
    if (error instanceof RateLimitError) throw error;
    throw malformed(reader, error instanceof Error ? error.message : String(error));
  }
}

/** Largest request hits_addend and requests_per_unit (uint32 on the wire). */
const MAX_UINT32 = 4_294_967_295;
/** Largest per-descriptor hits_addend: the counters are doubles, exact up to 2^53 - 1. */
const MAX_HITS = Number.MAX_SAFE_INTEGER;

function readRequest(r: WireReader, limits: RequestLimits): RateLimitRequest {
  const end = r.len;
  const descriptors: RequestDescriptor[] = [];
  let domainStart = -1;
  let domainEnd = -1;
  let hitsAddend = 0;
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field === 1) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, 'domain');
      const length = readLength(r, end);
      if (length > limits.maxDomainBytes) {
        throw new InvalidArgumentError(
          `rate limit domain is ${length} bytes; at most ${limits.maxDomainBytes} are allowed`,
        );
      }
      domainStart = r.pos;
      r.pos += length;
      domainEnd = r.pos;
    } else if (field === 2) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, 'descriptors');
      const index = descriptors.length;
      if (index === limits.maxDescriptors) {
        throw new InvalidArgumentError(
          `descriptor ${index}: at most ${limits.maxDescriptors} descriptors are allowed`,
        );
      }
      const length = readLength(r, end);
      descriptors.push(readDescriptor(r, r.pos + length, index, limits));
    } else if (field === 3) {
      if ((tag & 7) !== VARINT) throw wrongWireType(r, tag, VARINT, 'hits_addend');
      const start = r.pos;
      hitsAddend = readVarint(r);
      if (hitsAddend > MAX_UINT32) {
        throw new InvalidArgumentError(
          `rate limit request hits_addend must be an integer from 0 to ${MAX_UINT32}, got ${varintText(r, start)}`,
        );
      }
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  return {
    domain: domainStart < 0 ? '' : decodeString(r.wire, domainStart, domainEnd),
    descriptors,
    hitsAddend,
  };
}

function readDescriptor(r: WireReader, end: number, index: number, limits: RequestLimits): RequestDescriptor {
  const entries: DescriptorEntry[] = [];
  let limit: LimitOverride | undefined;
  let hitsAddend: number | undefined;
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field === 1) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `descriptor ${index} entries`);
      const entry = entries.length;
      if (entry === limits.maxEntries) {
        throw new InvalidArgumentError(
          `descriptor ${index} entry ${entry}: at most ${limits.maxEntries} entries per descriptor are allowed`,
        );
      }
      const length = readLength(r, end);
      entries.push(readEntry(r, r.pos + length, index, entry, limits));
    } else if (field === 2) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `descriptor ${index} limit`);
      const length = readLength(r, end);
      limit = readOverride(r, r.pos + length, index);
    } else if (field === 3) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `descriptor ${index} hits_addend`);
      const length = readLength(r, end);
      hitsAddend = readHits(r, r.pos + length, index);
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  return { entries, limit, hitsAddend };
}

function readEntry(
  r: WireReader,
  end: number,
  index: number,
  entry: number,
  limits: RequestLimits,
): DescriptorEntry {
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field === 1) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `descriptor ${index} entry ${entry} key`);
      key = readString(r, end, limits.maxKeyBytes, index, entry, 'key');
    } else if (field === 2) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `descriptor ${index} entry ${entry} value`);
      value = readString(r, end, limits.maxValueBytes, index, entry, 'value');
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  return { key, value };
}

function readOverride(r: WireReader, end: number, index: number): LimitOverride {
  let requestsPerUnit = 0;
  let unitNumber = 0;
  let unitAt = -1;
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field === 1) {
      if ((tag & 7) !== VARINT)
        throw wrongWireType(r, tag, VARINT, `descriptor ${index} limit requests_per_unit`);
      const start = r.pos;
      requestsPerUnit = readVarint(r);
      if (requestsPerUnit > MAX_UINT32) {
        throw new InvalidArgumentError(
          `descriptor ${index} limit override requests_per_unit must be an integer from 0 to ${MAX_UINT32}, got ${varintText(r, start)}`,
        );
      }
    } else if (field === 2) {
      if ((tag & 7) !== VARINT) throw wrongWireType(r, tag, VARINT, `descriptor ${index} limit unit`);
      unitAt = r.pos;
      unitNumber = readVarint(r);
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  const unit = UNIT_BY_NUMBER[unitNumber];
  if (unit === undefined) {
    // an enum is an int32 on the wire; negative numbers arrive as 10-byte varints
    const shown = unitAt < 0 ? '0' : BigInt.asIntN(64, BigInt(varintText(r, unitAt))).toString();
    throw new InvalidArgumentError(
      `descriptor ${index}: limit override has an unknown unit (${shown}); use SECOND to YEAR`,
    );
  }
  return { requestsPerUnit, unit };
}

/** google.protobuf.UInt64Value: present means set, even when its value is 0 (check only). */
function readHits(r: WireReader, end: number, index: number): number {
  let hits = 0;
  while (r.pos < end) {
    const tag = readTag(r);
    if (tag >>> 3 === 1) {
      if ((tag & 7) !== VARINT) throw wrongWireType(r, tag, VARINT, `descriptor ${index} hits_addend value`);
      const start = r.pos;
      hits = readVarint(r);
      if (hits > MAX_HITS) {
        throw new InvalidArgumentError(
          `descriptor ${index} hits_addend must be an integer from 0 to ${MAX_HITS}, got ${varintText(r, start)}`,
        );
      }
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  return hits;
}

/** A length-delimited string of at most `maxBytes` bytes, checked before it is decoded. */
function readString(
  r: WireReader,
  end: number,
  maxBytes: number,
  index: number,
  entry: number,
  what: string,
): string {
  const length = readLength(r, end);
  if (length > maxBytes) {
    throw new InvalidArgumentError(
      `descriptor ${index} entry ${entry} ${what} is ${length} bytes; at most ${maxBytes} are allowed`,
    );
  }
  const start = r.pos;
  r.pos += length;
  return decodeString(r.wire, start, r.pos);
}

/** Per-entry wire bytes besides the key and value: entry tag and length, key and value tags and lengths. */
const ENTRY_OVERHEAD = 16;
/** Per-descriptor wire bytes besides its entries: tag, length, a limit override and a hits_addend. */
const DESCRIPTOR_OVERHEAD = 64;
/** Room for the request's other fields and for fields a newer Envoy may add. */
const MESSAGE_SLACK = 64 * 1024;
/** grpc-js's option is an int32. */
const MAX_MESSAGE_CAP = 2 ** 31 - 1;

/**
 * The largest ShouldRateLimit message a request within `limits` can need, with
 * generous room for protobuf overhead and unknown fields (never below 64 KiB):
 * grpc-js refuses anything longer with RESOURCE_EXHAUSTED from the 5-byte
 * message header, before it buffers the message. 2.7 MB with the defaults.
 */
export function maxRequestMessageBytes(limits: RequestLimits): number {
  const entry = limits.maxKeyBytes + limits.maxValueBytes + ENTRY_OVERHEAD;
  const descriptor = limits.maxEntries * entry + DESCRIPTOR_OVERHEAD;
  const bytes = limits.maxDescriptors * descriptor + limits.maxDomainBytes + MESSAGE_SLACK;
  return Math.min(bytes, MAX_MESSAGE_CAP);
}
