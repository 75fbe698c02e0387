import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm, type LimitParams } from '../../../src/core/algorithm.js';
import { drive, limitArb, model, type Outcome, type Step, startArb, stepsArb } from './model-driver.js';

/**
 * The `Evaluation` contract, on random sequences driven as a store drives
 * the models: states, resets and retries mean what algorithm.ts says.
 */
interface Scenario {
  readonly limit: LimitParams;
  readonly start: number;
  readonly steps: Step[];
  readonly sweep: boolean;
  /** A later request to probe states with: delay after the last step, and hits. */
  readonly probe: { readonly dtMs: number; readonly hits: number };
}

function scenarioArb(algorithm: Algorithm): fc.Arbitrary<Scenario> {
  return limitArb(algorithm).chain((limit) =>
    fc.record({
      limit: fc.constant(limit),
      start: startArb,
      steps: stepsArb(limit, 40),
      sweep: fc.boolean(),
      probe: fc.record({
        dtMs: fc.integer({ min: 0, max: 3 * limit.unitMs }),
        hits: fc.integer({ min: 0, max: limit.burst + 2 }),
      }),
    }),
  );
}

/** What a fully restored limit reports as remaining: its burst for token_bucket, else its limit (0: never). */
function full(algorithm: Algorithm, limit: LimitParams): number {
  if (limit.requestsPerUnit === 0) return 0;
  return algorithm === 'token_bucket' ? limit.burst : limit.requestsPerUnit;
}

/** The state that stands for "no other traffic" after `o`: what the store wrote. */
function stored(o: Outcome): unknown {
  return o.after;
}

function forEachAlgorithm(
  name: string,
  check: (algorithm: Algorithm, s: Scenario, outcomes: Outcome[]) => void,
) {
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: ${name}`, () => {
      fc.assert(
        fc.property(scenarioArb(algorithm), (s) =>
          check(algorithm, s, drive(algorithm, s.limit, s.start, s.steps, s.sweep)),
        ),
      );
    });
  }
}

describe('every algorithm model', () => {
  forEachAlgorithm(
    'uncharged answers every later request exactly as the state it came from',
    (a, s, outcomes) => {
      const m = model(a);
      for (const o of outcomes) {
        const at = o.atMs + s.probe.dtMs;
        expect(m.evaluate(o.evaluation.uncharged, s.limit, s.probe.hits, at)).toEqual(
          m.evaluate(o.before, s.limit, s.probe.hits, at),
        );
      }
    },
  );

  forEachAlgorithm(
    'a request of 0 hits changes nothing: dropping those requests changes no answer',
    (a, s) => {
      const withChecks = drive(a, s.limit, s.start, s.steps, false);
      const kept = withoutSteps(s.steps, (step) => step.hits === 0);
      const without = drive(a, s.limit, s.start, kept.steps, false);
      expect(kept.indexes.map((i) => withChecks[i]!.evaluation)).toEqual(without.map((o) => o.evaluation));
    },
  );

  forEachAlgorithm('a state past expiresAtMs answers exactly as no state', (a, s, outcomes) => {
    const m = model(a);
    for (const o of outcomes) {
      if (o.after === undefined) continue;
      const at = Math.max(o.atMs, m.expiresAtMs(o.after, s.limit)) + s.probe.dtMs;
      expect(m.evaluate(o.after, s.limit, s.probe.hits, at)).toEqual(
        m.evaluate(undefined, s.limit, s.probe.hits, at),
      );
    }
  });

  forEachAlgorithm('reports whole remaining counts and non-negative durations', (_a, _s, outcomes) => {
    for (const { evaluation: e } of outcomes) {
      for (const n of [e.remainingIfCharged, e.remainingIfNotCharged]) {
        expect(Number.isInteger(n) && n >= 0).toBe(true);
      }
      expect(e.remainingIfCharged).toBeLessThanOrEqual(e.remainingIfNotCharged);
      for (const ms of [e.resetIfChargedMs, e.resetIfNotChargedMs, e.retryAfterMs]) {
        expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }
    }
  });

  forEachAlgorithm(
    'on OVER_LIMIT the same request is admitted exactly after retryAfterMs',
    (a, s, outcomes) => {
      const m = model(a);
      const max = full(a, s.limit);
      for (const o of outcomes) {
        if (o.evaluation.admitted || max === 0) continue;
        const retryAt = o.atMs + Math.ceil(o.evaluation.retryAfterMs);
        if (o.hits > max) {
          // never admitted; the retry is when the limit is fully restored
          expect(m.evaluate(stored(o), s.limit, 0, retryAt).remainingIfNotCharged).toBe(max);
          expect(m.evaluate(stored(o), s.limit, o.hits, retryAt + s.probe.dtMs).admitted).toBe(false);
          continue;
        }
        expect(m.evaluate(stored(o), s.limit, o.hits, retryAt).admitted).toBe(true);
        if (retryAt > o.atMs)
          expect(m.evaluate(stored(o), s.limit, o.hits, retryAt - 1).admitted).toBe(false);
      }
    },
  );

  forEachAlgorithm('on OK the limit is fully restored exactly after the reset', (a, s, outcomes) => {
    const m = model(a);
    const max = full(a, s.limit);
    for (const o of outcomes) {
      const e = o.evaluation;
      if (!e.admitted || max === 0) continue;
      const resetAt = o.atMs + Math.ceil(o.hits > 0 ? e.resetIfChargedMs : e.resetIfNotChargedMs);
      expect(m.evaluate(stored(o), s.limit, 0, resetAt).remainingIfNotCharged).toBe(max);
      // a fixed window reports its end even when nothing is used (the reference's answer)
      const used = m.evaluate(stored(o), s.limit, 0, o.atMs).remainingIfNotCharged < max;
      if (used && resetAt > o.atMs) {
        expect(m.evaluate(stored(o), s.limit, 0, resetAt - 1).remainingIfNotCharged).toBeLessThan(max);
      }
    }
  });
});

describe('every algorithm but fixed_window', () => {
  for (const a of ALGORITHMS.filter((x) => x !== 'fixed_window')) {
    it(`${a}: a rejected request changes nothing: dropping rejected requests changes no answer`, () => {
      fc.assert(
        fc.property(scenarioArb(a), (s) => {
          const all = drive(a, s.limit, s.start, s.steps, false);
          const kept = withoutSteps(s.steps, (_step, i) => !all[i]!.evaluation.admitted);
          const without = drive(a, s.limit, s.start, kept.steps, false);
          expect(without.map((o) => o.evaluation.admitted)).toEqual(kept.indexes.map(() => true));
          expect(kept.indexes.map((i) => all[i]!.evaluation)).toEqual(without.map((o) => o.evaluation));
        }),
      );
    });
  }
});

/** The steps without those matching `drop`, at the same clock times; `indexes` are the kept steps' positions. */
function withoutSteps(steps: readonly Step[], drop: (step: Step, index: number) => boolean) {
  const kept: Step[] = [];
  const indexes: number[] = [];
  let carried = 0;
  steps.forEach((step, i) => {
    if (drop(step, i)) {
      carried += step.dtMs;
      return;
    }
    kept.push({ dtMs: step.dtMs + carried, hits: step.hits });
    indexes.push(i);
    carried = 0;
  });
  return { steps: kept, indexes };
}
