import type { SignalLimits } from '../adaptive/signals/signal-body.js';
import { InvalidArgumentError, RateLimitError } from '../core/errors.js';
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

/**
 * Decoders of ratelimit.adaptive.v1 ErrorRateSample and Penalty
 * (proto/ratelimit/adaptive/v1/signals.proto) from the raw request bytes, with
 * the bounded reader of protobuf-wire.ts. Not the generated decoder: ts-proto
 * (forceLong=number) throws on a uint64 above 2^53 - 1, which grpc-js would
 * answer INTERNAL; here every bad message is an InvalidArgumentError.
 *
 * The message's size is checked first, against the JSON body's bound
 * (ADAPTIVE_SIGNAL_MAX_BODY_BYTES), so no string decoded below can be longer;
 * the field bounds themselves are checked by validateErrorRateSample /
 * validatePenalty, the same code as for the JSON body. A uint64 over
 * maxSampleTotal is refused here with its exact decimal value.
 *
 *   ErrorRateSample   1 domain string, 2 controller string, 3 total uint64, 4 errors uint64
 *   Penalty           1 domain string, 2 controller string, 3 value string, 4 ttl string, 5 reason string
 * As protobuf requires: absent fields are '' / 0, a repeated field keeps its
 * last value, unknown fields are skipped.
 *
 * @throws InvalidArgumentError, never anything else.
 */
export function decodeErrorRateSample(
  bytes: Uint8Array,
  limits: SignalLimits,
): { domain: string; controller: string; total: number; errors: number } {
  const f = decode(bytes, limits, ERROR_RATE_FIELDS);
  return { domain: f.s[1] ?? '', controller: f.s[2] ?? '', total: f.n[3] ?? 0, errors: f.n[4] ?? 0 };
}

export function decodePenalty(
  bytes: Uint8Array,
  limits: SignalLimits,
): { domain: string; controller: string; value: string; ttl: string; reason: string } {
  const f = decode(bytes, limits, PENALTY_FIELDS);
  return {
    domain: f.s[1] ?? '',
    controller: f.s[2] ?? '',
    value: f.s[3] ?? '',
    ttl: f.s[4] ?? '',
    reason: f.s[5] ?? '',
  };
}

type FieldSpec = Readonly<Record<number, { name: string; type: 'string' | 'uint64' }>>;

const ERROR_RATE_FIELDS: FieldSpec = {
  1: { name: 'domain', type: 'string' },
  2: { name: 'controller', type: 'string' },
  3: { name: 'total', type: 'uint64' },
  4: { name: 'errors', type: 'uint64' },
};
const PENALTY_FIELDS: FieldSpec = {
  1: { name: 'domain', type: 'string' },
  2: { name: 'controller', type: 'string' },
  3: { name: 'value', type: 'string' },
  4: { name: 'ttl', type: 'string' },
  5: { name: 'reason', type: 'string' },
};

interface Fields {
  s: Record<number, string>;
  n: Record<number, number>;
}

function decode(bytes: Uint8Array, limits: SignalLimits, spec: FieldSpec): Fields {
  if (bytes.length > limits.maxBodyBytes) {
    throw new InvalidArgumentError(
      `signal message is ${bytes.length} bytes; at most ${limits.maxBodyBytes} are allowed`,
    );
  }
  const r = new WireReader(bytes);
  try {
    return readFields(r, limits, spec);
  } catch (error) {
    if (error instanceof RateLimitError) throw error;
    throw malformed(r, error instanceof Error ? error.message : String(error));
  }
}

function readFields(r: WireReader, limits: SignalLimits, spec: FieldSpec): Fields {
  const end = r.len;
  const fields: Fields = { s: {}, n: {} };
  while (r.pos < end) {
    const tag = readTag(r);
    const number = tag >>> 3;
    const field = spec[number];
    if (field === undefined) {
      skipField(r, tag, end, 0);
    } else if (field.type === 'string') {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, field.name);
      const length = readLength(r, end);
      fields.s[number] = decodeString(r.wire, r.pos, r.pos + length);
      r.pos += length;
    } else {
      if ((tag & 7) !== VARINT) throw wrongWireType(r, tag, VARINT, field.name);
      const start = r.pos;
      const value = readVarint(r);
      if (value > limits.maxSampleTotal) {
        throw new InvalidArgumentError(
          `${field.name} must be an integer from 0 to ${limits.maxSampleTotal}, got ${varintText(r, start)}`,
        );
      }
      fields.n[number] = value;
    }
  }
  expectEnd(r, end);
  return fields;
}
