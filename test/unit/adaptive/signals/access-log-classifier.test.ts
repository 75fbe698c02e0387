import { describe, expect, it } from 'vitest';
import {
  classifyEntry,
  type ErrorSampleKey,
  recordSummary,
  sampleMatches,
  summarizeEntries,
} from '../../../../src/adaptive/signals/access-log-classifier.js';
import { type AccessLogEntry, flagBit, RESPONSE_FLAG } from '../../../../src/grpc/access-log-decoder.js';

type FlagName = keyof typeof RESPONSE_FLAG;

function entry(code: number, flags: FlagName[] = [], key: Partial<ErrorSampleKey> = {}): AccessLogEntry {
  return {
    upstreamCluster: key.upstreamCluster ?? 'checkout',
    routeName: key.routeName ?? '',
    authority: key.authority ?? '',
    authorityTooLong: false,
    responseCode: code,
    responseFlags: flags.reduce((bits, f) => bits | flagBit(RESPONSE_FLAG[f]), 0),
  };
}

const UPSTREAM_FAILURES: FlagName[] = [
  'upstream_connection_failure',
  'upstream_connection_termination',
  'upstream_remote_reset',
  'upstream_overflow',
  'upstream_request_timeout',
  'upstream_max_stream_duration_reached',
  'no_healthy_upstream',
  'upstream_retry_limit_exceeded',
  'upstream_protocol_error',
];

describe('classifyEntry', () => {
  it.each([500, 502, 503, 504, 599])('counts response code %i as an error', (code) => {
    expect(classifyEntry(entry(code))).toBe('error');
  });

  it.each([0, 200, 204, 301, 404, 499, 600, 4_294_967_295])(
    'counts response code %i without flags as ok',
    (code) => {
      expect(classifyEntry(entry(code))).toBe('ok');
    },
  );

  it('counts an upstream 429 apart, not as an error', () => {
    expect(classifyEntry(entry(429))).toBe('upstream429');
  });

  it.each(UPSTREAM_FAILURES)('counts flag %s as an error whatever the code (even none, even 200)', (flag) => {
    expect(classifyEntry(entry(0, [flag]))).toBe('error');
    expect(classifyEntry(entry(200, [flag]))).toBe('error');
    expect(classifyEntry(entry(429, [flag]))).toBe('error');
  });

  it('counts no other flag as an upstream failure', () => {
    const others = (Object.keys(RESPONSE_FLAG) as FlagName[]).filter(
      (f) => !UPSTREAM_FAILURES.includes(f) && f !== 'rate_limited' && f !== 'rate_limit_service_error',
    );
    expect(others).toHaveLength(16);
    for (const flag of others) expect(classifyEntry(entry(0, [flag])), flag).toBe('ok');
  });

  it("skips the rate limiter's own answers: RL 429s and RLSE 500s, even with upstream failure flags", () => {
    expect(classifyEntry(entry(429, ['rate_limited']))).toBe('skipped');
    expect(classifyEntry(entry(500, ['rate_limit_service_error']))).toBe('skipped');
    expect(classifyEntry(entry(503, ['rate_limited', 'upstream_overflow']))).toBe('skipped');
  });
});

describe('summarizeEntries', () => {
  it('groups by (upstream_cluster, route_name, authority) with totals, errors and upstream 429s', () => {
    const a = { upstreamCluster: 'checkout', routeName: 'pay', authority: 'shop' };
    const b = { upstreamCluster: 'checkout', routeName: '', authority: '' };
    const summary = summarizeEntries([
      entry(200, [], a),
      entry(503, [], a),
      entry(429, [], a),
      entry(0, ['upstream_request_timeout'], a),
      entry(200, [], b),
      entry(429, ['rate_limited'], b),
      { ...entry(200, [], b), authorityTooLong: true },
    ]);
    expect(summary).toEqual({
      samples: [
        { key: a, total: 4, errors: 2, upstream429: 1 },
        { key: b, total: 2, errors: 0, upstream429: 0 },
      ],
      skipped: 1,
      authorityTooLong: 1,
    });
  });

  it('never merges two keys whose concatenations are equal', () => {
    const summary = summarizeEntries([
      entry(200, [], { upstreamCluster: 'ab', routeName: 'c' }),
      entry(200, [], { upstreamCluster: 'a', routeName: 'bc' }),
      entry(200, [], { upstreamCluster: 'a', routeName: 'b', authority: 'c' }),
      entry(200, [], { upstreamCluster: '1:a', routeName: '' }),
    ]);
    expect(summary.samples).toHaveLength(4);
  });

  it('feeds the sink one record per key', () => {
    const calls: unknown[] = [];
    const sink = { record: (...args: unknown[]) => calls.push(args) };
    recordSummary(summarizeEntries([entry(500), entry(200), entry(429, [], { routeName: 'r' })]), sink);
    expect(calls).toEqual([
      [{ upstreamCluster: 'checkout', routeName: '', authority: '' }, 2, 1, 0],
      [{ upstreamCluster: 'checkout', routeName: 'r', authority: '' }, 1, 0, 1],
    ]);
  });
});

describe('sampleMatches', () => {
  const key = { upstreamCluster: 'checkout', routeName: 'pay', authority: 'shop.example' };

  it('matches when every named field is equal', () => {
    expect(sampleMatches({ upstreamCluster: 'checkout' }, key)).toBe(true);
    expect(sampleMatches({ routeName: 'pay' }, key)).toBe(true);
    expect(sampleMatches({ authority: 'shop.example' }, key)).toBe(true);
    expect(
      sampleMatches({ upstreamCluster: 'checkout', routeName: 'pay', authority: 'shop.example' }, key),
    ).toBe(true);
  });

  it('does not match when any named field differs, or when the match names nothing', () => {
    expect(sampleMatches({ upstreamCluster: 'checkout', routeName: 'other' }, key)).toBe(false);
    expect(sampleMatches({ authority: 'SHOP.example' }, key)).toBe(false);
    expect(sampleMatches({}, key)).toBe(false);
  });
});
