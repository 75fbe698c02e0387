import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbuseDetector, DEFAULT_ABUSE_DETECTOR_ENTRIES } from '../../../src/adaptive/abuse-detector.js';
import { type AbuseInput, abuseParams } from '../../../src/adaptive/controller-params.js';
import { ManualClock } from '../../support/manual-clock.js';

const INTERVAL = 10_000;

function setup(input: Partial<AbuseInput> = {}, maxEntries?: number) {
  const params = abuseParams({
    name: 'abusers',
    overLimitRatio: 0.5,
    spike: 10,
    minRequests: 50,
    intervalMs: INTERVAL,
    ...input,
  });
  const clock = new ManualClock(1_000_000);
  const detector = new AbuseDetector(params, maxEntries === undefined ? {} : { maxEntries });
  /** Observes `total` decisions for `value` now, the first `overLimit` of them OVER_LIMIT. */
  const send = (value: string, total: number, overLimit = 0) => {
    for (let i = 0; i < total; i++) detector.observe(value, i < overLimit, clock.nowMs());
  };
  /** Moves to the next interval and collects the offenders of the one that closed. */
  const next = () => {
    clock.advance(INTERVAL);
    return detector.offenders(clock.nowMs());
  };
  return { clock, detector, send, next };
}

describe('AbuseDetector', () => {
  it('reports a value whose OVER_LIMIT share exceeds over_limit_ratio, with its counts', () => {
    const { detector, clock, send, next } = setup();
    const start = Math.floor(clock.nowMs() / INTERVAL) * INTERVAL;
    send('1.2.3.4', 100, 51);
    send('5.6.7.8', 100, 50);
    expect(next()).toEqual([
      {
        value: '1.2.3.4',
        reason: 'over_limit_ratio',
        intervalStartMs: start,
        total: 100,
        overLimit: 51,
        baseline: undefined,
      },
    ]);
    expect(detector.offenders(clock.nowMs())).toEqual([]);
  });

  it('ignores a value below min_requests, however high its share', () => {
    const { send, next } = setup();
    send('v', 49, 49);
    expect(next()).toEqual([]);
  });

  it('reports a spike above spike × baseline only once a baseline exists', () => {
    const { send, next } = setup();
    send('v', 60);
    expect(next()).toEqual([]);
    send('v', 10);
    expect(next()).toEqual([]);
    // baseline = 60 + 0.2 × (10 − 60) = 50: 500 is not above 10×, 501 is
    send('v', 500);
    expect(next()).toEqual([]);
    const { send: send2, next: next2 } = setup();
    send2('w', 50);
    next2();
    send2('w', 501);
    expect(next2()).toMatchObject([{ value: 'w', reason: 'spike', total: 501, baseline: 50 }]);
  });

  it('does not fold an offending interval into the baseline, so a sustained burst stays a spike', () => {
    const { send, next } = setup();
    send('v', 10);
    next();
    for (let i = 0; i < 3; i++) {
      send('v', 200);
      expect(next()).toMatchObject([{ reason: 'spike', baseline: 10 }]);
    }
  });

  it('keeps the baseline over idle intervals: a client back at its usual rate is not a spike', () => {
    const { clock, send, next } = setup();
    send('v', 60);
    next();
    clock.advance(INTERVAL * 360);
    send('v', 60);
    expect(next()).toEqual([]);
  });

  it('closes a value interval lazily on its next observe, reporting it at the next offenders()', () => {
    const { clock, detector, send } = setup();
    send('v', 100, 100);
    clock.advance(INTERVAL * 2);
    detector.observe('v', false, clock.nowMs());
    expect(detector.offenders(clock.nowMs())).toMatchObject([{ value: 'v', total: 100 }]);
  });

  it('bounds memory with 1,000,000 distinct values to the default 100,000, evicting the least recently seen', () => {
    const { clock, detector } = setup();
    for (let i = 0; i < 1_000_000; i++) detector.observe(`10.${i}`, true, clock.nowMs());
    expect(DEFAULT_ABUSE_DETECTOR_ENTRIES).toBe(100_000);
    expect(detector.size).toBe(100_000);
    expect(detector.evictions).toBe(900_000);
    detector.observe('10.0', false, clock.nowMs());
    expect(detector.evictions).toBe(900_001);
  });

  it('reports only values with ≥ min_requests, and only ratio or spike offences (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 120 }), fc.nat(120)), {
            maxLength: 4,
          }),
          { maxLength: 12 },
        ),
        (intervals) => {
          const { send, next } = setup({ minRequests: 20 });
          for (const interval of intervals) {
            for (const [value, total, over] of interval) send(value, total, Math.min(over, total));
            for (const offender of next()) {
              expect(offender.total).toBeGreaterThanOrEqual(20);
              const byRatio = offender.overLimit / offender.total > 0.5;
              const bySpike = offender.baseline !== undefined && offender.total > 10 * offender.baseline;
              expect(byRatio || bySpike).toBe(true);
            }
          }
        },
      ),
    );
  });
});
