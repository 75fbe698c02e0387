import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorRateInput, errorRateParams } from '../../../src/adaptive/controller-params.js';
import { ErrorRateController, nextFactor } from '../../../src/adaptive/error-rate-controller.js';
import { ManualClock } from '../../support/manual-clock.js';

const INTERVAL = 5_000;

function setup(input: Partial<ErrorRateInput> = {}) {
  const params = errorRateParams({
    name: 'checkout-health',
    errorThreshold: 0.2,
    minSamples: 20,
    intervalMs: INTERVAL,
    decrease: 0.5,
    increase: 0.1,
    floor: 0.1,
    ...input,
  });
  const clock = new ManualClock(1_000_000);
  const controller = new ErrorRateController(params, clock.nowMs());
  /** Records one interval's samples at the current time, then moves to the next interval. */
  const interval = (total: number, errors: number) => {
    controller.record(total, errors, clock.nowMs());
    clock.advance(INTERVAL);
    return controller.factor(clock.nowMs());
  };
  return { params, clock, controller, interval };
}

describe('nextFactor', () => {
  const params = errorRateParams({ name: 'x', errorThreshold: 0.2, minSamples: 20, floor: 0.1 });

  it('multiplies by decrease when the error ratio is above the threshold', () => {
    expect(nextFactor(1, { total: 100, errors: 21 }, params)).toEqual({ factor: 0.5, decision: 'decrease' });
  });

  it('treats a ratio exactly at the threshold as healthy', () => {
    expect(nextFactor(0.5, { total: 100, errors: 20 }, params)).toEqual({
      factor: 0.6,
      decision: 'increase',
    });
  });

  it('holds at 1 on a healthy interval', () => {
    expect(nextFactor(1, { total: 100, errors: 0 }, params)).toEqual({ factor: 1, decision: 'hold' });
  });

  it('changes nothing below min_samples, however bad the ratio', () => {
    expect(nextFactor(0.5, { total: 19, errors: 19 }, params)).toEqual({
      factor: 0.5,
      decision: 'insufficient_samples',
    });
  });
});

