import { describe, expect, it } from 'vitest';
import { chargeHits, nearThreshold } from '../../../src/metrics/hit-accounting.js';

describe('nearThreshold', () => {
  it('is floor(limit × ratio)', () => {
    expect(nearThreshold(10, 0.8)).toBe(8);
    expect(nearThreshold(7, 0.8)).toBe(5);
    expect(nearThreshold(3, 0.5)).toBe(1);
  });
});

describe('chargeHits (envoyproxy/ratelimit src/limiter/base_limiter.go)', () => {
  it('charges an OK hit below the near threshold to within only', () => {
    expect(chargeHits(1, 10, 8, false, 8)).toEqual({ overLimit: 0, nearLimit: 0, withinLimit: 1 });
  });

  it('charges an OK hit landing above the threshold to within and near', () => {
    expect(chargeHits(1, 10, 8, false, 9)).toEqual({ overLimit: 0, nearLimit: 1, withinLimit: 1 });
    expect(chargeHits(1, 10, 8, false, 10)).toEqual({ overLimit: 0, nearLimit: 1, withinLimit: 1 });
  });

  it('charges only the part of an OK addend that crosses the threshold as near', () => {
    // before 6, after 10: hits 9 and 10 are near
    expect(chargeHits(4, 10, 8, false, 10)).toEqual({ overLimit: 0, nearLimit: 2, withinLimit: 4 });
  });

  it('charges every hit as over when the fixed window was already at the limit', () => {
    expect(chargeHits(3, 10, 8, true, 13)).toEqual({ overLimit: 3, nearLimit: 0, withinLimit: 0 });
  });

  it('splits an addend crossing the limit into over and near (fixed window charged in full)', () => {
    // before 5, after 15: 11..15 over, 9..10 near, 6..8 neither
    expect(chargeHits(10, 10, 8, true, 15)).toEqual({ overLimit: 5, nearLimit: 2, withinLimit: 0 });
  });

  it('reads an uncharged over-limit decision (used ≤ limit) as usage before the request', () => {
    // token bucket refusing 4 hits with 9 used: 9+4 = 13, 3 over, 1 near
    expect(chargeHits(4, 10, 8, true, 9)).toEqual({ overLimit: 3, nearLimit: 1, withinLimit: 0 });
    // local over-limit cache answers used = limit: all over
    expect(chargeHits(2, 10, 8, true, 10)).toEqual({ overLimit: 2, nearLimit: 0, withinLimit: 0 });
  });
});
