import fc from 'fast-check';
import type { Algorithm, AlgorithmModel, Evaluation, LimitParams } from '../../../src/core/algorithm.js';
import { MODELS } from '../../../src/core/models.js';

/**
 * Drives a core algorithm model the way a CounterStore does, with a manual
 * clock: fixed_window always stores `charged` (the reference charges rejected
 * hits), every other algorithm stores `charged` iff admitted and otherwise
 * rewrites an existing state with `uncharged`; optionally, state past
 * `expiresAtMs` is deleted first, as the memory store's sweep does.
 */

/** A realistic epoch time (Nov 2023), aligned to the minute: float errors show at this magnitude. */
export const T0 = 1_700_000_040_000;

export interface Step {
  /** Clock advance before this request, ms. */
  readonly dtMs: number;
  readonly hits: number;
}

export interface Outcome {
  readonly atMs: number;
  readonly hits: number;
  /** State the request was evaluated from. */
  readonly before: unknown;
  /** State stored after the request. */
  readonly after: unknown;
  readonly evaluation: Evaluation<unknown>;
}

export function model(algorithm: Algorithm): AlgorithmModel<unknown> {
  return MODELS[algorithm];
}

/** The state a store keeps after `evaluation` of `hits` on `before`. */
export function commit(algorithm: Algorithm, before: unknown, evaluation: Evaluation<unknown>): unknown {
  if (algorithm === 'fixed_window' || evaluation.admitted) return evaluation.charged;
  return before === undefined ? undefined : evaluation.uncharged;
}

export function drive(
  algorithm: Algorithm,
  limit: LimitParams,
  startMs: number,
  steps: readonly Step[],
  sweep = false,
): Outcome[] {
  const m = model(algorithm);
  let state: unknown;
  let now = startMs;
  const outcomes: Outcome[] = [];
  for (const step of steps) {
    now += step.dtMs;
    if (sweep && state !== undefined && m.expiresAtMs(state, limit) <= now) state = undefined;
    const evaluation = m.evaluate(state, limit, step.hits, now);
    const after = commit(algorithm, state, evaluation);
    outcomes.push({ atMs: now, hits: step.hits, before: state, after, evaluation });
    state = after;
  }
  return outcomes;
}

/** Sends `count` single hits at `nowMs`, storing each as a store would; returns the state and how many were admitted. */
export function hitRepeatedly(
  algorithm: Algorithm,
  limit: LimitParams,
  state: unknown,
  count: number,
  nowMs: number,
): { state: unknown; admitted: number } {
  let admitted = 0;
  for (let i = 0; i < count; i++) {
    const evaluation = model(algorithm).evaluate(state, limit, 1, nowMs);
    if (evaluation.admitted) admitted++;
    state = commit(algorithm, state, evaluation);
  }
  return { state, admitted };
}

/** Hits admitted (and so counted) by each outcome: 0 when rejected. */
export function admittedHits(outcome: Outcome): number {
  return outcome.evaluation.admitted ? outcome.hits : 0;
}

/** Limits small enough for the bounds to bite; units of 1 s and 1 min. */
export function limitArb(algorithm: Algorithm): fc.Arbitrary<LimitParams> {
  return fc
    .record({
      requestsPerUnit: fc.integer({ min: 0, max: 8 }),
      unitMs: fc.constantFrom(1_000, 60_000),
      extraBurst: fc.integer({ min: -3, max: 4 }),
    })
    .map(({ requestsPerUnit, unitMs, extraBurst }) => ({
      requestsPerUnit,
      unitMs,
      burst: algorithm === 'token_bucket' ? Math.max(1, requestsPerUnit + extraBurst) : requestsPerUnit,
    }));
}

/** Request sequences: hits 0..limit+2 (burst+2 for token_bucket), clock steps from 0 to two units. */
export function stepsArb(limit: LimitParams, maxLength = 60): fc.Arbitrary<Step[]> {
  const unit = limit.unitMs;
  const dtMs = fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: Math.ceil(unit / 8) }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 * unit }) },
    { weight: 1, arbitrary: fc.constantFrom(unit - 1, unit, unit + 1) },
  );
  const maxHits = Math.max(limit.requestsPerUnit, limit.burst) + 2;
  return fc.array(fc.record({ dtMs, hits: fc.integer({ min: 0, max: maxHits }) }), {
    minLength: 1,
    maxLength,
  });
}

/** Start times: the epoch-aligned T0 plus an offset, so windows start anywhere relative to the first request. */
export const startArb: fc.Arbitrary<number> = fc
  .integer({ min: 0, max: 120_000 })
  .map((offset) => T0 + offset);
