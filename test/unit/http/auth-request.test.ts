import { describe, expect, it } from 'vitest';
import type { DescriptorStatus, RateLimitResult } from '../../../src/core/decision.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import {
  authRequestFromHttp,
  authResponseFor,
  DEFAULT_OVER_LIMIT_STATUS,
  parseDescriptor,
  parseHits,
} from '../../../src/http/auth-request.js';

const entries = (...pairs: [string, string][]) => pairs.map(([key, value]) => ({ key, value }));

describe('authRequestFromHttp', () => {
  it('reads domain, one descriptor per X-RateLimit-Descriptor header and hits from headers', () => {
    const request = authRequestFromHttp(
      {
        'x-ratelimit-domain': ['edge'],
        'x-ratelimit-descriptor': ['remote_address=10.0.0.1, path=/a', 'tenant=acme'],
        'x-ratelimit-hits': ['5'],
      },
      '/auth',
    );
    expect(request).toEqual({
      domain: 'edge',
      descriptors: [
        { entries: entries(['remote_address', '10.0.0.1'], ['path', '/a']) },
        { entries: entries(['tenant', 'acme']) },
      ],
      hitsAddend: 5,
    });
  });

  it('reads domain, repeated descriptor= and hits from the query when headers are absent', () => {
    const request = authRequestFromHttp(
      {},
      '/auth?domain=ed%20ge&descriptor=a=1,b=2&descriptor=c=x%2Cy&hits=2',
    );
    expect(request).toEqual({
      domain: 'ed ge',
      descriptors: [{ entries: entries(['a', '1'], ['b', '2']) }, { entries: entries(['c', 'x,y']) }],
      hitsAddend: 2,
    });
  });

  it('prefers headers over the query for domain and hits, and takes descriptors from both', () => {
    const request = authRequestFromHttp(
      { 'x-ratelimit-domain': ['h'], 'x-ratelimit-descriptor': ['k=header'], 'x-ratelimit-hits': ['3'] },
      '/auth?domain=q&descriptor=k=query&hits=9',
    );
    expect(request.domain).toBe('h');
    expect(request.hitsAddend).toBe(3);
    expect(request.descriptors.map((d) => d.entries[0]?.value)).toEqual(['header', 'query']);
  });

  it('defaults hits to 0, which the service counts as 1', () => {
    const request = authRequestFromHttp(
      { 'x-ratelimit-domain': ['d'], 'x-ratelimit-descriptor': ['k=v'] },
      '/auth',
    );
    expect(request.hitsAddend).toBe(0);
  });

  it.each([
    ['no domain', {}, '/auth?descriptor=k=v', /missing domain/],
    ['a blank domain', { 'x-ratelimit-domain': ['  '] }, '/auth?descriptor=k=v', /missing domain/],
    ['no descriptor', { 'x-ratelimit-domain': ['d'] }, '/auth', /missing descriptor/],
    ['a pair without =', { 'x-ratelimit-domain': ['d'] }, '/auth?descriptor=k', /bad descriptor entry "k"/],
    [
      'bad hits',
      { 'x-ratelimit-domain': ['d'], 'x-ratelimit-hits': ['-1'] },
      '/auth?descriptor=k=v',
      /bad hits/,
    ],
    ['a bad escape in the domain', {}, '/auth?domain=%zz&descriptor=k=v', /bad percent-encoding in domain/],
  ])('rejects %s with an InvalidArgumentError naming the problem', (_, headers, url, message) => {
    expect(() => authRequestFromHttp(headers, url)).toThrow(InvalidArgumentError);
    expect(() => authRequestFromHttp(headers, url)).toThrow(message);
  });
});

describe('authRequestFromHttp bounds', () => {
  const limits = { maxDescriptors: 2, maxEntries: 2, maxKeyBytes: 8, maxValueBytes: 8, maxDomainBytes: 8 };

  it('accepts the limit of descriptors from headers and query together, and rejects one more before parsing any', () => {
    const headers = { 'x-ratelimit-domain': ['d'], 'x-ratelimit-descriptor': ['a=1'] };
    expect(authRequestFromHttp(headers, '/auth?descriptor=b=2', limits).descriptors).toHaveLength(2);
    expect(() => authRequestFromHttp(headers, '/auth?descriptor=b=2&descriptor=%ZZ', limits)).toThrow(
      new InvalidArgumentError(
        '3 descriptors (X-RateLimit-Descriptor headers and descriptor= query arguments); at most 2 are allowed',
      ),
    );
  });

  it('applies the entry limit to each descriptor, naming it', () => {
    const headers = { 'x-ratelimit-domain': ['d'], 'x-ratelimit-descriptor': ['a=1', 'a=1,b=2,c=3'] };
    expect(() => authRequestFromHttp(headers, '/auth', limits)).toThrow(
      'descriptor 1 entry 2: at most 2 entries per descriptor are allowed',
    );
  });
});

