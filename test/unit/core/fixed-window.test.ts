import { describe, expect, it } from 'vitest';
import type { LimitParams } from '../../../src/core/algorithm.js';
import { type FixedWindowState, fixedWindow } from '../../../src/core/fixed-window.js';
import { hitRepeatedly, T0 } from './model-driver.js';

const TEN_PER_MINUTE: LimitParams = { requestsPerUnit: 10, unitMs: 60_000, burst: 10 };
/** T0 starts an epoch-aligned minute. */
const W = T0;

describe('fixedWindow', () => {
  it('aligns windows to the Unix epoch, not to the first hit', () => {
    expect(fixedWindow.evaluate(undefined, TEN_PER_MINUTE, 1, W + 59_999).charged.windowStartMs).toBe(W);
    expect(fixedWindow.evaluate(undefined, TEN_PER_MINUTE, 1, W + 60_000).charged.windowStartMs).toBe(
      W + 60_000,
    );
    expect(fixedWindow.evaluate(undefined, TEN_PER_MINUTE, 1, W + 59_000).resetIfChargedMs).toBe(1_000);
  });

  it('admits the hit that reaches the limit and rejects the one after it', () => {
    const { state, admitted } = hitRepeatedly('fixed_window', TEN_PER_MINUTE, undefined, 12, W + 1_000);
    expect(admitted).toBe(10);
    // the store charges rejected hits too, as envoyproxy/ratelimit does
    expect(state).toEqual({ windowStartMs: W, count: 12 });
  });

  it('counts this request in its answer: remaining and used are after the hits', () => {
    const state: FixedWindowState = { windowStartMs: W, count: 4 };
    expect(fixedWindow.evaluate(state, TEN_PER_MINUTE, 3, W + 1_000)).toMatchObject({
      admitted: true,
      remainingIfCharged: 3,
      remainingIfNotCharged: 6,
      usedIfCharged: 7,
      usedIfNotCharged: 4,
    });
  });

  it('starts from zero in the next window, however far over the last one went', () => {
    const over: FixedWindowState = { windowStartMs: W, count: 500 };
    expect(fixedWindow.evaluate(over, TEN_PER_MINUTE, 10, W + 60_000)).toMatchObject({
      admitted: true,
      remainingIfCharged: 0,
    });
  });

  it('answers OVER_LIMIT to a check-only request once charged rejected hits pushed the count past the limit', () => {
    const state: FixedWindowState = { windowStartMs: W, count: 12 };
    expect(fixedWindow.evaluate(state, TEN_PER_MINUTE, 0, W + 1)).toMatchObject({
      admitted: false,
      retryAfterMs: 59_999,
    });
  });

  it('reports the end of the window both as the reset on OK and as the retry on OVER_LIMIT', () => {
    const state: FixedWindowState = { windowStartMs: W, count: 10 };
    const over = fixedWindow.evaluate(state, TEN_PER_MINUTE, 1, W + 45_000);
    expect(over).toMatchObject({ admitted: false, retryAfterMs: 15_000, remainingIfCharged: 0 });
    const check = fixedWindow.evaluate(state, TEN_PER_MINUTE, 0, W + 45_000);
    expect(check).toMatchObject({ admitted: true, resetIfNotChargedMs: 15_000 });
  });

  it('checks without charging when hits is 0', () => {
    const state: FixedWindowState = { windowStartMs: W, count: 10 };
    const check = fixedWindow.evaluate(state, TEN_PER_MINUTE, 0, W + 1);
    expect(check).toMatchObject({ admitted: true, remainingIfNotCharged: 0 });
    expect(check.charged).toEqual(state);
  });

  it('never admits more hits than the limit; its retry is the end of the window', () => {
    expect(fixedWindow.evaluate(undefined, TEN_PER_MINUTE, 11, W + 20_000)).toMatchObject({
      admitted: false,
      retryAfterMs: 40_000,
    });
  });

  it('rejects every request with hits > 0 when requests_per_unit is 0', () => {
    const zero = { requestsPerUnit: 0, unitMs: 60_000, burst: 0 };
    expect(fixedWindow.evaluate(undefined, zero, 1, W + 20_000)).toMatchObject({
      admitted: false,
      retryAfterMs: 40_000,
    });
    expect(fixedWindow.evaluate(undefined, zero, 0, W)).toMatchObject({
      admitted: true,
      remainingIfNotCharged: 0,
    });
  });

  it('answers from a state whose window has ended exactly as from no state', () => {
    const state: FixedWindowState = { windowStartMs: W, count: 7 };
    const expiresAt = fixedWindow.expiresAtMs(state, TEN_PER_MINUTE);
    expect(expiresAt).toBe(W + 60_000);
    for (const at of [expiresAt, expiresAt + 1, expiresAt + 86_400_000]) {
      for (const hits of [0, 1, 10, 11]) {
        expect(fixedWindow.evaluate(state, TEN_PER_MINUTE, hits, at)).toEqual(
          fixedWindow.evaluate(undefined, TEN_PER_MINUTE, hits, at),
        );
      }
    }
    expect(fixedWindow.evaluate(state, TEN_PER_MINUTE, 4, expiresAt - 1).admitted).toBe(false);
  });
});
