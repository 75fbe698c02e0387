import { getTextEncoding } from '@bufbuild/protobuf/wire';
import type {
  DescriptorEntry,
  LimitOverride,
  RateLimitRequest,
  RequestDescriptor,
} from '../core/descriptor.js';
import { InvalidArgumentError, RateLimitError } from '../core/errors.js';
import type { RequestLimits } from '../service/request-validation.js';
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

/**
 * A position in the message. Not @bufbuild/protobuf's BinaryReader, which the
 * generated code uses: building one (a DataView and per-instance closures) was
 * a tenth of a small request's decoding, and its varints are 32-bit or BigInt
 * where the bounds below need exact numbers up to 2^53.
 */
class WireReader {
  pos = 0;
  readonly len: number;

  constructor(readonly wire: Uint8Array) {
    this.len = wire.length;
  }
}

/** Largest request hits_addend and requests_per_unit (uint32 on the wire). */
const MAX_UINT32 = 4_294_967_295;
/** Largest per-descriptor hits_addend: the counters are doubles, exact up to 2^53 - 1. */
const MAX_HITS = Number.MAX_SAFE_INTEGER;

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;
/** Nesting of unknown groups skipped before the message counts as malformed. */
const MAX_GROUP_DEPTH = 32;

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

/** Short ASCII strings are built directly, as the generated decoder's reader does. */
const ASCII_MAX_LENGTH = 32;

/**
 * UTF-8 bytes `start`..`end` as text, exactly as the generated decoder decodes
 * them: @bufbuild/protobuf's decoder (invalid sequences become U+FFFD, a
 * leading U+FEFF is kept) behind the same short-ASCII fast path.
 */
function decodeString(buf: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length <= ASCII_MAX_LENGTH) {
    const codes = new Array<number>(length);
    for (let i = 0; i < length; i++) {
      const byte = buf[start + i]!;
      if (byte > 0x7f) return getTextEncoding().decodeUtf8(buf.subarray(start, end));
      codes[i] = byte;
    }
    return String.fromCharCode.apply(String, codes);
  }
  return getTextEncoding().decodeUtf8(buf.subarray(start, end));
}

/**
 * An unsigned varint of up to 10 bytes as a number: exact up to 2^53 - 1 and
 * at least 2^53 when the value is (rounding is monotone and 2^53 is a double),
 * which is all the bounds above need.
 */
function readVarint(r: WireReader): number {
  const buf = r.wire;
  let pos = r.pos;
  let byte = buf[pos++];
  if (byte !== undefined && byte < 0x80) {
    r.pos = pos;
    return byte;
  }
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (byte === undefined) throw malformed(r, 'truncated varint');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      r.pos = pos;
      return value;
    }
    scale *= 128;
    byte = buf[pos++];
  }
  throw malformed(r, 'varint longer than 10 bytes');
}

/** The exact decimal value of the (valid) varint at `start`, for messages. */
function varintText(r: WireReader, start: number): string {
  let value = 0n;
  let shift = 0n;
  for (let pos = start; pos < r.len; pos++) {
    const byte = r.wire[pos]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7n;
  }
  return BigInt.asUintN(64, value).toString();
}

function readTag(r: WireReader): number {
  const tag = readVarint(r);
  if (tag > MAX_UINT32 || tag < 8) throw malformed(r, `invalid tag ${tag}`);
  return tag;
}

/** A length prefix that fits inside the enclosing message (which ends at `end`). */
function readLength(r: WireReader, end: number): number {
  const length = readVarint(r);
  if (length > end - r.pos) throw malformed(r, `length ${length} runs past the end of its message`);
  return length;
}

/** A field's last varint may not run into the bytes after its message. */
function expectEnd(r: WireReader, end: number): void {
  if (r.pos !== end) throw malformed(r, `a field runs past the end of its message`);
}

/** Called only on the error path, so that the field's name is not built for every field read. */
function wrongWireType(r: WireReader, tag: number, wireType: number, field: string): InvalidArgumentError {
  return malformed(r, `${field} has wire type ${tag & 7}, expected ${wireType}`);
}

/** Skips an unknown field without copying it. */
function skipField(r: WireReader, tag: number, end: number, depth: number): void {
  switch (tag & 7) {
    case VARINT:
      readVarint(r);
      break;
    case FIXED64:
      r.pos += 8;
      break;
    case LEN: {
      const length = readLength(r, end); // not `r.pos += readLength(…)`: that adds to the position before the length
      r.pos += length;
      break;
    }
    case FIXED32:
      r.pos += 4;
      break;
    case START_GROUP: {
      if (depth === MAX_GROUP_DEPTH) throw malformed(r, `groups nested deeper than ${MAX_GROUP_DEPTH}`);
      for (;;) {
        if (r.pos >= end) throw malformed(r, `group ${tag >>> 3} is not closed`);
        const inner = readTag(r);
        if ((inner & 7) === END_GROUP) {
          if (inner >>> 3 !== tag >>> 3) throw malformed(r, `group ${tag >>> 3} closed by ${inner >>> 3}`);
          break;
        }
        skipField(r, inner, end, depth + 1);
      }
      break;
    }
    case END_GROUP:
      throw malformed(r, `end of group ${tag >>> 3} that was never started`);
    default:
      throw malformed(r, `field ${tag >>> 3} has invalid wire type ${tag & 7}`);
  }
  if (r.pos > end) throw malformed(r, `field ${tag >>> 3} runs past the end of its message`);
}

function malformed(r: WireReader, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`malformed request: ${what} (at byte ${Math.min(r.pos, r.len)})`);
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
