import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { summarizeEntries } from '../../src/adaptive/signals/access-log-classifier.js';
import { DEFAULT_SIGNAL_LIMITS, parseSignalBody } from '../../src/adaptive/signals/signal-body.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import {
  type AccessLogLimits,
  DEFAULT_ACCESS_LOG_LIMITS,
  decodeStreamAccessLogsMessage,
} from '../../src/grpc/access-log-decoder.js';
import { type EntrySpec, encodeAccessLogs } from '../support/envoy-access-log.js';
import { fuzzBudget } from '../support/fuzz-budget.js';
import { mutation } from '../support/fuzz-requests.js';

/*
 * The adaptive module's signal inputs (not wired into the servers yet):
 * - StreamAccessLogsMessage bytes, random and mutated from messages protobufjs
 *   encodes from Envoy's protos: the decoder returns entries or throws an
 *   InvalidArgumentError with a message, nothing else, and what it returns is
 *   within the bounds (small bounds, so the fuzzer reaches them).
 * - POST /v1/signals bodies, random and mutated from valid ones: the parser
 *   never throws, and an accepted signal is within the bounds.
 */

const budget = fuzzBudget();

const SMALL: AccessLogLimits = {
  maxMessageBytes: 4096,
  maxEntriesPerMessage: 5,
  maxNameBytes: 8,
  maxAuthorityBytes: 6,
};
const FLAGS = [
  'upstream_overflow',
  'rate_limited',
  'downstream_remote_reset',
  'no_healthy_upstream',
  'local_reset',
];

const entrySpec: fc.Arbitrary<EntrySpec> = fc.record(
  {
    cluster: fc.string({ maxLength: 10 }),
    route: fc.string({ maxLength: 10 }),
    authority: fc.string({ maxLength: 10 }),
    code: fc.oneof(fc.constantFrom(200, 429, 500, 503), fc.nat()),
    flags: fc.dictionary(fc.constantFrom(...FLAGS), fc.boolean(), { maxKeys: 3 }),
    noise: fc.boolean(),
  },
  { requiredKeys: [] },
);

/** Valid messages are encoded once (protobufjs is async to load); properties pick and mutate them. */
let corpus: Buffer[] = [];

beforeAll(async () => {
  const specs = fc.sample(fc.array(entrySpec, { maxLength: 7 }), { numRuns: 200, seed: 42 });
  corpus = await Promise.all(specs.map((entries, i) => encodeAccessLogs(entries, i % 2 === 0)));
});

const decoded = { entries: 0, rejected: 0 };

function decodeOrReject(bytes: Uint8Array, limits: AccessLogLimits): void {
  let entries: ReturnType<typeof decodeStreamAccessLogsMessage>;
  try {
    entries = decodeStreamAccessLogsMessage(bytes, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).not.toBe('');
    decoded.rejected++;
    return;
  }
  decoded.entries += entries.length;
  expect(entries.length).toBeLessThanOrEqual(limits.maxEntriesPerMessage);
  for (const e of entries) {
    expect(Buffer.byteLength(e.upstreamCluster)).toBeLessThanOrEqual(3 * limits.maxNameBytes);
    expect(Buffer.byteLength(e.authority)).toBeLessThanOrEqual(3 * limits.maxAuthorityBytes);
    expect(e.responseCode).toBeLessThanOrEqual(4_294_967_295);
  }
  const summary = summarizeEntries(entries);
  for (const s of summary.samples) expect(s.errors + s.upstream429).toBeLessThanOrEqual(s.total);
}

