import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { checkJsonShape, maxJsonBodyBytes, requestFromJson } from '../../../src/http/json-codec.js';
import { DEFAULT_REQUEST_LIMITS, validateRequest } from '../../../src/service/request-validation.js';

const LIMITS = DEFAULT_REQUEST_LIMITS;

/** The largest request within the limits, every string escaped as JSON escapes it (here: not at all, and \u00e9). */
function largest(value: string): string {
  const entries = Array.from({ length: LIMITS.maxEntries }, (_, i) => ({
    key: `${i}`.padEnd(LIMITS.maxKeyBytes, 'k'),
    value,
  }));
  const descriptor = {
    entries,
    limit: { requestsPerUnit: 4294967295, unit: 'SECOND' },
    hitsAddend: '9007199254740991',
  };
  return JSON.stringify(
    {
      domain: 'd'.repeat(LIMITS.maxDomainBytes),
      descriptors: Array(LIMITS.maxDescriptors).fill(descriptor),
      hitsAddend: 4294967295,
    },
    null,
    1,
  );
}

describe('maxJsonBodyBytes', () => {
  it('leaves room for the largest request within the limits, pretty-printed', () => {
    const body = largest('v'.repeat(LIMITS.maxValueBytes));
    expect(Buffer.byteLength(body)).toBeLessThan(maxJsonBodyBytes(LIMITS));
    expect(() => validateRequest(requestFromJson(JSON.parse(body)), LIMITS)).not.toThrow();
  });

  it('is 5.5 MB with the default limits and at least 64 KiB with tiny ones', () => {
    expect(maxJsonBodyBytes(LIMITS)).toBe(5_456_384);
    const tiny = { maxDescriptors: 1, maxEntries: 1, maxKeyBytes: 1, maxValueBytes: 1, maxDomainBytes: 1 };
    expect(maxJsonBodyBytes(tiny)).toBeGreaterThanOrEqual(64 * 1024);
  });
});

describe('checkJsonShape', () => {
  it('accepts the largest request within the limits', () => {
    expect(() => checkJsonShape(largest('v'), LIMITS)).not.toThrow();
  });

  it('rejects one JSON object more than a request within the limits can have, naming the bound', () => {
    const limits = { ...LIMITS, maxDescriptors: 1, maxEntries: 1 };
    // request, descriptor, limit, entry: 4 objects; one descriptor list and one entry list
    const fits = '{"descriptors":[{"entries":[{"key":"k"}],"limit":{}}]}';
    expect(() => checkJsonShape(fits, limits)).not.toThrow();
    expect(() => checkJsonShape(fits.replace('{"key":"k"}', '{"key":"k"},{}'), limits)).toThrow(
      new InvalidArgumentError(
        'request body has more than 4 JSON objects, the most a request within the limits (1 descriptors of 1 entries) can have',
      ),
    );
    expect(() => checkJsonShape('[[[', limits)).toThrow(/more than 2 JSON arrays/);
  });

  it('does not count braces and brackets inside strings, escaped quotes included', () => {
    const limits = { ...LIMITS, maxDescriptors: 1, maxEntries: 1 };
    const body = JSON.stringify({
      domain: '{{{[[[\\"{{{',
      descriptors: [{ entries: [{ key: '"}{][', value: '\\' }] }],
    });
    expect(() => checkJsonShape(body, limits)).not.toThrow();
  });

  it('rejects a million empty objects after counting past the bound, not building them', () => {
    const body = `{"descriptors":[${Array(1_000_000).fill('{}').join(',')}]}`;
    expect(() => checkJsonShape(body, LIMITS)).toThrow(/more than 2177 JSON objects/);
  });
});
