import fc from 'fast-check';
import { buildConfig } from '../../src/config/rules/build-config.js';
import { RateLimitService } from '../../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS } from '../../src/service/service-options.js';
import { MemoryCounterStore } from '../../src/storage/memory-store.js';
import { ManualClock } from './manual-clock.js';
import {
  descriptor,
  descriptorHits,
  domain,
  encodeRequest,
  entry,
  len,
  message,
  override,
  requestHits,
  uint,
  validRequest,
} from './rls-wire.js';

/**
 * Adversarial ShouldRateLimit messages for the fuzzers: random bytes, mutated
 * valid encodings, sizes at every bound and numbers at every boundary, with
 * unicode, invalid UTF-8 and key separators in the strings.
 */

export const FUZZ_CONFIG_YAML = `domain: fuzz
descriptors:
  - key: user
    rate_limit: { unit: second, requests_per_unit: 5 }
  - key: "a_b:{c}"
    rate_limit: { unit: minute, requests_per_unit: 3, algorithm: token_bucket }
  - key: path
    descriptors:
      - key: method
        rate_limit: { unit: hour, requests_per_unit: 100, algorithm: sliding_window }
`;

/** The service over FUZZ_CONFIG_YAML with a memory store and a manual clock. */
export function fuzzService(): RateLimitService {
  const built = buildConfig([{ path: 'fuzz.yaml', content: FUZZ_CONFIG_YAML }], { mergeDomains: false });
  if (!built.ok) throw new Error(JSON.stringify(built.problems));
  const config = built.config;
  return new RateLimitService({
    rules: () => config,
    store: new MemoryCounterStore({ sweepIntervalMs: 0 }),
    clock: new ManualClock(1_000_000_000),
    options: DEFAULT_SERVICE_OPTIONS,
  });
}

const BOUNDARY_NUMBERS = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n];
const number = fc.oneof(fc.constantFrom(...BOUNDARY_NUMBERS), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

const SEPARATORS = ['_', ':', '{', '}', '\0', '=', ',', '%'];
/** Raw string bytes: text with separators and unicode, or bytes that are not valid UTF-8. */
const stringBytes = (sizes: number[]): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.constantFrom(...sizes).map((n) => Buffer.alloc(n, 0x61)),
    fc.constantFrom(...sizes).map((n) => Buffer.from('é'.repeat(Math.ceil(n / 2))).subarray(0, n)),
    fc
      .string({ unit: fc.constantFrom(...SEPARATORS, 'user', 'é', '😀', '\ud800', '\udfff'), maxLength: 12 })
      .map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    fc.constantFrom(Buffer.from([0xff, 0xfe]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc3])),
  );

const keyBytes = fc.oneof(
  fc.constantFrom(Buffer.from('user'), Buffer.from('a_b:{c}')),
  stringBytes([0, 1, 255, 256, 257]),
);
const valueBytes = stringBytes([0, 1, 1023, 1024, 1025]);

const descriptorField: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.oneof(fc.constantFrom(0, 1, 2, 31, 32, 33), fc.nat(4)),
    keyBytes,
    valueBytes,
    fc.option(fc.tuple(number, number), { nil: undefined }),
    fc.option(number, { nil: undefined }),
  )
  .map(([entries, key, value, limit, hits]) =>
    descriptor(
      ...Array.from({ length: entries }, () => entry(key, value)),
      ...(limit === undefined ? [] : [override(limit[0], limit[1])]),
      ...(hits === undefined ? [] : [descriptorHits(hits)]),
    ),
  );

/** Hand-built messages with every field at and around its bound. */
export const boundaryMessage: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.oneof(fc.constant(Buffer.from('fuzz')), stringBytes([0, 255, 256, 257])),
    fc.oneof(fc.constantFrom(0, 1, 63, 64, 65), fc.nat(5)),
    descriptorField,
    fc.option(number, { nil: undefined }),
    fc.option(fc.constantFrom(uint(99, 7n), len(98, 'future field')), { nil: undefined }),
  )
  .map(([name, count, field, hits, unknown]) =>
    message(
      domain(name),
      ...Array.from({ length: count }, () => field),
      ...(hits === undefined ? [] : [requestHits(hits)]),
      ...(unknown === undefined ? [] : [unknown]),
    ),
  );

/** One edit of encoded bytes: overwrite a byte, truncate, insert bytes, or delete a run. */
export type Mutation = (bytes: Buffer) => Buffer;
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(
    ([at, byte]): Mutation =>
      (b) => {
        const copy = Buffer.from(b);
        if (copy.length > 0) copy[at % copy.length] = byte;
        return copy;
      },
  ),
  fc.nat().map(
    (at): Mutation =>
      (b) =>
        b.subarray(0, b.length === 0 ? 0 : at % b.length),
  ),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 11 })).map(
    ([at, bytes]): Mutation =>
      (b) => {
        const i = b.length === 0 ? 0 : at % b.length;
        return Buffer.concat([b.subarray(0, i), bytes, b.subarray(i)]);
      },
  ),
  fc.tuple(fc.nat(), fc.nat(16)).map(
    ([at, n]): Mutation =>
      (b) => {
        const i = b.length === 0 ? 0 : at % b.length;
        return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
      },
  ),
);

/** A valid encoding (generated encoder) with one to three mutations. */
export const mutatedMessage: fc.Arbitrary<Buffer> = fc
  .tuple(validRequest, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([request, mutations]) => mutations.reduce((bytes, m) => m(bytes), encodeRequest(request)));

/** Every kind of message above, plus random bytes and unmutated valid ones. */
export const anyMessage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  mutatedMessage,
  boundaryMessage,
  validRequest.map(encodeRequest),
);
