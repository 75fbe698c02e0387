import { describe, expect, it } from 'vitest';
import type { LimitParams } from '../../../src/core/algorithm.js';
import { type SlidingLogState, slidingLog } from '../../../src/core/sliding-log.js';
import { hitRepeatedly, T0 } from './model-driver.js';

/** 5 per 10 s (a "unit" of 10 s keeps the numbers readable; the maths does not care). */
const FIVE_PER_10S: LimitParams = { requestsPerUnit: 5, unitMs: 10_000, burst: 5 };

function log(...events: [atMs: number, hits: number][]): SlidingLogState {
  return events.map(([atMs, hits]) => ({ atMs, hits }));
}

describe('slidingLog', () => {
  it('admits 5 within any 10 s and rejects the 6th', () => {
    const { state, admitted } = hitRepeatedly('sliding_log', FIVE_PER_10S, undefined, 6, T0);
    expect(admitted).toBe(5);
    expect(state).toHaveLength(5);
  });

  it('counts the interval (now − unit, now]: an event leaves exactly one unit after it was admitted', () => {
    const full = log([T0, 5]);
    expect(slidingLog.evaluate(full, FIVE_PER_10S, 1, T0 + 9_999).admitted).toBe(false);
    expect(slidingLog.evaluate(full, FIVE_PER_10S, 5, T0 + 10_000).admitted).toBe(true);
  });

  it('has no window edge: a burst at the end of one aligned window still counts in the next', () => {
    const lateBurst = log([T0 + 9_999, 5]);
    expect(slidingLog.evaluate(lateBurst, FIVE_PER_10S, 1, T0 + 10_000).admitted).toBe(false);
    expect(slidingLog.evaluate(lateBurst, FIVE_PER_10S, 1, T0 + 19_998).admitted).toBe(false);
    expect(slidingLog.evaluate(lateBurst, FIVE_PER_10S, 1, T0 + 19_999).admitted).toBe(true);
  });

  it('weighs an event by its hits and stores one entry per request', () => {
    const first = slidingLog.evaluate(undefined, FIVE_PER_10S, 3, T0);
    expect(first).toMatchObject({ admitted: true, remainingIfCharged: 2, usedIfCharged: 3 });
    expect(first.charged).toEqual(log([T0, 3]));
    const second = slidingLog.evaluate(first.charged, FIVE_PER_10S, 3, T0 + 1_000);
    expect(second).toMatchObject({ admitted: false, remainingIfNotCharged: 2 });
    expect(slidingLog.evaluate(first.charged, FIVE_PER_10S, 2, T0 + 1_000).admitted).toBe(true);
  });

  it('on OVER_LIMIT answers when enough of the oldest events have left for the same request', () => {
    const state = log([T0, 2], [T0 + 1_000, 3]);
    // 2 hits fit once the first event (2) leaves at T0 + 10 s
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 2, T0 + 2_000).retryAfterMs).toBe(8_000);
    // 3 hits need both gone: the second leaves at T0 + 11 s
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 3, T0 + 2_000).retryAfterMs).toBe(9_000);
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 3, T0 + 10_999).admitted).toBe(false);
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 3, T0 + 11_000).admitted).toBe(true);
  });

  it('treats events admitted in the same ms as one group when computing the retry', () => {
    const { state } = hitRepeatedly('sliding_log', FIVE_PER_10S, undefined, 5, T0 + 500);
    expect(slidingLog.evaluate(state as SlidingLogState, FIVE_PER_10S, 1, T0 + 700).retryAfterMs).toBe(9_800);
  });

  it('on OK resets one unit after the newest event', () => {
    const state = log([T0, 1], [T0 + 4_000, 1]);
    const ok = slidingLog.evaluate(state, FIVE_PER_10S, 1, T0 + 6_000);
    expect(ok).toMatchObject({ admitted: true, resetIfChargedMs: 10_000, resetIfNotChargedMs: 8_000 });
    expect(slidingLog.evaluate(undefined, FIVE_PER_10S, 0, T0).resetIfNotChargedMs).toBe(0);
  });

  it('leaves the state unchanged when it rejects a request, apart from dropping expired events', () => {
    const state = log([T0, 1], [T0 + 5_000, 4]);
    const rejected = slidingLog.evaluate(state, FIVE_PER_10S, 2, T0 + 12_000);
    expect(rejected.admitted).toBe(false);
    expect(rejected.uncharged).toEqual(log([T0 + 5_000, 4]));
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 1, T0 + 12_000)).toEqual(
      slidingLog.evaluate(rejected.uncharged, FIVE_PER_10S, 1, T0 + 12_000),
    );
  });

  it('checks without charging when hits is 0, adding no event', () => {
    const full = log([T0, 5]);
    const check = slidingLog.evaluate(full, FIVE_PER_10S, 0, T0 + 1);
    expect(check).toMatchObject({ admitted: true, remainingIfNotCharged: 0 });
    expect(check.charged).toEqual(full);
  });

  it('never admits more hits than the limit; its retry is the time until the log is empty', () => {
    expect(slidingLog.evaluate(undefined, FIVE_PER_10S, 6, T0)).toMatchObject({
      admitted: false,
      retryAfterMs: 0,
    });
    const state = log([T0, 1], [T0 + 3_000, 1]);
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 6, T0 + 4_000)).toMatchObject({
      admitted: false,
      retryAfterMs: 9_000,
    });
  });

  it('rejects every request with hits > 0 when requests_per_unit is 0', () => {
    const zero = { requestsPerUnit: 0, unitMs: 10_000, burst: 0 };
    expect(slidingLog.evaluate(undefined, zero, 1, T0).admitted).toBe(false);
    expect(slidingLog.evaluate(undefined, zero, 0, T0)).toMatchObject({
      admitted: true,
      remainingIfNotCharged: 0,
    });
  });

  it('answers from a log whose newest event is one unit old exactly as from no state', () => {
    const state = log([T0, 2], [T0 + 3_000, 3]);
    const expiresAt = slidingLog.expiresAtMs(state, FIVE_PER_10S);
    expect(expiresAt).toBe(T0 + 13_000);
    for (const at of [expiresAt, expiresAt + 1, expiresAt + 86_400_000]) {
      for (const hits of [0, 1, 5, 6]) {
        expect(slidingLog.evaluate(state, FIVE_PER_10S, hits, at)).toEqual(
          slidingLog.evaluate(undefined, FIVE_PER_10S, hits, at),
        );
      }
    }
    expect(slidingLog.evaluate(state, FIVE_PER_10S, 5, expiresAt - 1).admitted).toBe(false);
  });
});