describe('StreamAccessLogsMessage decoder, fuzzed', () => {
  const valid = fc.nat().map((i) => corpus[i % corpus.length] ?? Buffer.alloc(0));
  const mutated = fc
    .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([bytes, ms]) => ms.reduce((b, m) => m(b), bytes));
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated, valid);

  it(
    'returns bounded entries or throws InvalidArgumentError for random, mutated and valid messages',
    () => {
      fc.assert(
        fc.property(anyBytes, fc.boolean(), (bytes, small) =>
          decodeOrReject(bytes, small ? SMALL : DEFAULT_ACCESS_LOG_LIMITS),
        ),
        budget.params,
      );
      expect(decoded.entries).toBeGreaterThan(0);
      expect(decoded.rejected).toBeGreaterThan(0);
    },
    budget.testTimeoutMs,
  );

  it(
    'decodes every unmutated Envoy-encoded message under the default limits',
    () => {
      for (const bytes of corpus)
        expect(() => decodeStreamAccessLogsMessage(bytes, DEFAULT_ACCESS_LOG_LIMITS)).not.toThrow();
    },
    budget.testTimeoutMs,
  );
});

describe('POST /v1/signals body parser, fuzzed', () => {
  const limits = {
    ...DEFAULT_SIGNAL_LIMITS,
    maxBodyBytes: 512,
    maxNameBytes: 8,
    maxValueBytes: 8,
    maxReasonBytes: 8,
  };
  const name = fc.string({ minLength: 1, maxLength: 9 });
  const field = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.double(),
    fc.constant(null),
    fc.boolean(),
  );
  const body = fc.oneof(
    fc.record(
      { domain: field, controller: field, total: field, errors: field, extra: field },
      { requiredKeys: [] },
    ),
    fc.record(
      {
        domain: field,
        controller: field,
        value: field,
        ttl: fc.oneof(field, fc.stringMatching(/^[0-9.]{1,4}(ms|s|m|h|d)?$/)),
        reason: field,
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue(),
    // mostly valid ones, so accepted signals are checked too
    fc.record({ domain: name, controller: name, total: fc.nat(2000), errors: fc.nat(2000) }),
    fc.record({
      domain: name,
      controller: name,
      value: fc.string({ maxLength: 9 }),
      ttl: fc.constantFrom('1s', '10m', '1h30m', '0s', '25h', '500ms', '0.5ms'),
      reason: fc.string({ maxLength: 9 }),
    }),
  );
  const encoded = (b: unknown): Buffer => Buffer.from(JSON.stringify(b) ?? 'null');
  const bytes: fc.Arbitrary<Buffer> = fc.oneof(
    body.map(encoded),
    fc
      .tuple(body, fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([b, ms]) => ms.reduce((x: Buffer, m) => m(x), encoded(b))),
    fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
  );

  const answers = { accepted: 0, refused: 0 };
  it(
    'never throws, and accepts only signals within the bounds',
    () => {
      fc.assert(
        fc.property(bytes, (b) => {
          const result = parseSignalBody(b, limits);
          answers[result.ok ? 'accepted' : 'refused']++;
          if (!result.ok) {
            expect([400, 413]).toContain(result.status);
            expect(result.reason).not.toBe('');
            expect(result.reason.length).toBeLessThan(600); // echoed caller text is cut at 64 characters
            return;
          }
          const s = result.signal;
          expect(s.domain).not.toBe('');
          expect(Buffer.byteLength(s.controller)).toBeLessThanOrEqual(8);
          if (s.kind === 'error_rate') {
            expect(Number.isSafeInteger(s.errors) && s.errors >= 0 && s.errors <= s.total).toBe(true);
            expect(s.total).toBeLessThanOrEqual(limits.maxSampleTotal);
          } else {
            expect(s.ttlMs).toBeGreaterThan(0);
            expect(s.ttlMs).toBeLessThanOrEqual(limits.maxPenaltyTtlMs);
            expect(Buffer.byteLength(s.value)).toBeLessThanOrEqual(8);
          }
        }),
        budget.params,
      );
      expect(answers.accepted).toBeGreaterThan(0);
      expect(answers.refused).toBeGreaterThan(0);
    },
    budget.testTimeoutMs,
  );
});
