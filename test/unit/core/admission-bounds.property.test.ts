import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Algorithm, LimitParams } from '../../../src/core/algorithm.js';
import { windowStartMs } from '../../../src/core/key-layout.js';
import { admittedHits, drive, limitArb, type Outcome, startArb, stepsArb } from './model-driver.js';

/**
 * Random request sequences (hits 0..limit+2, clock steps 0..2 units, start
 * anywhere near an epoch-sized time), driven as a store drives the models:
 * the admitted traffic never exceeds each algorithm's definition.
 */
function scenarioArb(algorithm: Algorithm) {
  return limitArb(algorithm).chain((limit) =>
    fc.record({
      limit: fc.constant(limit),
      start: startArb,
      steps: stepsArb(limit),
      sweep: fc.boolean(),
    }),
  );
}

function run(algorithm: Algorithm, s: { limit: LimitParams; start: number; steps: Step[]; sweep: boolean }) {
  return drive(algorithm, s.limit, s.start, s.steps, s.sweep);
}
type Step = Parameters<typeof drive>[3][number];

/** Admitted hits with `from < atMs ≤ to`. */
function admittedIn(outcomes: readonly Outcome[], from: number, to: number): number {
  let sum = 0;
  for (const o of outcomes) if (o.atMs > from && o.atMs <= to) sum += admittedHits(o);
  return sum;
}

describe('admitted traffic never exceeds the algorithm definition', () => {
  it('sliding_log admits exactly when the hits admitted in (t − unit, t] plus this request fit the limit', () => {
    fc.assert(
      fc.property(scenarioArb('sliding_log'), (s) => {
        const outcomes = run('sliding_log', s);
        outcomes.forEach((o, i) => {
          const earlier = admittedIn(outcomes.slice(0, i), o.atMs - s.limit.unitMs, o.atMs);
          expect(o.evaluation.admitted).toBe(earlier + o.hits <= s.limit.requestsPerUnit);
          // hence: never more than the limit in any interval of one unit
          expect(admittedIn(outcomes, o.atMs - s.limit.unitMs, o.atMs)).toBeLessThanOrEqual(
            s.limit.requestsPerUnit,
          );
        });
      }),
    );
  });

  it('token_bucket admits at most burst + rate × elapsed over any interval', () => {
    fc.assert(
      fc.property(scenarioArb('token_bucket'), (s) => {
        const admitted = run('token_bucket', s).filter((o) => admittedHits(o) > 0);
        const { requestsPerUnit: rate, unitMs, burst } = s.limit;
        for (let i = 0; i < admitted.length; i++) {
          let sum = 0;
          for (let j = i; j < admitted.length; j++) {
            sum += admitted[j]!.hits;
            const elapsed = admitted[j]!.atMs - admitted[i]!.atMs;
            // integer form of sum ≤ burst + rate × elapsed / unit
            expect(sum * unitMs).toBeLessThanOrEqual(burst * unitMs + rate * elapsed);
          }
        }
      }),
    );
  });

  it('token_bucket admits nothing with hits > 0 when requests_per_unit is 0', () => {
    fc.assert(
      fc.property(startArb, stepsArb({ requestsPerUnit: 0, unitMs: 1_000, burst: 3 }), (start, steps) => {
        const outcomes = drive('token_bucket', { requestsPerUnit: 0, unitMs: 1_000, burst: 3 }, start, steps);
        for (const o of outcomes) expect(o.evaluation.admitted).toBe(o.hits === 0);
      }),
    );
  });

  it('sliding_window admits at most the limit per aligned window and fewer than 2 × limit per unit', () => {
    fc.assert(
      fc.property(scenarioArb('sliding_window'), (s) => {
        const outcomes = run('sliding_window', s);
        const { unitMs, requestsPerUnit: max } = s.limit;
        for (const o of outcomes) {
          const ws = windowStartMs(o.atMs, unitMs);
          expect(admittedIn(outcomes, ws - 1, ws + unitMs - 1)).toBeLessThanOrEqual(max);
          const sliding = admittedIn(outcomes, o.atMs - unitMs, o.atMs);
          expect(sliding === 0 || sliding < 2 * max).toBe(true);
        }
      }),
    );
  });

  it('sliding_window decides exactly as the weighted estimate in integer arithmetic', () => {
    fc.assert(
      fc.property(scenarioArb('sliding_window'), (s) => {
        const outcomes = run('sliding_window', s);
        const { unitMs: unit, requestsPerUnit: max } = s.limit;
        outcomes.forEach((o, i) => {
          const ws = windowStartMs(o.atMs, unit);
          const before = outcomes.slice(0, i);
          const current = admittedIn(before, ws - 1, o.atMs);
          const previous = admittedIn(before, ws - unit - 1, ws - 1);
          // previous × (unit − elapsed) / unit + current + hits ≤ max, times unit
          const fits = previous * (unit - (o.atMs - ws)) + (current + o.hits) * unit <= max * unit;
          expect(o.evaluation.admitted).toBe(fits);
          expect(o.evaluation.remainingIfNotCharged).toBe(
            Math.max(0, Math.floor((max * unit - previous * (unit - (o.atMs - ws)) - current * unit) / unit)),
          );
        });
      }),
    );
  });

  it('fixed_window charges every hit sent in its window and admits while that count stays within the limit', () => {
    fc.assert(
      fc.property(scenarioArb('fixed_window'), (s) => {
        const outcomes = run('fixed_window', s);
        const { unitMs, requestsPerUnit: max } = s.limit;
        outcomes.forEach((o, i) => {
          const ws = windowStartMs(o.atMs, unitMs);
          let sent = 0;
          for (const p of outcomes.slice(0, i + 1)) if (p.atMs >= ws) sent += p.hits;
          expect(o.after).toEqual({ windowStartMs: ws, count: sent });
          expect(o.evaluation.admitted).toBe(sent <= max);
          expect(admittedIn(outcomes, ws - 1, ws + unitMs - 1)).toBeLessThanOrEqual(max);
        });
      }),
    );
  });
});
