import type { PenaltyParams } from './controller-params.js';
import type { ErrorRateDecision, IntervalTotals } from './error-rate-controller.js';
import type { FlagOptions, FlagResult } from './penalty-box.js';

/**
 * Where the adaptive module keeps what replicas must agree on (DESIGN.md "Adaptive
 * limits", "State and views"): error-rate sums per interval, each error_rate
 * controller's factor, and each abuse controller's penalty box.
 *
 * Two implementations: memory-adaptive-state.ts (this process only: the memory
 * backend) and storage/redis/redis-adaptive-state.ts (every replica and worker on one
 * Redis). The engine (adaptive-engine.ts) calls it from its refresh tick and from
 * signals, never from ShouldRateLimit: the hot path reads the engine's local copy.
 *
 * Every method may reject (Redis down); the engine then applies the configured
 * limits (fail static) and counts the failure.
 */
export interface AdaptiveStateStore {
  /** 'shared': every replica on the same Redis sees the same state; 'process': this process only. */
  readonly scope: 'shared' | 'process';
  /** Adds buffered samples to their intervals' sums, in one round trip. Sums expire a few intervals later. */
  addSamples(adds: readonly SampleAdd[]): Promise<void>;
  /**
   * The controller's record (undefined when there is none: never written, expired or
   * deleted, which means factor 1) and the totals summed for the interval that starts
   * at `intervalStartMs` (zeros when none), read together.
   */
  readErrorRate(id: ControllerId, intervalStartMs: number): Promise<ErrorRateRead>;
  /**
   * Stores `next` only if the stored record's closedStartMs is still `expectedClosedStartMs`
   * (undefined: only if there is no record), so of several replicas closing the same
   * interval exactly one applies it. Returns the record stored afterwards: `next`, or
   * the one another replica wrote first. The record expires after `ttlMs` without a write.
   */
  writeErrorRate(
    id: ControllerId,
    expectedClosedStartMs: number | undefined,
    next: ErrorRateRecord,
    ttlMs: number,
  ): Promise<ErrorRateRecord | undefined>;
  /** Puts `value` in the controller's penalty box at `nowMs` (escalation as penalty-box.ts defines it). */
  flag(
    id: ControllerId,
    penalty: PenaltyParams,
    value: string,
    nowMs: number,
    options: FlagOptions,
  ): Promise<FlagResult>;
  /** Values boxed at `nowMs` (expiry after nowMs), at most `limit` of them, latest expiry first. */
  penalties(id: ControllerId, nowMs: number, limit: number): Promise<PenaltyEntry[]>;
  /** Releases what the store owns (not a shared Redis connection). */
  close(): Promise<void>;
}

/** One controller: its domain and its name there. */
export interface ControllerId {
  readonly domain: string;
  readonly name: string;
}

/** Samples to add to one interval of one error_rate controller. */
export interface SampleAdd {
  readonly id: ControllerId;
  readonly intervalStartMs: number;
  readonly intervalMs: number;
  readonly total: number;
  readonly errors: number;
}

export interface ErrorRateRead {
  readonly record: ErrorRateRecord | undefined;
  readonly totals: IntervalTotals;
}

/** The shared state of one error_rate controller: what every replica applies. */
export interface ErrorRateRecord {
  /** In [floor, 1]. */
  readonly factor: number;
  readonly decision: ErrorRateDecision;
  /** Start of the last interval applied, ms since the epoch. */
  readonly closedStartMs: number;
  /** That interval's totals. */
  readonly samples: number;
  readonly errors: number;
  /** When the factor took its current value, ms since the epoch; undefined while it never changed. */
  readonly sinceMs: number | undefined;
}

/** One boxed value. */
export interface PenaltyEntry {
  readonly value: string;
  readonly expiresAtMs: number;
  readonly reason: string;
  readonly offences: number;
}
