import { type Evaluation, type LimitParams, toResetSeconds } from '../core/algorithm.js';
import { stateKey } from '../core/key-layout.js';
import { MODELS } from '../core/models.js';
import type { CounterCheck, CounterDecision } from './counter-store.js';

/** Reads and writes the state of one counter key within a decision. */
export interface StateAccess {
  get(key: string): unknown;
  set(key: string, state: unknown, expiresAtMs: number): void;
}

export function limitParams(check: CounterCheck): LimitParams {
  return { requestsPerUnit: check.requestsPerUnit, unitMs: check.unitSeconds * 1000, burst: check.burst };
}

/**
 * The decision procedure every store follows (check all, then commit), run
 * over any synchronous state access. Checks on one key see each other's
 * charges in order.
 */
export function applyChecks(
  checks: readonly CounterCheck[],
  nowMs: number,
  states: StateAccess,
  options: { stopIncrementWhenOverLimit: boolean },
): CounterDecision[] {
  if (checks.length === 1) return [applyOne(checks[0]!, nowMs, states, options.stopIncrementWhenOverLimit)];
  const keys = checks.map((check) => stateKey(check, MODELS[check.algorithm].windowed, nowMs));
  const stored = keys.map((key) => states.get(key));
  const params = checks.map(limitParams);
  const work = new Map<string, unknown>();
  const stateOf = (i: number) => (work.has(keys[i]!) ? work.get(keys[i]!) : stored[i]);
  const evaluations: Evaluation<unknown>[] = new Array(checks.length);
  const stopIncrement = options.stopIncrementWhenOverLimit;
  let rejected = false;
  let stop = false;
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i]!;
    const model = MODELS[check.algorithm];
    const evaluation = model.evaluate(stateOf(i), params[i]!, check.hits, nowMs);
    evaluations[i] = evaluation;
    if (!evaluation.admitted && check.blocking) rejected = true;
    if (
      stopIncrement &&
      (check.chargedWhenRejected
        ? goingOver(check, stored[i], nowMs)
        : !evaluation.admitted && check.blocking)
    ) {
      stop = true;
    }
    // later checks on the same key see this one charged (the reference increments twice)
    work.set(
      keys[i]!,
      evaluation.admitted || check.chargedWhenRejected ? evaluation.charged : evaluation.uncharged,
    );
  }
  const decisions: CounterDecision[] = new Array(checks.length);
  work.clear();
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i]!;
    const evaluation = evaluations[i]!;
    const charge = shouldCharge(check, evaluation, rejected, stop);
    const state = charge ? evaluation.charged : evaluation.uncharged;
    const key = keys[i]!;
    // an uncharged check only rewrites existing state (dropping what expired); it never creates a key
    if (charge || (!work.has(key) && stored[i] !== undefined)) {
      work.set(key, state);
      states.set(key, state, MODELS[check.algorithm].expiresAtMs(state, params[i]!));
    }
    decisions[i] = decisionOf(evaluation, charge);
  }
  return decisions;
}

/**
 * `applyChecks` for one check (one descriptor with one limit: the common
 * request), without the bookkeeping that checks sharing a key need.
 */
function applyOne(
  check: CounterCheck,
  nowMs: number,
  states: StateAccess,
  stopIncrement: boolean,
): CounterDecision {
  const model = MODELS[check.algorithm];
  const key = stateKey(check, model.windowed, nowMs);
  const stored = states.get(key);
  const params = limitParams(check);
  const evaluation = model.evaluate(stored, params, check.hits, nowMs);
  const rejected = !evaluation.admitted && check.blocking;
  // judged against the stored state, as goingOver does: that is what `evaluation` saw
  const stop = stopIncrement && (check.chargedWhenRejected ? !evaluation.admitted : rejected);
  const charge = shouldCharge(check, evaluation, rejected, stop);
  const state = charge ? evaluation.charged : evaluation.uncharged;
  if (charge || stored !== undefined) states.set(key, state, model.expiresAtMs(state, params));
  return decisionOf(evaluation, charge);
}

function decisionOf(evaluation: Evaluation<unknown>, charge: boolean): CounterDecision {
  return {
    overLimit: !evaluation.admitted,
    remaining: charge ? evaluation.remainingIfCharged : evaluation.remainingIfNotCharged,
    resetSeconds: toResetSeconds(
      !evaluation.admitted
        ? evaluation.retryAfterMs
        : charge
          ? evaluation.resetIfChargedMs
          : evaluation.resetIfNotChargedMs,
    ),
    used: charge ? evaluation.usedIfCharged : evaluation.usedIfNotCharged,
  };
}

/**
 * STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT judges a check charged when rejected (a
 * lone fixed window) against its count before this call, as the reference's GET
 * pipeline does, so two checks on one key are judged alike.
 */
function goingOver(check: CounterCheck, before: unknown, nowMs: number): boolean {
  return !MODELS[check.algorithm].evaluate(before, limitParams(check), check.hits, nowMs).admitted;
}

/**
 * `chargedWhenRejected` (a lone fixed window): always charged (the reference),
 * except that with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT (`stop`: such a check is
 * going over, or another check rejects) only those going over are charged. Every
 * other check: charged iff it admits and no blocking check rejected the request.
 */
function shouldCharge(
  check: CounterCheck,
  evaluation: Evaluation<unknown>,
  rejected: boolean,
  stop: boolean,
): boolean {
  if (check.hits === 0) return false;
  if (check.chargedWhenRejected) return !(stop && evaluation.admitted);
  return evaluation.admitted && !rejected;
}
