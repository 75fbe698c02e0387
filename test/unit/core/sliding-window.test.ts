import { describe, expect, it } from 'vitest';
import type { LimitParams } from '../../../src/core/algorithm.js';
import { type SlidingWindowState, slidingWindow } from '../../../src/core/sliding-window.js';
import { hitRepeatedly, T0 } from './model-driver.js';

/** 10 per minute; W is the start of an epoch-aligned minute window. */
const TEN_PER_MINUTE: LimitParams = { requestsPerUnit: 10, unitMs: 60_000, burst: 10 };
const W = T0;
const NEXT = W + 60_000;

function filled(at: number, count = 10, limit = TEN_PER_MINUTE): SlidingWindowState {
  const { state, admitted } = hitRepeatedly('sliding_window', limit, undefined, count, at);
  expect(admitted).toBe(count);
  return state as SlidingWindowState;
}

describe('slidingWindow', () => {
  it('admits 10 within one window and rejects the 11th', () => {
    const { state, admitted } = hitRepeatedly('sliding_window', TEN_PER_MINUTE, undefined, 11, W + 1_000);
    expect(admitted).toBe(10);
    expect(state).toEqual({ windowStartMs: W, current: 10, previous: 0 });
  });

  it('weights the previous window by the share of it still inside the sliding minute', () => {
    const previous = filled(W + 59_999);
    // first ms of the next window: previous counts in full
    expect(slidingWindow.evaluate(previous, TEN_PER_MINUTE, 1, NEXT)).toMatchObject({
      admitted: false,
      retryAfterMs: 6_000,
    });
    // 6 s in: 10 × 54/60 = 9 → room for exactly one
    expect(hitRepeatedly('sliding_window', TEN_PER_MINUTE, previous, 3, NEXT + 6_000).admitted).toBe(1);
    // half way: 10 × 0.5 = 5 → five more
    expect(hitRepeatedly('sliding_window', TEN_PER_MINUTE, previous, 9, NEXT + 30_000).admitted).toBe(5);
  });

  it('admits early after a burst at the end of the previous window, unlike the exact log', () => {
    // the exact log would reject everything until W + 119_999; the estimate assumes an even spread
    const previous = filled(W + 59_999);
    expect(slidingWindow.evaluate(previous, TEN_PER_MINUTE, 1, NEXT + 6_000).admitted).toBe(true);
  });

  it('rejects after a burst at the start of the previous window, where the exact log admits', () => {
    const previous = filled(W);
    // (W, W + 60 s] no longer holds the burst, but the estimate still counts it in full
    expect(slidingWindow.evaluate(previous, TEN_PER_MINUTE, 1, NEXT).admitted).toBe(false);
  });

  it('reports the remaining whole requests, rounded down', () => {
    const previous = filled(W + 59_999);
    expect(slidingWindow.evaluate(previous, TEN_PER_MINUTE, 0, NEXT + 20_000)).toMatchObject({
      remainingIfNotCharged: 3, // 10 - 10 × 40/60 = 3.33
      remainingIfCharged: 3,
    });
    expect(slidingWindow.evaluate(previous, TEN_PER_MINUTE, 1, NEXT + 30_000).remainingIfCharged).toBe(4);
  });

  it('counts exactly when the weighted estimate is a whole number', () => {
    // 25/s with a full previous window: 440 ms in, the estimate is exactly 25 × 0.56 = 14
    const limit = { requestsPerUnit: 25, unitMs: 1_000, burst: 25 };
    const previous = filled(W, 25, limit);
    const fits = slidingWindow.evaluate(previous, limit, 11, W + 1_440);
    expect(fits).toMatchObject({ admitted: true, remainingIfNotCharged: 11, remainingIfCharged: 0 });
    expect(fits.usedIfNotCharged).toBe(14);
    expect(slidingWindow.evaluate(previous, limit, 12, W + 1_440).admitted).toBe(false);
  });

  it('on OK resets when the estimate reaches 0: the end of the next window', () => {
    const first = slidingWindow.evaluate(undefined, TEN_PER_MINUTE, 1, W + 15_000);
    expect(first).toMatchObject({ admitted: true, remainingIfCharged: 9, resetIfChargedMs: 105_000 });
    const onlyPrevious = slidingWindow.evaluate(first.charged, TEN_PER_MINUTE, 0, NEXT + 15_000);
    expect(onlyPrevious.resetIfNotChargedMs).toBe(45_000);
  });

  it('on OVER_LIMIT answers when the same request fits, counting the current window into the next', () => {
    const current = filled(W + 1_000);
    const over = slidingWindow.evaluate(current, TEN_PER_MINUTE, 1, W + 1_000);
    // next window: 10 × (1 − x) ≤ 9 once x = 0.1, i.e. 6 s into it
    expect(over.retryAfterMs).toBe(NEXT + 6_000 - (W + 1_000));
    expect(slidingWindow.evaluate(over.uncharged, TEN_PER_MINUTE, 1, NEXT + 5_999).admitted).toBe(false);
    expect(slidingWindow.evaluate(over.uncharged, TEN_PER_MINUTE, 1, NEXT + 6_000).admitted).toBe(true);
    expect(slidingWindow.evaluate(current, TEN_PER_MINUTE, 10, W + 1_000).retryAfterMs).toBe(119_000);
  });

  it('leaves the state unchanged when it rejects a request', () => {
    const current = filled(W + 1_000, 8);
    const rejected = slidingWindow.evaluate(current, TEN_PER_MINUTE, 3, W + 2_000);
    expect(rejected.admitted).toBe(false);
    expect(rejected.uncharged).toEqual(current);
    expect(hitRepeatedly('sliding_window', TEN_PER_MINUTE, rejected.uncharged, 3, W + 2_000).admitted).toBe(
      2,
    );
  });

  it('checks without charging when hits is 0, even when the window is full', () => {
    const current = filled(W + 1_000);
    const check = slidingWindow.evaluate(current, TEN_PER_MINUTE, 0, W + 2_000);
    expect(check).toMatchObject({ admitted: true, remainingIfNotCharged: 0 });
    expect(check.charged).toEqual(check.uncharged);
  });

  it('never admits more hits than the limit; its retry is the time until fully restored', () => {
    expect(slidingWindow.evaluate(undefined, TEN_PER_MINUTE, 11, W + 1_000)).toMatchObject({
      admitted: false,
      retryAfterMs: 0,
    });
    const current = filled(W + 1_000, 3);
    expect(slidingWindow.evaluate(current, TEN_PER_MINUTE, 11, W + 1_000)).toMatchObject({
      admitted: false,
      retryAfterMs: 119_000,
    });
  });

  it('rejects every request with hits > 0 when requests_per_unit is 0', () => {
    const zero = { requestsPerUnit: 0, unitMs: 60_000, burst: 0 };
    expect(slidingWindow.evaluate(undefined, zero, 1, W).admitted).toBe(false);
    expect(slidingWindow.evaluate(undefined, zero, 0, W)).toMatchObject({
      admitted: true,
      remainingIfNotCharged: 0,
    });
  });

  it('answers from a state two windows old exactly as from no state', () => {
    const current = filled(W + 1_000, 4);
    const expiresAt = slidingWindow.expiresAtMs(current, TEN_PER_MINUTE);
    expect(expiresAt).toBe(W + 120_000);
    for (const at of [expiresAt, expiresAt + 1, expiresAt + 3_600_000]) {
      for (const hits of [0, 1, 10, 11]) {
        expect(slidingWindow.evaluate(current, TEN_PER_MINUTE, hits, at)).toEqual(
          slidingWindow.evaluate(undefined, TEN_PER_MINUTE, hits, at),
        );
      }
    }
    expect(slidingWindow.evaluate(current, TEN_PER_MINUTE, 10, expiresAt - 1).admitted).toBe(false);
  });
});
