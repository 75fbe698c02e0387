import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { RateLimitRequest } from '../../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { decodeRateLimitRequest, maxRequestMessageBytes } from '../../../src/grpc/rls-request-decoder.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../../../src/service/request-validation.js';
import {
  decodeWithGenerated,
  descriptor,
  descriptorHits,
  domain,
  END_GROUP,
  entry,
  FIXED32,
  FIXED64,
  LEN,
  len,
  message,
  override,
  requestHits,
  START_GROUP,
  tag,
  uint,
  validRequest,
  varint,
} from '../../support/rls-wire.js';

const LIMITS = DEFAULT_REQUEST_LIMITS;
const decode = (bytes: Uint8Array, limits: RequestLimits = LIMITS) => decodeRateLimitRequest(bytes, limits);

/** The decoder's error for `bytes`: always an InvalidArgumentError. */
function rejection(bytes: Uint8Array, limits: RequestLimits = LIMITS): InvalidArgumentError {
  try {
    decode(bytes, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected the request to be rejected');
}

const ok = entry('k', 'v');
const times = (n: number, field: Buffer): Buffer[] => Array.from({ length: n }, () => field);

describe('decodeRateLimitRequest: size limits, each at exactly the limit and one past it', () => {
  it('accepts 64 descriptors of 32 entries with 256-byte keys, 1024-byte values and a 256-byte domain', () => {
    const full = descriptor(...times(32, entry('k'.repeat(256), 'v'.repeat(1024))));
    const bytes = message(domain('d'.repeat(256)), ...times(64, full));
    const request = decode(bytes);
    expect(request.descriptors).toHaveLength(64);
    expect(request.descriptors[63]?.entries).toHaveLength(32);
    expect(request).toEqual(decodeWithGenerated(bytes));
  });

  it('stops at the 65th descriptor, naming it', () => {
    const bytes = message(domain('d'), ...times(65, descriptor(ok)));
    expect(rejection(bytes).message).toBe('descriptor 64: at most 64 descriptors are allowed');
  });

  it('stops at the 33rd entry of a descriptor, naming descriptor and entry', () => {
    const bytes = message(domain('d'), descriptor(ok), descriptor(...times(33, ok)));
    expect(rejection(bytes).message).toBe(
      'descriptor 1 entry 32: at most 32 entries per descriptor are allowed',
    );
  });

  it('rejects a 257-byte key from its length, before decoding it', () => {
    const bytes = message(domain('d'), descriptor(ok, entry(`${'é'.repeat(128)}k`, 'v')));
    expect(rejection(bytes).message).toBe('descriptor 0 entry 1 key is 257 bytes; at most 256 are allowed');
  });

  it('rejects a 1025-byte value, naming it', () => {
    const bytes = message(domain('d'), descriptor(entry('k', 'v'.repeat(1025))));
    expect(rejection(bytes).message).toBe(
      'descriptor 0 entry 0 value is 1025 bytes; at most 1024 are allowed',
    );
  });

  it('rejects a 257-byte domain', () => {
    const bytes = message(domain('d'.repeat(257)), descriptor(ok));
    expect(rejection(bytes).message).toBe('rate limit domain is 257 bytes; at most 256 are allowed');
  });

  it('applies the limits it is given', () => {
    const limits = { maxDescriptors: 2, maxEntries: 1, maxKeyBytes: 3, maxValueBytes: 4, maxDomainBytes: 5 };
    expect(() => decode(message(domain('ddddd'), descriptor(entry('kkk', 'vvvv'))), limits)).not.toThrow();
    expect(rejection(message(domain('dddddd')), limits).message).toMatch(/domain is 6 bytes; at most 5/);
    expect(rejection(message(...times(3, descriptor())), limits).message).toMatch(/^descriptor 2: at most 2/);
    expect(rejection(message(descriptor(ok, ok)), limits).message).toMatch(/entry 1: at most 1 entries/);
    expect(rejection(message(descriptor(entry('kkkk', ''))), limits).message).toMatch(/key is 4 bytes/);
    expect(rejection(message(descriptor(entry('k', 'vvvvv'))), limits).message).toMatch(/value is 5 bytes/);
  });

  it('stops a 4 MB message of 2,000,000 empty descriptors at the 65th', () => {
    const bytes = Buffer.alloc(4_000_000);
    for (let i = 0; i < bytes.length; i += 2) bytes[i] = 0x12;
    expect(rejection(bytes).message).toBe('descriptor 64: at most 64 descriptors are allowed');
  });
});

describe('decodeRateLimitRequest: numbers at their bounds', () => {
  const base = (...fields: Buffer[]) => message(domain('d'), descriptor(ok, ...fields));

  it.each([0, 1, 2 ** 32 - 1])('accepts request hits_addend %s', (hits) => {
    expect(decode(message(base(), requestHits(hits))).hitsAddend).toBe(hits);
  });

  it.each([
    [2n ** 32n, '4294967296'],
    [2n ** 53n, '9007199254740992'],
    [2n ** 64n - 1n, '18446744073709551615'],
  ])('rejects request hits_addend %s, naming the field', (hits, shown) => {
    expect(rejection(message(base(), requestHits(hits))).message).toBe(
      `rate limit request hits_addend must be an integer from 0 to 4294967295, got ${shown}`,
    );
  });

  it.each([0, 1, 2 ** 32, 2 ** 53 - 1])('accepts per-descriptor hits_addend %s', (hits) => {
    expect(decode(base(descriptorHits(hits))).descriptors[0]?.hitsAddend).toBe(hits);
  });

  it.each([
    [2n ** 53n, '9007199254740992'],
    [2n ** 64n - 1n, '18446744073709551615'],
  ])('rejects per-descriptor hits_addend %s, naming the field', (hits, shown) => {
    expect(rejection(base(descriptorHits(hits))).message).toBe(
      `descriptor 0 hits_addend must be an integer from 0 to 9007199254740991, got ${shown}`,
    );
  });

  it('reads an empty hits_addend wrapper as 0 (check only), as the generated decoder does', () => {
    const bytes = base(len(3));
    expect(decode(bytes).descriptors[0]?.hitsAddend).toBe(0);
    expect(decode(bytes)).toEqual(decodeWithGenerated(bytes));
  });

  it.each([0, 2 ** 32 - 1])('accepts limit requests_per_unit %s', (rpu) => {
    expect(decode(base(override(rpu, 1))).descriptors[0]?.limit).toEqual({
      requestsPerUnit: rpu,
      unit: 'SECOND',
    });
  });

  it.each([2n ** 32n, 2n ** 64n - 1n])('rejects limit requests_per_unit %s, naming the field', (rpu) => {
    expect(rejection(base(override(rpu, 1))).message).toBe(
      `descriptor 0 limit override requests_per_unit must be an integer from 0 to 4294967295, got ${rpu}`,
    );
  });

  it.each([
    [0n, '0'],
    [8n, '8'],
    [2n ** 32n, '4294967296'],
    [2n ** 64n - 1n, '-1'],
  ])('rejects limit unit %s as unknown, naming the descriptor', (unit, shown) => {
    expect(rejection(base(override(1, unit))).message).toBe(
      `descriptor 0: limit override has an unknown unit (${shown}); use SECOND to YEAR`,
    );
  });

  it('rejects a limit override without a unit', () => {
    expect(rejection(base(len(2, uint(1, 5)))).message).toMatch(/unknown unit \(0\)/);
  });

  it('maps every unit number 1..7', () => {
    const units = [1, 2, 3, 4, 5, 6, 7].map((u) => decode(base(override(1, u))).descriptors[0]?.limit?.unit);
    expect(units).toEqual(['SECOND', 'MINUTE', 'HOUR', 'DAY', 'MONTH', 'YEAR', 'WEEK']);
  });
});

describe('decodeRateLimitRequest: malformed bytes are INVALID_ARGUMENT, never another error', () => {
  const valid = message(domain('d'), descriptor(ok, override(10, 2), descriptorHits(3)), requestHits(2));

  it('rejects every truncation of a valid message that cuts a field', () => {
    for (let cut = 1; cut < valid.length; cut++) {
      try {
        decode(valid.subarray(0, cut));
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as Error).message).toMatch(/^malformed request: /);
      }
    }
    expect(rejection(valid.subarray(0, valid.length - 1)).message).toMatch(/^malformed request: /);
  });

  it.each<[string, Buffer]>([
    ['a truncated varint', Buffer.from([0x18, 0x80])],
    [
      'a varint longer than 10 bytes',
      Buffer.concat([Buffer.from([0x18]), Buffer.alloc(10, 0x80), Buffer.from([1])]),
    ],
    ['field number 0', Buffer.from([0x00, 0x01])],
    ['a tag over uint32', Buffer.concat([varint(2n ** 35n), Buffer.from([0])])],
    ['wire type 6', Buffer.from([(9 << 3) | 6, 0])],
    ['wire type 7', Buffer.from([(9 << 3) | 7, 0])],
    ['a stray end-group', tag(9, END_GROUP)],
    ['an unclosed group', Buffer.concat([tag(9, START_GROUP), uint(1, 1)])],
    ['a group closed by another field', Buffer.concat([tag(9, START_GROUP), tag(8, END_GROUP)])],
    ['the domain as a varint', uint(1, 5)],
    ['descriptors as a varint', uint(2, 5)],
    ['hits_addend as a string', len(3, 'x')],
    ['an entry key as a varint', descriptor(len(1, uint(1, 1)))],
    ['a length past the end', Buffer.concat([tag(1, LEN), varint(100), Buffer.from('d')])],
    ['a length past its descriptor', Buffer.concat([tag(2, LEN), varint(2), tag(1, LEN), varint(5)])],
    [
      'a varint running out of its descriptor',
      Buffer.concat([tag(2, LEN), varint(2), Buffer.from([0x18, 0x80, 0x01])]),
    ],
    ['a fixed64 past the end', Buffer.concat([tag(9, FIXED64), Buffer.alloc(3)])],
    ['a length of 2^32', Buffer.concat([tag(1, LEN), varint(2n ** 32n)])],
    [
      'groups nested 40 deep',
      Buffer.concat([...times(40, tag(9, START_GROUP)), ...times(40, tag(9, END_GROUP))]),
    ],
  ])('rejects %s as a malformed request', (_what, bytes) => {
    expect(rejection(bytes).message).toMatch(/^malformed request: .+ \(at byte \d+\)$/);
  });

  it('never throws anything but InvalidArgumentError for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decode(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeRateLimitRequest: the same request as the generated decoder', () => {
  it('skips unknown fields of every wire type at every level', () => {
    const unknown = message(
      uint(99, 2n ** 64n - 1n),
      tag(98, FIXED64),
      Buffer.alloc(8, 1),
      tag(97, FIXED32),
      Buffer.alloc(4, 1),
      len(96, 'newer envoy'),
      tag(95, START_GROUP),
      uint(1, 7),
      len(2, 'x'),
      tag(3, START_GROUP),
      tag(3, END_GROUP),
      tag(95, END_GROUP),
    );
    const plain = message(
      domain('d'),
      descriptor(entry('k', 'v'), override(5, 1), descriptorHits(2)),
      requestHits(4),
    );
    const padded = message(
      unknown,
      domain('d'),
      descriptor(
        unknown,
        len(1, unknown, len(1, 'k'), unknown, len(2, 'v')),
        len(2, uint(1, 5), unknown, uint(2, 1)),
        len(3, unknown, uint(1, 2)),
      ),
      unknown,
      requestHits(4),
    );
    expect(decode(padded)).toEqual(decode(plain));
    expect(decode(padded)).toEqual(decodeWithGenerated(padded));
  });

  it('keeps the last of a repeated singular field, as the generated decoder does', () => {
    const bytes = message(
      domain('a'),
      requestHits(3),
      descriptor(override(1, 1), override(2, 2)),
      domain('b'),
      requestHits(5),
    );
    expect(decode(bytes)).toEqual(decodeWithGenerated(bytes));
    expect(decode(bytes).domain).toBe('b');
  });

  it('decodes invalid UTF-8 in keys and values with U+FFFD, as the generated decoder does', () => {
    const invalid = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80, 0x61]);
    const bytes = message(
      domain('d'),
      descriptor(entry(invalid, invalid), entry(Buffer.from([0xed, 0xa0, 0x80]), 'x')),
    );
    expect(decode(bytes)).toEqual(decodeWithGenerated(bytes));
  });

  it("gives the generated decoder's request for random valid requests", () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        const bytes = RateLimitRequest.encode(request).finish();
        expect(decode(bytes)).toEqual(decodeWithGenerated(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('maxRequestMessageBytes', () => {
  it('leaves room for the largest request within the limits, and 64 KiB at least', () => {
    const full = descriptor(
      ...times(32, entry('k'.repeat(256), 'v'.repeat(1024))),
      override(2n ** 32n - 1n, 7),
      descriptorHits(2n ** 53n - 1n),
    );
    const largest = message(domain('d'.repeat(256)), ...times(64, full), requestHits(2n ** 32n - 1n));
    expect(largest.length).toBeLessThan(maxRequestMessageBytes(LIMITS));
    expect(maxRequestMessageBytes(LIMITS)).toBe(2_724_096);
    const tiny = { maxDescriptors: 1, maxEntries: 1, maxKeyBytes: 1, maxValueBytes: 1, maxDomainBytes: 1 };
    expect(maxRequestMessageBytes(tiny)).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('stays an int32 however large the limits', () => {
    const huge = {
      maxDescriptors: 100_000,
      maxEntries: 100_000,
      maxKeyBytes: 1 << 20,
      maxValueBytes: 1 << 20,
      maxDomainBytes: 1 << 16,
    };
    expect(maxRequestMessageBytes(huge)).toBe(2 ** 31 - 1);
  });
});
