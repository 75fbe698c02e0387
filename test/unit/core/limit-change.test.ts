import { describe, expect, it } from 'vitest';
import type { LimitParams } from '../../../src/core/algorithm.js';
import { hitRepeatedly, model, T0 } from './model-driver.js';

const fixedWindow = model('fixed_window');
const slidingWindow = model('sliding_window');
const slidingLog = model('sliding_log');
const tokenBucket = model('token_bucket');

/**
 * A hot reload can change requests_per_unit or burst while state exists (the
 * counter key carries the algorithm and unit, so changing those starts a new
 * counter). These pin what each model does with the old state under the new
 * limit, as docs/algorithms.md states it.
 */
function perMinute(requestsPerUnit: number): LimitParams {
  return { requestsPerUnit, unitMs: 60_000, burst: requestsPerUnit };
}

describe('a limit changed while state exists', () => {
  it('fixed_window keeps its count: a lower limit is already exceeded, a higher one adds the difference', () => {
    const { state } = hitRepeatedly('fixed_window', perMinute(10), undefined, 8, T0);
    expect(fixedWindow.evaluate(state, perMinute(5), 1, T0 + 1_000)).toMatchObject({
      admitted: false,
      remainingIfNotCharged: 0,
    });
    expect(fixedWindow.evaluate(state, perMinute(20), 1, T0 + 1_000)).toMatchObject({
      admitted: true,
      remainingIfCharged: 11,
    });
  });

  it('fixed_window: raising the limit does not help while rejected hits counted past it (reference issue #185)', () => {
    const { state, admitted } = hitRepeatedly('fixed_window', perMinute(10), undefined, 15, T0);
    expect(admitted).toBe(10);
    expect(fixedWindow.evaluate(state, perMinute(12), 1, T0 + 1_000).admitted).toBe(false);
    expect(fixedWindow.evaluate(state, perMinute(16), 1, T0 + 1_000).admitted).toBe(true);
  });

  it('sliding_window keeps both counts and weighs them against the new limit', () => {
    const { state } = hitRepeatedly('sliding_window', perMinute(10), undefined, 8, T0);
    expect(slidingWindow.evaluate(state, perMinute(5), 1, T0 + 1_000).admitted).toBe(false);
    expect(slidingWindow.evaluate(state, perMinute(20), 1, T0 + 1_000).remainingIfCharged).toBe(11);
    // next window: 8 × 0.5 = 4 from the previous window against the new limit of 5
    expect(slidingWindow.evaluate(state, perMinute(5), 1, T0 + 90_000).admitted).toBe(true);
    expect(slidingWindow.evaluate(state, perMinute(5), 2, T0 + 90_000).admitted).toBe(false);
  });

  it('sliding_log keeps its events: a lower limit admits again once enough of them have aged out', () => {
    let state: unknown;
    for (let i = 0; i < 8; i++)
      state = hitRepeatedly('sliding_log', perMinute(10), state, 1, T0 + i * 1_000).state;
    const lower = slidingLog.evaluate(state, perMinute(5), 1, T0 + 10_000);
    // 8 events in the log; 4 must leave: the 4th (T0 + 3 s) leaves at T0 + 63 s
    expect(lower).toMatchObject({ admitted: false, retryAfterMs: 53_000 });
    expect(slidingLog.evaluate(state, perMinute(20), 12, T0 + 10_000).admitted).toBe(true);
    expect(slidingLog.evaluate(state, perMinute(20), 13, T0 + 10_000).admitted).toBe(false);
  });

  it('token_bucket keeps its TAT: a bigger burst applies at once', () => {
    const small = { requestsPerUnit: 10, unitMs: 1_000, burst: 10 };
    const { state } = hitRepeatedly('token_bucket', small, undefined, 10, T0);
    expect(state).toEqual({ tatMs: T0 + 1_000 });
    const bigger = { ...small, burst: 20 };
    expect(hitRepeatedly('token_bucket', bigger, state, 11, T0).admitted).toBe(10);
  });

  it('token_bucket under a smaller burst stays over-full, rejecting until it drains below the new capacity', () => {
    const large = { requestsPerUnit: 10, unitMs: 1_000, burst: 20 };
    const { state } = hitRepeatedly('token_bucket', large, undefined, 5, T0);
    const small = { ...large, burst: 3 };
    // 500 ms of debt against a 300 ms capacity: 5 in use, 3 allowed
    const now = tokenBucket.evaluate(state, small, 1, T0);
    expect(now).toMatchObject({
      admitted: false,
      remainingIfNotCharged: 0,
      usedIfNotCharged: 3,
      resetIfNotChargedMs: 500,
      retryAfterMs: 300,
    });
    expect(tokenBucket.evaluate(state, small, 1, T0 + 299).admitted).toBe(false);
    expect(tokenBucket.evaluate(state, small, 1, T0 + 300).admitted).toBe(true);
    expect(hitRepeatedly('token_bucket', small, state, 4, T0 + 500).admitted).toBe(3);
  });

  it('token_bucket keeps its debt as time, so a new rate rescales the tokens in use', () => {
    const tenPerSecond = { requestsPerUnit: 10, unitMs: 1_000, burst: 10 };
    const { state } = hitRepeatedly('token_bucket', tenPerSecond, undefined, 5, T0);
    // 500 ms of debt: 5 tokens at 10/s, 10 tokens at 20/s
    const twentyPerSecond = { requestsPerUnit: 20, unitMs: 1_000, burst: 20 };
    expect(tokenBucket.evaluate(state, twentyPerSecond, 0, T0).remainingIfNotCharged).toBe(10);
  });
});