describe('ErrorRateController', () => {
  it('starts at 1 and halves the factor after a bad interval closes', () => {
    const { controller, interval } = setup();
    expect(controller.snapshot()).toMatchObject({ factor: 1, decision: 'hold', lastInterval: undefined });
    expect(interval(100, 50)).toBe(0.5);
    expect(controller.snapshot()).toMatchObject({
      factor: 0.5,
      decision: 'decrease',
      lastInterval: { samples: 100, errors: 50, ratio: 0.5 },
    });
  });

  it('does not apply an interval before it has closed', () => {
    const { controller, clock } = setup();
    controller.record(100, 100, clock.nowMs());
    clock.advance(INTERVAL - 1);
    expect(controller.factor(clock.nowMs())).toBe(1);
    clock.advance(1);
    expect(controller.factor(clock.nowMs())).toBe(0.5);
  });

  it('never goes below the floor, and keeps reporting decrease while pinned there', () => {
    const { controller, interval } = setup({ floor: 0.2 });
    expect([1, 2, 3, 4].map(() => interval(100, 100))).toEqual([0.5, 0.25, 0.2, 0.2]);
    expect(controller.snapshot()).toMatchObject({ factor: 0.2, decision: 'decrease' });
  });

  it('adds increase per healthy interval up to exactly 1, then holds', () => {
    const { controller, interval } = setup();
    for (let i = 0; i < 5; i++) interval(100, 100);
    expect(controller.snapshot().factor).toBe(0.1);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) seen.push(interval(100, 0));
    expect(seen).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1]);
    expect(controller.snapshot().decision).toBe('hold');
  });

  it('holds the factor on an interval with too few samples', () => {
    const { controller, interval } = setup();
    interval(100, 100);
    expect(interval(19, 19)).toBe(0.5);
    expect(controller.snapshot()).toMatchObject({
      decision: 'insufficient_samples',
      lastInterval: { samples: 19 },
    });
  });

  it('closes several elapsed intervals at once: the one with samples decides, the idle ones hold', () => {
    const { controller, clock } = setup();
    const start = controller.intervalStart(clock.nowMs());
    controller.record(100, 50, clock.nowMs());
    clock.advance(INTERVAL * 7);
    expect(controller.factor(clock.nowMs())).toBe(0.5);
    expect(controller.snapshot()).toMatchObject({
      decision: 'insufficient_samples',
      sinceMs: start + INTERVAL,
      lastInterval: { startMs: start + INTERVAL * 6, samples: 0 },
    });
  });

  it('does not recover the factor while idle, and recovers once healthy traffic returns', () => {
    const { controller, clock, interval } = setup();
    interval(100, 100);
    clock.advance(INTERVAL * 1_000);
    expect(controller.factor(clock.nowMs())).toBe(0.5);
    interval(100, 0);
    expect(interval(100, 0)).toBe(0.7);
  });

  it('computes the same factors in shadow mode (shadow is applied by the decorator)', () => {
    const live = setup();
    const shadow = setup({ shadowMode: true });
    const script: Array<[number, number]> = [
      [100, 80],
      [10, 10],
      [100, 10],
      [100, 50],
      [100, 0],
    ];
    expect(script.map(([t, e]) => shadow.interval(t, e))).toEqual(
      script.map(([t, e]) => live.interval(t, e)),
    );
  });

  it('applies an interval closed by a shared store once, whatever the local samples were', () => {
    const { params, clock } = setup();
    const controller = new ErrorRateController(params, clock.nowMs(), { closeOnRead: false });
    const start = controller.intervalStart(clock.nowMs());
    controller.record(100, 0, clock.nowMs());
    clock.advance(INTERVAL * 3);
    expect(controller.factor(clock.nowMs())).toBe(1);
    expect(controller.closeInterval(start, { total: 300, errors: 90 })).toBe(true);
    expect(controller.closeInterval(start, { total: 300, errors: 90 })).toBe(false);
    expect(controller.closeInterval(start - INTERVAL, { total: 300, errors: 90 })).toBe(false);
    expect(controller.factor(clock.nowMs())).toBe(0.5);
    expect(controller.snapshot().lastInterval).toEqual({
      startMs: start,
      samples: 300,
      errors: 90,
      ratio: 0.3,
    });
  });

  it('ignores negative, zero and non-finite sample counts, and caps errors at the total', () => {
    const { controller, clock } = setup();
    controller.record(-5, 0, clock.nowMs());
    controller.record(Number.NaN, 0, clock.nowMs());
    controller.record(Number.POSITIVE_INFINITY, 1, clock.nowMs());
    controller.record(30, 50, clock.nowMs());
    expect(controller.snapshot().current).toMatchObject({ samples: 30, errors: 30 });
  });

  it('keeps the factor within [floor, 1] for any sequence of intervals and parameters (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          errorThreshold: fc.double({ min: 0, max: 1, noNaN: true }),
          minSamples: fc.integer({ min: 1, max: 50 }),
          decrease: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
          increase: fc.double({ min: 0.001, max: 2, noNaN: true }),
          floor: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 200 }),
            fc.integer({ min: 0, max: 200 }),
            fc.integer({ min: 0, max: 4 }),
          ),
          { maxLength: 60 },
        ),
        (input, steps) => {
          const { controller, clock } = setup(input);
          for (const [total, errors, skip] of steps) {
            controller.record(total, errors, clock.nowMs());
            clock.advance(INTERVAL * (1 + skip));
            const factor = controller.factor(clock.nowMs());
            expect(factor).toBeGreaterThanOrEqual(input.floor);
            expect(factor).toBeLessThanOrEqual(1);
          }
        },
      ),
    );
  });
});
