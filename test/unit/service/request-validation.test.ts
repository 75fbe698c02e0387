import { describe, expect, it } from 'vitest';
import type { RateLimitRequest, RequestDescriptor } from '../../../src/core/descriptor.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { Unit } from '../../../src/core/units.js';
import { DEFAULT_REQUEST_LIMITS, validateRequest } from '../../../src/service/request-validation.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, request } from './service-fixture.js';

const ok = descriptor([['k', 'v']]);

function rejects(req: RateLimitRequest, message: string | RegExp): void {
  expect(() => validateRequest(req, DEFAULT_REQUEST_LIMITS)).toThrow(InvalidArgumentError);
  expect(() => validateRequest(req, DEFAULT_REQUEST_LIMITS)).toThrow(message);
}

function withEntry(key: string, value: string): RateLimitRequest {
  return request('d', [
    ok,
    {
      entries: [
        { key: 'a', value: 'b' },
        { key, value },
      ],
    },
  ]);
}

describe('validateRequest', () => {
  it('accepts a request at every size limit, an empty value and a descriptor with no entries', () => {
    const entries = Array.from({ length: 32 }, (_, i) => ({ key: `k${i}`, value: '' }));
    const full: RequestDescriptor = { entries };
    const big = descriptor([['k'.repeat(256), 'é'.repeat(512)]]);
    const req = request('d', [...Array.from({ length: 62 }, () => full), big, descriptor([])]);
    expect(() => validateRequest(req, DEFAULT_REQUEST_LIMITS)).not.toThrow();
  });

  it('rejects an empty domain first, with the reference text', () => {
    rejects(request('', []), /^rate limit domain must not be empty$/);
  });

  it('rejects an empty descriptor list with the reference text', () => {
    rejects(request('d', []), /^rate limit descriptor list must not be empty$/);
  });

  it('rejects more than 64 descriptors', () => {
    rejects(
      request(
        'd',
        Array.from({ length: 65 }, () => ok),
      ),
      'rate limit request has 65 descriptors; at most 64',
    );
  });

  it('rejects a descriptor with more than 32 entries, naming it', () => {
    const entries = Array.from({ length: 33 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    rejects(request('d', [ok, { entries }]), 'descriptor 1 has 33 entries; at most 32');
  });

  it('rejects an empty key, naming the descriptor and entry', () => {
    rejects(withEntry('', 'v'), 'descriptor 1 entry 1 has an empty key');
  });

  it('rejects a key over 256 UTF-8 bytes', () => {
    rejects(withEntry('é'.repeat(129), 'v'), 'descriptor 1 entry 1 key is 258 bytes; at most 256');
  });

  it('rejects a domain over 256 UTF-8 bytes and accepts one of 256', () => {
    expect(() => validateRequest(request('é'.repeat(128), [ok]), DEFAULT_REQUEST_LIMITS)).not.toThrow();
    rejects(request(`${'é'.repeat(128)}d`, [ok]), 'rate limit domain is 257 bytes; at most 256 are allowed');
  });

  it('rejects a value over 1024 UTF-8 bytes', () => {
    rejects(withEntry('k', '€'.repeat(342)), 'descriptor 1 entry 1 value is 1026 bytes; at most 1024');
  });

  it('applies the limits it is given', () => {
    const limits = { maxDescriptors: 1, maxEntries: 1, maxKeyBytes: 2, maxValueBytes: 2, maxDomainBytes: 2 };
    expect(() => validateRequest(request('d', [ok, ok]), limits)).toThrow('at most 1 are allowed');
    expect(() => validateRequest(request('d', [descriptor([['kkk', 'v']])]), limits)).toThrow(
      'key is 3 bytes',
    );
  });

  it.each([Number.NaN, 1.5, -1, 2 ** 32, Number.POSITIVE_INFINITY])(
    'rejects request hits_addend %s',
    (hits) => {
      rejects(
        request('d', [ok], hits),
        'rate limit request hits_addend must be an integer from 0 to 4294967295',
      );
    },
  );

  it.each([Number.NaN, 0.5, -2, 2 ** 53])('rejects descriptor hits_addend %s', (hits) => {
    rejects(
      request('d', [ok, descriptor([['k', 'v']], { hitsAddend: hits })]),
      'descriptor 1 hits_addend must be',
    );
  });

  it('rejects an override with an unknown unit', () => {
    const limit = { requestsPerUnit: 1, unit: 'UNKNOWN' as Unit };
    rejects(
      request('d', [descriptor([['k', 'v']], { limit })]),
      'descriptor 0 limit override has an invalid unit',
    );
  });

  it.each([Number.NaN, -1, 2.5, 2 ** 32])(
    'rejects an override with requests_per_unit %s',
    (requestsPerUnit) => {
      const limit = { requestsPerUnit, unit: 'SECOND' as Unit };
      rejects(
        request('d', [descriptor([['k', 'v']], { limit })]),
        'descriptor 0 limit override requests_per_unit',
      );
    },
  );

  it('is what the service runs first: a bad request never reaches the rules or the store', async () => {
    const rules = new TestRuleSet().add('d', [['k', 'v']]);
    const h = harness(rules);
    await expect(h.service.shouldRateLimit(request('d', [ok], -1))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(rules.matchCalls).toBe(0);
    expect(h.store.calls).toHaveLength(0);
  });

  it('reports an empty domain before a missing config', async () => {
    const h = harness(undefined);
    await expect(h.service.shouldRateLimit(request('', [ok]))).rejects.toThrow(
      'rate limit domain must not be empty',
    );
  });
});
