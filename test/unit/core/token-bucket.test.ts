import { describe, expect, it } from 'vitest';
import type { LimitParams } from '../../../src/core/algorithm.js';
import { type TokenBucketState, tokenBucket } from '../../../src/core/token-bucket.js';
import { hitRepeatedly, T0 } from './model-driver.js';

/** 10 per second, capacity 20: one token back every 100 ms. */
const TEN_PER_SECOND_BURST_20: LimitParams = { requestsPerUnit: 10, unitMs: 1_000, burst: 20 };

function drained(limit = TEN_PER_SECOND_BURST_20, now = T0): TokenBucketState {
  const { state, admitted } = hitRepeatedly('token_bucket', limit, undefined, limit.burst, now);
  expect(admitted).toBe(limit.burst);
  return state as TokenBucketState;
}

describe('tokenBucket', () => {
  it('admits a burst of 20 at once from an empty state and rejects the 21st', () => {
    const { state, admitted } = hitRepeatedly('token_bucket', TEN_PER_SECOND_BURST_20, undefined, 21, T0);
    expect(admitted).toBe(20);
    expect(state).toEqual({ tatMs: T0 + 2_000 });
  });

  it('refills one token every 100 ms after the burst', () => {
    const empty = drained();
    expect(tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 1, T0 + 99).admitted).toBe(false);
    const first = tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 1, T0 + 100);
    expect(first.admitted).toBe(true);
    expect(tokenBucket.evaluate(first.charged, TEN_PER_SECOND_BURST_20, 1, T0 + 100).admitted).toBe(false);
    expect(hitRepeatedly('token_bucket', TEN_PER_SECOND_BURST_20, empty, 10, T0 + 500).admitted).toBe(5);
  });

  it('reports remaining tokens and, on OK, the time until the bucket is full again', () => {
    const { state } = hitRepeatedly('token_bucket', TEN_PER_SECOND_BURST_20, undefined, 4, T0);
    const fifth = tokenBucket.evaluate(state as TokenBucketState, TEN_PER_SECOND_BURST_20, 1, T0);
    expect(fifth).toMatchObject({
      admitted: true,
      remainingIfCharged: 15,
      remainingIfNotCharged: 16,
      resetIfChargedMs: 500,
      resetIfNotChargedMs: 400,
    });
  });

  it('reports on OVER_LIMIT the time until the same request fits with no other traffic', () => {
    const empty = drained();
    const one = tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 1, T0 + 30);
    expect(one).toMatchObject({ admitted: false, retryAfterMs: 70, remainingIfNotCharged: 0 });
    const three = tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 3, T0 + 30);
    expect(three.retryAfterMs).toBe(270);
    expect(tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 3, T0 + 299).admitted).toBe(false);
    expect(tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 3, T0 + 300).admitted).toBe(true);
  });

  it('leaves the state unchanged when it rejects a request', () => {
    const empty = drained();
    const rejected = tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 5, T0 + 100);
    expect(rejected.admitted).toBe(false);
    expect(rejected.uncharged).toEqual(empty);
    // one token back at +100 whether or not the 5-hit request was tried
    expect(tokenBucket.evaluate(rejected.uncharged, TEN_PER_SECOND_BURST_20, 1, T0 + 100).admitted).toBe(
      true,
    );
  });

  it('checks without charging when hits is 0, even on an empty bucket', () => {
    const empty = drained();
    const check = tokenBucket.evaluate(empty, TEN_PER_SECOND_BURST_20, 0, T0 + 50);
    expect(check).toMatchObject({ admitted: true, remainingIfCharged: 0, remainingIfNotCharged: 0 });
    expect(check.charged).toEqual(check.uncharged);
    expect(check.charged).toEqual(empty);
  });

  it('admits a request of exactly burst hits on a full bucket', () => {
    const all = tokenBucket.evaluate(undefined, TEN_PER_SECOND_BURST_20, 20, T0);
    expect(all).toMatchObject({ admitted: true, remainingIfCharged: 0, resetIfChargedMs: 2_000 });
  });

  it('never admits more hits than the burst; its retry is the time until the bucket is full', () => {
    expect(tokenBucket.evaluate(undefined, TEN_PER_SECOND_BURST_20, 21, T0)).toMatchObject({
      admitted: false,
      retryAfterMs: 0,
    });
    const { state } = hitRepeatedly('token_bucket', TEN_PER_SECOND_BURST_20, undefined, 5, T0);
    const tooBig = tokenBucket.evaluate(state as TokenBucketState, TEN_PER_SECOND_BURST_20, 21, T0 + 100);
    expect(tooBig).toMatchObject({ admitted: false, retryAfterMs: 400, resetIfNotChargedMs: 400 });
    expect(tokenBucket.evaluate(undefined, TEN_PER_SECOND_BURST_20, 21, T0 + 10_000).admitted).toBe(false);
  });

  it('admits a burst larger than requests_per_unit at once, then refills at the rate', () => {
    const limit = { requestsPerUnit: 2, unitMs: 60_000, burst: 5 };
    const { state, admitted } = hitRepeatedly('token_bucket', limit, undefined, 6, T0);
    expect(admitted).toBe(5);
    expect(tokenBucket.evaluate(state as TokenBucketState, limit, 1, T0 + 29_999).admitted).toBe(false);
    expect(tokenBucket.evaluate(state as TokenBucketState, limit, 1, T0 + 30_000).admitted).toBe(true);
  });

  it('rejects every request with hits > 0 when requests_per_unit is 0, answering hits 0 with OK', () => {
    const zero = { requestsPerUnit: 0, unitMs: 1_000, burst: 1 };
    expect(tokenBucket.evaluate(undefined, zero, 1, T0)).toMatchObject({
      admitted: false,
      retryAfterMs: 1_000,
    });
    const check = tokenBucket.evaluate(undefined, zero, 0, T0);
    expect(check).toMatchObject({ admitted: true, remainingIfNotCharged: 0 });
    expect(check.charged).toEqual(check.uncharged);
  });

  it('answers from an expired state exactly as from no state', () => {
    const { state } = hitRepeatedly('token_bucket', TEN_PER_SECOND_BURST_20, undefined, 7, T0);
    const expiresAt = tokenBucket.expiresAtMs(state as TokenBucketState, TEN_PER_SECOND_BURST_20);
    expect(expiresAt).toBe(T0 + 700);
    for (const at of [expiresAt, expiresAt + 1, expiresAt + 86_400_000]) {
      for (const hits of [0, 1, 20, 21]) {
        const fromState = tokenBucket.evaluate(state as TokenBucketState, TEN_PER_SECOND_BURST_20, hits, at);
        expect(fromState).toEqual(tokenBucket.evaluate(undefined, TEN_PER_SECOND_BURST_20, hits, at));
      }
    }
    // one ms earlier the bucket is not yet full
    expect(
      tokenBucket.evaluate(state as TokenBucketState, TEN_PER_SECOND_BURST_20, 20, expiresAt - 1).admitted,
    ).toBe(false);
  });

  it('admits the whole burst at once at epoch-sized times for every rate, including non-integer intervals', () => {
    for (const now of [T0, T0 + 123, 2_000_000_000_000]) {
      for (let rate = 1; rate <= 64; rate++) {
        const limit = { requestsPerUnit: rate, unitMs: 1_000, burst: rate };
        expect(hitRepeatedly('token_bucket', limit, undefined, rate, now).admitted, `rate ${rate}`).toBe(
          rate,
        );
        const whole = tokenBucket.evaluate(undefined, limit, rate, now);
        expect(whole.remainingIfCharged).toBe(0);
        expect(tokenBucket.evaluate(undefined, limit, 0, now).remainingIfNotCharged).toBe(rate);
      }
    }
  });

  it('never refills faster than the configured rate when the interval is not a whole number of ms', () => {
    const threePerSecond = { requestsPerUnit: 3, unitMs: 1_000, burst: 3 };
    const empty = drained(threePerSecond);
    expect(tokenBucket.evaluate(empty, threePerSecond, 1, T0 + 333).admitted).toBe(false);
    expect(tokenBucket.evaluate(empty, threePerSecond, 1, T0 + 334).admitted).toBe(true);
    expect(tokenBucket.evaluate(empty, threePerSecond, 3, T0 + 999).admitted).toBe(false);
    expect(tokenBucket.evaluate(empty, threePerSecond, 3, T0 + 1_001).admitted).toBe(true);
  });
});
