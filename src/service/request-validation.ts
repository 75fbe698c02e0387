import type { LimitOverride, RateLimitRequest } from '../core/descriptor.js';
import { InvalidArgumentError } from '../core/errors.js';
import { UNIT_SECONDS } from '../core/units.js';
import { fitsUtf8Bytes, utf8ByteLength } from '../core/utf8.js';

/** Size limits on one ShouldRateLimit request (a deliberate addition; the reference has none). */
export interface RequestLimits {
  /** Descriptors per request. */
  readonly maxDescriptors: number;
  /** Entries per descriptor. */
  readonly maxEntries: number;
  /** Bytes (UTF-8) per entry key. */
  readonly maxKeyBytes: number;
  /** Bytes (UTF-8) per entry value. */
  readonly maxValueBytes: number;
  /** Bytes (UTF-8) of the domain. */
  readonly maxDomainBytes: number;
}

/** 64 descriptors, 32 entries each, keys up to 256 bytes, values up to 1024 bytes, domain up to 256 bytes (UTF-8). */
export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxDescriptors: 64,
  maxEntries: 32,
  maxKeyBytes: 256,
  maxValueBytes: 1024,
  maxDomainBytes: 256,
});

/** Largest uint32: the widest `requests_per_unit` and request `hits_addend` the wire can carry. */
const MAX_UINT32 = 4_294_967_295;

/**
 * Rejects a request the service must not evaluate, with a message naming the
 * problem and where (descriptor/entry indexes are 0-based). The domain is
 * checked first, then the descriptor list, as the reference does; the texts of
 * those two are the reference's. A descriptor with no entries is valid (it
 * matches no limit). Entry values may be empty (Envoy allows it now).
 *
 * @throws InvalidArgumentError
 */
export function validateRequest(req: RateLimitRequest, limits: RequestLimits): void {
  if (typeof req.domain !== 'string' || req.domain.length === 0) {
    throw new InvalidArgumentError('rate limit domain must not be empty');
  }
  if (!fitsUtf8Bytes(req.domain, limits.maxDomainBytes)) {
    throw new InvalidArgumentError(
      `rate limit domain is ${utf8ByteLength(req.domain)} bytes; at most ${limits.maxDomainBytes} are allowed`,
    );
  }
  const descriptors = req.descriptors;
  if (descriptors.length === 0)
    throw new InvalidArgumentError('rate limit descriptor list must not be empty');
  if (descriptors.length > limits.maxDescriptors) {
    throw new InvalidArgumentError(
      `rate limit request has ${descriptors.length} descriptors; at most ${limits.maxDescriptors} are allowed`,
    );
  }
  if (!isCount(req.hitsAddend, MAX_UINT32)) {
    throw new InvalidArgumentError(
      `rate limit request hits_addend must be an integer from 0 to ${MAX_UINT32}, got ${String(req.hitsAddend)}`,
    );
  }
  for (let i = 0; i < descriptors.length; i++) {
    const descriptor = descriptors[i]!;
    const entries = descriptor.entries;
    if (entries.length > limits.maxEntries) {
      throw new InvalidArgumentError(
        `descriptor ${i} has ${entries.length} entries; at most ${limits.maxEntries} are allowed`,
      );
    }
    for (let j = 0; j < entries.length; j++) {
      const { key, value } = entries[j]!;
      if (key.length === 0) throw new InvalidArgumentError(`descriptor ${i} entry ${j} has an empty key`);
      if (!fitsUtf8Bytes(key, limits.maxKeyBytes)) {
        throw new InvalidArgumentError(
          `descriptor ${i} entry ${j} key is ${utf8ByteLength(key)} bytes; at most ${limits.maxKeyBytes} are allowed`,
        );
      }
      if (!fitsUtf8Bytes(value, limits.maxValueBytes)) {
        throw new InvalidArgumentError(
          `descriptor ${i} entry ${j} value is ${utf8ByteLength(value)} bytes; at most ${limits.maxValueBytes} are allowed`,
        );
      }
    }
    const hits = descriptor.hitsAddend;
    if (hits !== undefined && !isCount(hits, Number.MAX_SAFE_INTEGER)) {
      throw new InvalidArgumentError(
        `descriptor ${i} hits_addend must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${String(hits)}`,
      );
    }
    if (descriptor.limit !== undefined) validateOverride(descriptor.limit, i);
  }
}

function validateOverride(limit: LimitOverride, index: number): void {
  if (typeof limit.unit !== 'string' || !Object.hasOwn(UNIT_SECONDS, limit.unit)) {
    throw new InvalidArgumentError(
      `descriptor ${index} limit override has an invalid unit "${String(limit.unit)}"; expected SECOND, MINUTE, HOUR, DAY, WEEK, MONTH or YEAR`,
    );
  }
  if (!isCount(limit.requestsPerUnit, MAX_UINT32)) {
    throw new InvalidArgumentError(
      `descriptor ${index} limit override requests_per_unit must be an integer from 0 to ${MAX_UINT32}, got ${String(limit.requestsPerUnit)}`,
    );
  }
}

/** A non-negative safe integer no greater than `max` (rejects NaN, fractions, negatives, non-numbers). */
function isCount(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}
