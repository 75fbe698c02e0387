import type { Logger } from '../log/logger.js';
import type { AdaptiveStateStore, ControllerId, ErrorRateRecord, SampleAdd } from './adaptive-state.js';
import type { ControllerMetrics } from './controller-metrics.js';
import type { ErrorRateParams } from './controller-params.js';
import { nextFactor } from './error-rate-controller.js';
import { SharedStateHealth } from './state-health.js';

/** Buffered samples of one interval, not yet added to the shared sums. */
interface Pending {
  total: number;
  errors: number;
  upstream429: number;
}

/**
 * A record not written for this long is dropped by the store: while any replica runs, one
 * is written every interval, so only a controller nobody runs any more expires (and starts
 * again at factor 1).
 */
export function recordTtlMs(params: ErrorRateParams): number {
  return Math.max(3_600_000, 100 * params.intervalMs);
}

/**
 * One `error_rate` controller as the engine runs it: buffers samples, and on each refresh
 * tick adds them to the shared interval sums, closes the last finished interval once for
 * every replica (the store's compare-and-set) with nextFactor, and keeps the result where
 * the hot path reads it (`enforced`: a field, no call).
 *
 * Closing waits `closeDelayMs` after an interval ends, so the samples other replicas
 * buffered before its end (flushed by their own ticks) are in the sums. The reaction time
 * is at most interval + closeDelay + one tick.
 */
export class ErrorRateRuntime {
  readonly type = 'error_rate';
  /** The factor answers use: the computed one, or 1 in shadow mode or while the state cannot be read. */
  enforced = 1;
  /** The factor the controller computed from the shared record (1 when there is none). */
  computed = 1;
  record: ErrorRateRecord | undefined;
  private health: SharedStateHealth;
  private pending = new Map<number, Pending>();

  constructor(
    readonly id: ControllerId,
    readonly params: ErrorRateParams,
    readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
  ) {
    this.health = new SharedStateHealth(id, metrics, logger);
    metrics.factor(1);
  }

  /** False while the last refresh failed (fail static: the configured limits apply). */
  get stateOk(): boolean {
    return this.health.ok;
  }

  get shadowMode(): boolean {
    return this.params.shadowMode;
  }

  /** Carries the last known state over from the runtime this one replaces (a reload that changed params). */
  inherit(previous: ErrorRateRuntime): void {
    this.record = previous.record;
    this.pending = previous.pending;
    this.health = previous.health;
    this.setComputed(previous.computed);
  }

  /** Adds samples to the interval open at `nowMs` (applied to the shared sums on the next tick). */
  add(total: number, errors: number, upstream429: number, nowMs: number): void {
    const start = Math.floor(nowMs / this.params.intervalMs) * this.params.intervalMs;
    let pending = this.pending.get(start);
    if (pending === undefined) {
      pending = { total: 0, errors: 0, upstream429: 0 };
      this.pending.set(start, pending);
    }
    pending.total += total;
    pending.errors += Math.min(errors, total);
    pending.upstream429 += upstream429;
  }

  /** The buffered samples, emptied: the engine sends every controller's in one batch. */
  takePending(): SampleAdd[] {
    const adds: SampleAdd[] = [];
    for (const [intervalStartMs, p] of this.pending) {
      if (p.total > 0) {
        adds.push({ id: this.id, intervalStartMs, intervalMs: this.params.intervalMs, ...p });
      }
    }
    this.pending.clear();
    return adds;
  }

  /** Reads (and, when due, closes) the shared state; on failure the configured limits apply. */
  async refresh(state: AdaptiveStateStore, nowMs: number, closeDelayMs: number): Promise<void> {
    const { intervalMs } = this.params;
    const closable = Math.floor((nowMs - closeDelayMs) / intervalMs) * intervalMs - intervalMs;
    try {
      const read = await state.readErrorRate(this.id, closable);
      let record = read.record;
      if (record === undefined || record.closedStartMs < closable) {
        const base = record?.factor ?? 1;
        const next = nextFactor(base, read.totals, this.params);
        const candidate: ErrorRateRecord = {
          factor: next.factor,
          decision: next.decision,
          closedStartMs: closable,
          samples: read.totals.total,
          errors: read.totals.errors,
          sinceMs: next.factor !== base ? closable + intervalMs : record?.sinceMs,
        };
        record = await state.writeErrorRate(
          this.id,
          record?.closedStartMs,
          candidate,
          recordTtlMs(this.params),
        );
      }
      this.apply(record);
    } catch (error) {
      this.fail(error);
    }
  }

  /** The samples buffered locally for the open interval (shown by /v1/adaptive). */
  localOpen(nowMs: number): { startMs: number; samples: number; errors: number; upstream429: number } {
    const start = Math.floor(nowMs / this.params.intervalMs) * this.params.intervalMs;
    const p = this.pending.get(start);
    return {
      startMs: start,
      samples: p?.total ?? 0,
      errors: p?.errors ?? 0,
      upstream429: p?.upstream429 ?? 0,
    };
  }

  private apply(record: ErrorRateRecord | undefined): void {
    this.health.succeeded();
    this.record = record;
    const factor = record?.factor ?? 1;
    if (factor !== this.computed) {
      this.logger.info(
        {
          ...this.health.fields(),
          factor,
          previous: this.computed,
          decision: record?.decision ?? 'reset',
          samples: record?.samples,
          errors: record?.errors,
          shadowMode: this.params.shadowMode,
        },
        'adaptive: factor changed',
      );
    }
    this.setComputed(factor);
  }

  private fail(error: unknown): void {
    this.health.failed(error);
    this.enforced = 1;
  }

  private setComputed(factor: number): void {
    this.computed = factor;
    this.enforced = this.params.shadowMode || !this.stateOk ? 1 : factor;
    this.metrics.factor(factor);
  }
}