describe('parseDescriptor', () => {
  it('splits on commas and the first =, trims, and percent-decodes keys and values afterwards', () => {
    expect(parseDescriptor(' path = /a%2Cb%3Dc , q=x=y,user%20id=caf%C3%A9+1 ')).toEqual({
      entries: entries(['path', '/a,b=c'], ['q', 'x=y'], ['user id', 'café+1']),
    });
  });

  it('allows an empty value and skips empty items', () => {
    expect(parseDescriptor('a=, ,b=1,')).toEqual({ entries: entries(['a', ''], ['b', '1']) });
  });

  it('accepts 32 entries and stops at the 33rd, naming the descriptor (empty items not counted)', () => {
    const items = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v`).join(', ,');
    expect(parseDescriptor(items(32)).entries).toHaveLength(32);
    expect(() => parseDescriptor(items(33), 32, 4)).toThrow(
      new InvalidArgumentError('descriptor 4 entry 32: at most 32 entries per descriptor are allowed'),
    );
    expect(() => parseDescriptor('a=1,b=2', 1)).toThrow('entry 1: at most 1 entries');
  });

  it.each([
    ['=v', /bad descriptor entry "=v"/],
    ['k', /bad descriptor entry "k"/],
    [' , ', /empty descriptor/],
    ['k=%E0%A4%A', /bad percent-encoding in descriptor value/],
  ])('rejects %j', (text, message) => {
    expect(() => parseDescriptor(text)).toThrow(message);
  });
});

describe('parseHits', () => {
  it('accepts whole numbers from 0 to 2^32-1', () => {
    expect(parseHits('0')).toBe(0);
    expect(parseHits(' 7 ')).toBe(7);
    expect(parseHits('4294967295')).toBe(4_294_967_295);
  });

  it.each(['', '1.5', '1e3', '-1', '0x10', '4294967296', '99999999999'])('rejects %j', (text) => {
    expect(() => parseHits(text)).toThrow(/bad hits/);
  });
});

const limit = (requestsPerUnit: number) => ({ requestsPerUnit, unit: 'MINUTE' as const, name: '' });
const ok = (remaining: number, requestsPerUnit: number, reset: number): DescriptorStatus => ({
  code: 'OK',
  currentLimit: limit(requestsPerUnit),
  limitRemaining: remaining,
  durationUntilResetSeconds: reset,
});
const over = (requestsPerUnit: number, reset: number): DescriptorStatus => ({
  code: 'OVER_LIMIT',
  currentLimit: limit(requestsPerUnit),
  limitRemaining: 0,
  durationUntilResetSeconds: reset,
});
const unlimited: DescriptorStatus = { code: 'OK', limitRemaining: 4_294_967_295 };
/** A service result whose deciding status is `statuses[deciding]` (none when -1). */
const result = (
  statuses: DescriptorStatus[],
  deciding: number,
  extra: Partial<RateLimitResult> = {},
): RateLimitResult => ({
  overallCode: statuses.some((s) => s.code === 'OVER_LIMIT') ? 'OVER_LIMIT' : 'OK',
  statuses,
  responseHeadersToAdd: [],
  decidingStatus: statuses[deciding],
  ...extra,
});

describe('authResponseFor', () => {
  it('answers 200 with X-RateLimit-* of the deciding status and no Retry-After when allowed', () => {
    expect(authResponseFor(result([ok(7, 10, 30), ok(1, 3, 12)], 1), 403)).toEqual({
      status: 200,
      headers: { 'X-RateLimit-Limit': '3', 'X-RateLimit-Remaining': '1', 'X-RateLimit-Reset': '12' },
    });
  });

  it("describes the service's deciding status, not a pick of its own", () => {
    // the service decides which status the headers describe (the gRPC RateLimit-* headers' pick)
    expect(authResponseFor(result([ok(1, 3, 12), ok(7, 10, 30)], 1), 403).headers).toEqual({
      'X-RateLimit-Limit': '10',
      'X-RateLimit-Remaining': '7',
      'X-RateLimit-Reset': '30',
    });
    expect(authResponseFor(result([over(5, 20), over(3, 40)], 0), 429).headers).toMatchObject({
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Reset': '20',
    });
  });

  it("takes Retry-After from the service's retryAfterSeconds: when the whole request would pass", () => {
    // the deciding status frees up in 20 s, but another limit still refuses until 40 s
    const response = authResponseFor(result([over(5, 20), over(3, 40)], 0, { retryAfterSeconds: 40 }), 429);
    expect(response.headers).toMatchObject({ 'X-RateLimit-Reset': '20', 'Retry-After': '40' });
  });

  it('answers the configured status with Retry-After in whole seconds when over the limit', () => {
    expect(authResponseFor(result([ok(5, 10, 30), over(3, 42)], 1, { retryAfterSeconds: 42 }), 429)).toEqual({
      status: 429,
      headers: {
        'X-RateLimit-Limit': '3',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': '42',
        'Retry-After': '42',
      },
    });
    expect(authResponseFor(result([over(3, 42)], 0), DEFAULT_OVER_LIMIT_STATUS).status).toBe(403);
  });

  it('answers 200 without rate limit headers when no status decides (no limit applied)', () => {
    expect(authResponseFor(result([unlimited], -1), 403)).toEqual({ status: 200, headers: {} });
  });

  it('passes response_headers_to_add along, ours winning on a name clash', () => {
    const response = authResponseFor(
      result([ok(1, 3, 12)], 0, {
        responseHeadersToAdd: [
          { key: 'RateLimit-Policy', value: '3;w=60' },
          { key: 'x-ratelimit-limit', value: 'theirs' },
        ],
      }),
      403,
    );
    expect(response.headers).toEqual({
      'RateLimit-Policy': '3;w=60',
      'X-RateLimit-Limit': '3',
      'X-RateLimit-Remaining': '1',
      'X-RateLimit-Reset': '12',
    });
  });
});
