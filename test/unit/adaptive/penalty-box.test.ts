import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { abuseParams, type PenaltyParams } from '../../../src/adaptive/controller-params.js';
import { DEFAULT_PENALTY_BOX_ENTRIES, PenaltyBox } from '../../../src/adaptive/penalty-box.js';
import { ManualClock } from '../../support/manual-clock.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function setup(penalty: Partial<PenaltyParams> = {}, maxEntries?: number) {
  const params = abuseParams({
    name: 'abusers',
    penalty: { factor: 0.1, ttlMs: MINUTE, escalate: 2, maxTtlMs: HOUR, ...penalty },
  });
  const clock = new ManualClock(1_000_000);
  const box = new PenaltyBox(params.penalty, maxEntries === undefined ? {} : { maxEntries });
  return { clock, box };
}

describe('PenaltyBox', () => {
  it('applies penalty.factor to a flagged value for ttl, and 1 to every other value', () => {
    const { clock, box } = setup();
    box.flag('1.2.3.4', clock.nowMs(), { reason: 'spike' });
    expect(box.factorFor('1.2.3.4', clock.nowMs())).toBe(0.1);
    expect(box.factorFor('5.6.7.8', clock.nowMs())).toBe(1);
    clock.advance(MINUTE - 1);
    expect(box.factorFor('1.2.3.4', clock.nowMs())).toBe(0.1);
    clock.advance(1);
    expect(box.factorFor('1.2.3.4', clock.nowMs())).toBe(1);
  });

  it('blocks with factor 0', () => {
    const { clock, box } = setup({ factor: 0 });
    box.flag('1.2.3.4', clock.nowMs(), { reason: 'waf' });
    expect(box.factorFor('1.2.3.4', clock.nowMs())).toBe(0);
  });

  it('doubles the ttl per repeat offence (1, 2, 4, 8 min …) and caps it at max_ttl', () => {
    const { clock, box } = setup();
    const ttls: number[] = [];
    for (let i = 0; i < 9; i++) {
      const { expiresAtMs } = box.flag('v', clock.nowMs(), { reason: 'spike' });
      ttls.push((expiresAtMs - clock.nowMs()) / MINUTE);
      clock.set(expiresAtMs + 1);
    }
    expect(ttls).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
  });

  it('forgets the offences once max_ttl has passed since the last penalty ended', () => {
    const { clock, box } = setup();
    const first = box.flag('v', clock.nowMs(), { reason: 'spike' });
    clock.set(first.expiresAtMs + HOUR - 1);
    expect(box.flag('v', clock.nowMs(), { reason: 'spike' }).offences).toBe(2);
    const second = box.flag('w', clock.nowMs(), { reason: 'spike' });
    clock.set(second.expiresAtMs + HOUR);
    expect(box.flag('w', clock.nowMs(), { reason: 'spike' })).toMatchObject({
      offences: 1,
      newOffence: true,
    });
  });

  it('extends a boxed value instead of escalating when it is flagged again', () => {
    const { clock, box } = setup();
    box.flag('v', clock.nowMs(), { reason: 'spike' });
    clock.advance(30_000);
    const again = box.flag('v', clock.nowMs(), { reason: 'over_limit_ratio' });
    expect(again).toEqual({ expiresAtMs: clock.nowMs() + MINUTE, offences: 1, newOffence: false });
    expect(box.snapshot(clock.nowMs()).entries[0]).toMatchObject({ reason: 'over_limit_ratio', offences: 1 });
  });

  it('never shortens a penalty, and takes an explicit ttl as given', () => {
    const { clock, box } = setup();
    const long = box.flag('v', clock.nowMs(), { ttlMs: 10 * HOUR, reason: 'waf' });
    expect(long.expiresAtMs).toBe(clock.nowMs() + 10 * HOUR);
    expect(box.flag('v', clock.nowMs(), { reason: 'spike' }).expiresAtMs).toBe(long.expiresAtMs);
  });

  it('lists boxed values with factor, expiry, reason and offences, bounded, and skips expired ones', () => {
    const { clock, box } = setup();
    box.flag('old', clock.nowMs(), { reason: 'spike' });
    clock.advance(MINUTE);
    for (const v of ['a', 'b', 'c']) box.flag(v, clock.nowMs(), { reason: 'waf' });
    const snapshot = box.snapshot(clock.nowMs(), 2);
    expect(snapshot).toMatchObject({ boxed: 3, truncated: true, size: 4, evictions: 0 });
    expect(snapshot.entries).toEqual([
      { value: 'a', factor: 0.1, expiresAtMs: clock.nowMs() + MINUTE, reason: 'waf', offences: 1 },
      { value: 'b', factor: 0.1, expiresAtMs: clock.nowMs() + MINUTE, reason: 'waf', offences: 1 },
    ]);
  });

  it('drops forgotten values lazily, on read and on the next flags', () => {
    const { clock, box } = setup();
    box.flag('a', clock.nowMs(), { reason: 'spike' });
    box.flag('b', clock.nowMs(), { reason: 'spike' });
    clock.advance(MINUTE + HOUR);
    expect(box.factorFor('a', clock.nowMs())).toBe(1);
    expect(box.size).toBe(1);
    box.flag('c', clock.nowMs(), { reason: 'spike' });
    expect(box.size).toBe(1);
  });

  it('stays within maxEntries with 1,000,000 distinct values, dropping the least recently flagged', () => {
    const { clock, box } = setup({}, 1_000);
    for (let i = 0; i < 1_000_000; i++) box.flag(`10.${i}`, clock.nowMs(), { reason: 'spike' });
    expect(box.size).toBe(1_000);
    expect(box.snapshot(clock.nowMs(), 0)).toMatchObject({ boxed: 1_000, evictions: 999_000 });
    expect(box.factorFor('10.0', clock.nowMs())).toBe(1);
    expect(box.factorFor('10.999999', clock.nowMs())).toBe(0.1);
    expect(new PenaltyBox(setup().box.penalty).snapshot(0).size).toBe(0);
    expect(DEFAULT_PENALTY_BOX_ENTRIES).toBe(100_000);
  });

  it('answers only 1 or penalty.factor, and boxed ⇔ an unexpired flag, for any sequence (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.array(
          fc.record({
            value: fc.constantFrom('a', 'b', 'c'),
            advance: fc.integer({ min: 0, max: 3 * HOUR }),
            flag: fc.boolean(),
          }),
          { maxLength: 80 },
        ),
        (factor, steps) => {
          const { clock, box } = setup({ factor }, 2);
          for (const step of steps) {
            clock.advance(step.advance);
            if (step.flag) box.flag(step.value, clock.nowMs(), { reason: 'spike' });
            const answer = box.factorFor(step.value, clock.nowMs());
            expect([1, factor]).toContain(answer);
            if (step.flag) expect(answer).toBe(factor);
            expect(box.size).toBeLessThanOrEqual(2);
          }
        },
      ),
    );
  });
});
