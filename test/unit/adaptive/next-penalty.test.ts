import { describe, expect, it } from 'vitest';
import type { PenaltyParams } from '../../../src/adaptive/controller-params.js';
import { escalatedTtlMs, nextPenalty, PenaltyBox } from '../../../src/adaptive/penalty-box.js';

const P: PenaltyParams = { factor: 0, ttlMs: 1_000, escalate: 2, maxTtlMs: 5_000 };
const T = 1_000_000;

describe('nextPenalty (the escalation rule PenaltyBox and the shared stores apply)', () => {
  it('boxes a first offence for ttl', () => {
    expect(nextPenalty(undefined, T, P, {})).toEqual({
      expiresAtMs: T + 1_000,
      offences: 1,
      newOffence: true,
    });
  });

  it('escalates a released value by escalate^(n-1), capped at max_ttl', () => {
    expect([1, 2, 3, 4, 5].map((n) => escalatedTtlMs(P, n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    const previous = { expiresAtMs: T - 1, offences: 2 };
    expect(nextPenalty(previous, T, P, {})).toEqual({
      expiresAtMs: T + 4_000,
      offences: 3,
      newOffence: true,
    });
    expect(nextPenalty({ expiresAtMs: T, offences: 9 }, T, P, {})).toEqual({
      expiresAtMs: T + 5_000,
      offences: 10,
      newOffence: true,
    });
  });

  it('extends a still-boxed value to max(current, now + its current ttl) without a new offence', () => {
    const boxed = { expiresAtMs: T + 500, offences: 2 };
    expect(nextPenalty(boxed, T, P, {})).toEqual({ expiresAtMs: T + 2_000, offences: 2, newOffence: false });
    const longer = { expiresAtMs: T + 9_000, offences: 2 };
    expect(nextPenalty(longer, T, P, {})).toEqual({ expiresAtMs: T + 9_000, offences: 2, newOffence: false });
    expect(nextPenalty(boxed, T, P, { ttlMs: 10 })).toEqual({
      expiresAtMs: T + 500,
      offences: 2,
      newOffence: false,
    });
  });

  it('forgets offences once max_ttl has passed since the penalty ended', () => {
    const released = { expiresAtMs: T - 5_000, offences: 3 };
    expect(nextPenalty(released, T, P, {})).toEqual({
      expiresAtMs: T + 1_000,
      offences: 1,
      newOffence: true,
    });
    const justRemembered = { expiresAtMs: T - 4_999, offences: 3 };
    expect(nextPenalty(justRemembered, T, P, {}).offences).toBe(4);
  });

  it('takes an explicit ttl as given, neither escalated nor capped, and counts it', () => {
    expect(nextPenalty({ expiresAtMs: T - 1, offences: 3 }, T, P, { ttlMs: 60_000 })).toEqual({
      expiresAtMs: T + 60_000,
      offences: 4,
      newOffence: true,
    });
  });

  it('is what PenaltyBox.flag does', () => {
    const box = new PenaltyBox(P);
    let previous: { expiresAtMs: number; offences: number } | undefined;
    for (const [now, ttlMs] of [
      [T, undefined],
      [T + 500, undefined],
      [T + 2_000, undefined],
      [T + 3_000, 100],
      [T + 20_000, undefined],
    ] as const) {
      const options = ttlMs === undefined ? { reason: 'r' } : { reason: 'r', ttlMs };
      const expected = nextPenalty(previous, now, P, options);
      expect(box.flag('v', now, options)).toEqual(expected);
      previous = expected;
    }
  });
});
