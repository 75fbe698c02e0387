import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SIGNAL_LIMITS,
  parseSignalBody,
  type SignalParseResult,
  validateErrorRateSample,
  validatePenalty,
} from '../../../../src/adaptive/signals/signal-body.js';

const limits = DEFAULT_SIGNAL_LIMITS;
const parse = (body: unknown, l = limits) =>
  parseSignalBody(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), l);

function reason(result: SignalParseResult, status: 400 | 413 = 400): string {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('accepted');
  expect(result.status).toBe(status);
  return result.reason;
}

const sample = { domain: 'api', controller: 'checkout-health', total: 100, errors: 37 };
const penalty = { domain: 'api', controller: 'abusers', value: '1.2.3.4', ttl: '10m', reason: 'waf' };

describe('parseSignalBody', () => {
  it("accepts DESIGN.md's error-rate sample", () => {
    expect(parse(sample)).toEqual({ ok: true, signal: { kind: 'error_rate', ...sample } });
  });

  it("accepts DESIGN.md's penalty, with the ttl in ms", () => {
    expect(parse(penalty)).toEqual({
      ok: true,
      signal: {
        kind: 'penalty',
        domain: 'api',
        controller: 'abusers',
        value: '1.2.3.4',
        ttlMs: 600_000,
        reason: 'waf',
      },
    });
  });

  it('accepts a penalty without a reason, and an empty value (descriptor values may be empty)', () => {
    const { reason: _r, ...noReason } = penalty;
    expect(parse({ ...noReason, value: '' })).toMatchObject({ ok: true, signal: { value: '', reason: '' } });
  });

  it('accepts total 0 (also written -0) and errors equal to total', () => {
    expect(parse({ ...sample, total: 0, errors: 0 }).ok).toBe(true);
    const minusZero = parse('{"domain":"a","controller":"c","total":-0,"errors":0}');
    expect(
      minusZero.ok && Object.is(minusZero.signal.kind === 'error_rate' && minusZero.signal.total, 0),
    ).toBe(true);
    expect(parse({ ...sample, errors: 100 }).ok).toBe(true);
  });

  it.each([
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['1.5s', 1_500],
    ['250ms', 250],
    ['24h', 86_400_000],
  ])('reads ttl %s as %i ms', (ttl, ms) => {
    expect(parse({ ...penalty, ttl })).toMatchObject({ ok: true, signal: { ttlMs: ms } });
  });

  describe('bounds', () => {
    it(`answers 413 for a body over maxBodyBytes (${limits.maxBodyBytes}), before parsing it`, () => {
      const l = { ...limits, maxBodyBytes: 10 };
      expect(reason(parseSignalBody(Buffer.from('{"a":[1,2]}'), l), 413)).toBe(
        'request body larger than 10 bytes',
      );
      expect(reason(parseSignalBody(Buffer.from('{"a":[1,2'), l))).toMatch(/^request body is not valid JSON/);
    });

    it('bounds domain and controller at maxNameBytes (UTF-8 bytes) and refuses them empty', () => {
      expect(parse({ ...sample, domain: 'd'.repeat(256) }).ok).toBe(true);
      expect(reason(parse({ ...sample, domain: 'd'.repeat(257) }))).toBe(
        'domain is 257 bytes; at most 256 are allowed',
      );
      expect(reason(parse({ ...sample, controller: 'é'.repeat(129) }))).toBe(
        'controller is 258 bytes; at most 256 are allowed',
      );
      expect(reason(parse({ ...sample, domain: '' }))).toBe('domain must not be empty');
      expect(reason(parse({ ...penalty, controller: '' }))).toBe('controller must not be empty');
    });

    it('bounds the penalty value at maxValueBytes and the reason at maxReasonBytes', () => {
      expect(parse({ ...penalty, value: 'v'.repeat(1024) }).ok).toBe(true);
      expect(reason(parse({ ...penalty, value: 'v'.repeat(1025) }))).toBe(
        'value is 1025 bytes; at most 1024 are allowed',
      );
      expect(reason(parse({ ...penalty, reason: 'r'.repeat(257) }))).toBe(
        'reason is 257 bytes; at most 256 are allowed',
      );
    });

    it('wants total and errors as integers from 0 to maxSampleTotal, errors ≤ total', () => {
      const max = limits.maxSampleTotal;
      expect(parse({ ...sample, total: max, errors: max }).ok).toBe(true);
      expect(reason(parse({ ...sample, total: max + 1 }))).toBe(
        `total must be an integer from 0 to ${max}, got ${max + 1}`,
      );
      expect(reason(parse({ ...sample, errors: -1 }))).toBe(
        `errors must be an integer from 0 to ${max}, got -1`,
      );
      expect(reason(parse({ ...sample, total: 1.5 }))).toBe(
        `total must be an integer from 0 to ${max}, got 1.5`,
      );
      expect(reason(parse({ ...sample, total: '100' }))).toBe(
        `total must be an integer from 0 to ${max}, got string`,
      );
      expect(reason(parse('{"domain":"a","controller":"c","total":1e400,"errors":0}'))).toBe(
        `total must be an integer from 0 to ${max}, got Infinity`,
      );
      expect(reason(parse({ ...sample, total: 10, errors: 11 }))).toBe(
        'errors (11) must not be more than total (10)',
      );
    });

    it('wants ttl as a positive Go-style duration of at most maxPenaltyTtlMs', () => {
      expect(reason(parse({ ...penalty, ttl: '24h1ms' }))).toBe('ttl is 24h1ms; at most 24h is allowed');
      expect(reason(parse({ ...penalty, ttl: '91s' }, { ...limits, maxPenaltyTtlMs: 90_000 }))).toBe(
        'ttl is 91s; at most 90s is allowed',
      );
      expect(reason(parse({ ...penalty, ttl: '0s' }))).toBe('ttl must be more than 0');
      expect(reason(parse({ ...penalty, ttl: 600 }))).toBe('ttl must be a duration string such as "10m"');
      for (const ttl of ['', '10', 'm', '10d', '-1s', '1 h', ' 1h', '1h ', '1e3s', `${'1'.repeat(40)}s`]) {
        expect(reason(parse({ ...penalty, ttl })), ttl).toMatch(
          /^ttl must be a duration such as 90s, 10m or 1h30m/,
        );
      }
    });
  });

  describe('shape', () => {
    it.each([
      ['null', 'a signal must be a JSON object'],
      ['[]', 'a signal must be a JSON object'],
      ['"x"', 'a signal must be a JSON object'],
      ['{}', 'a signal needs total and errors (an error-rate sample) or value and ttl (a penalty)'],
      [
        '{"domain":"a","controller":"c"}',
        'a signal needs total and errors (an error-rate sample) or value and ttl (a penalty)',
      ],
    ])('refuses %s', (body, message) => {
      expect(reason(parse(body))).toBe(message);
    });

    it('refuses a body mixing both signals', () => {
      expect(reason(parse({ ...sample, ttl: '1m' }))).toBe(
        'a signal is an error-rate sample (total, errors) or a penalty (value, ttl, reason), not both',
      );
    });

    it('refuses unknown fields, naming them (cut at 64 characters)', () => {
      expect(reason(parse({ ...sample, totl: 1 }))).toBe(
        'unknown field "totl"; this signal has domain, controller, total, errors',
      );
      expect(reason(parse('{"__proto__":{},"value":"v","ttl":"1s","domain":"a","controller":"c"}'))).toMatch(
        /^unknown field "__proto__"/,
      );
      expect(reason(parse({ ...penalty, ['k'.repeat(1000)]: 1 }))).toBe(
        `unknown field "${'k'.repeat(64)}…"; this signal has domain, controller, value, ttl, reason`,
      );
    });

    it('names a missing or mistyped field', () => {
      const { errors: _e, ...noErrors } = sample;
      expect(reason(parse(noErrors))).toBe('errors is required');
      const { ttl: _t, ...noTtl } = penalty;
      expect(reason(parse(noTtl))).toBe('ttl is required');
      const { domain: _d, ...noDomain } = penalty;
      expect(reason(parse(noDomain))).toBe('domain is required');
      expect(reason(parse({ ...penalty, value: 5 }))).toBe('value must be a string');
    });

    it('refuses bytes that are not UTF-8 or not JSON', () => {
      expect(reason(parseSignalBody(Buffer.from([0x7b, 0xff, 0x7d])))).toBe(
        'request body is not valid JSON: it is not valid UTF-8',
      );
      expect(reason(parse('{"domain":'))).toMatch(/^request body is not valid JSON: /);
    });
  });
});

describe('the gRPC form', () => {
  it('applies the same checks to decoded messages', () => {
    expect(validateErrorRateSample(sample)).toEqual({ ok: true, signal: { kind: 'error_rate', ...sample } });
    expect(reason(validateErrorRateSample({ ...sample, errors: 101 }))).toBe(
      'errors (101) must not be more than total (100)',
    );
    expect(validatePenalty({ ...penalty, reason: '' })).toMatchObject({ ok: true, signal: { reason: '' } });
    expect(reason(validatePenalty({ ...penalty, ttl: '' }))).toMatch(/^ttl must be a duration/);
  });
});
