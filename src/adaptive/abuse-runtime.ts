import type { Logger } from '../log/logger.js';
import { AbuseDetector, type Offender } from './abuse-detector.js';
import type { AdaptiveStateStore, ControllerId, PenaltyEntry } from './adaptive-state.js';
import type { ControllerMetrics } from './controller-metrics.js';
import type { AbuseParams } from './controller-params.js';

/** Boxed values one replica holds per controller (and reads from the shared box per refresh). */
export const MAX_BOXED_VALUES = 100_000;
/** Offenders sent to the shared box per tick; the rest wait in a queue bounded by MAX_BOXED_VALUES. */
const FLAGS_PER_TICK = 1_000;

/**
 * One `abuse` controller as the engine runs it: the detector watching this replica's
 * decisions, and a local copy of the shared penalty box (value → expiry) that the hot path
 * reads with one Map lookup. Each refresh tick sends the detector's offenders to the shared
 * box and reloads the copy from it, so a value flagged on any replica (by its detector or
 * a signal) is limited on every replica within one tick. A signal received here applies
 * here at once.
 */
export class AbuseRuntime {
  readonly type = 'abuse';
  readonly detector: AbuseDetector;
  /** value → expiry, ms since the epoch: the box as last read, plus flags made here since. */
  boxed = new Map<string, number>();
  /** The box as last read, for /v1/adaptive. */
  entries: readonly PenaltyEntry[] = [];
  stateOk = true;
  private queue: Offender[] = [];

  constructor(
    readonly id: ControllerId,
    readonly params: AbuseParams,
    readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
  ) {
    this.detector = new AbuseDetector(params);
    metrics.boxed(0);
  }

  get shadowMode(): boolean {
    return this.params.shadowMode;
  }

  /** Keeps the box copy of the runtime this one replaces (the detector starts over). */
  inherit(previous: AbuseRuntime): void {
    this.boxed = previous.boxed;
    this.entries = previous.entries;
    this.stateOk = previous.stateOk;
    this.metrics.boxed(this.boxed.size);
  }

  /** The penalty factor for `value` at `nowMs`: penalty.factor while boxed, else 1 (shadow mode included). */
  penaltyFactor(value: string, nowMs: number): number {
    const expiresAtMs = this.boxed.get(value);
    return expiresAtMs !== undefined && nowMs < expiresAtMs ? this.params.penalty.factor : 1;
  }

  /** A signal: boxes `value` here now and in the shared box (awaited by nobody; failures are counted). */
  penalize(state: AdaptiveStateStore, value: string, ttlMs: number, reason: string, nowMs: number): void {
    this.boxed.set(value, Math.max(this.boxed.get(value) ?? 0, nowMs + ttlMs));
    this.metrics.boxed(this.boxed.size);
    void this.flag(state, value, nowMs, { ttlMs, reason });
  }

  /** Sends this replica's offenders to the shared box, then reloads the box. */
  async refresh(state: AdaptiveStateStore, nowMs: number): Promise<void> {
    for (const offender of this.detector.offenders(nowMs)) this.queue.push(offender);
    if (this.queue.length > MAX_BOXED_VALUES) this.queue.splice(0, this.queue.length - MAX_BOXED_VALUES);
    const batch = this.queue.splice(0, FLAGS_PER_TICK);
    await Promise.all(batch.map((o) => this.flag(state, o.value, nowMs, { reason: o.reason }, o)));
    try {
      const entries = await state.penalties(this.id, nowMs, MAX_BOXED_VALUES);
      if (!this.stateOk) this.logger.info(this.fields(), 'adaptive: shared state readable again');
      this.stateOk = true;
      this.entries = entries;
      this.boxed = new Map(entries.map((e) => [e.value, e.expiresAtMs]));
    } catch (error) {
      this.fail(error);
    }
    this.metrics.boxed(this.boxed.size);
  }

  private async flag(
    state: AdaptiveStateStore,
    value: string,
    nowMs: number,
    options: { ttlMs?: number; reason: string },
    offender?: Offender,
  ): Promise<void> {
    try {
      const result = await state.flag(this.id, this.params.penalty, value, nowMs, options);
      if (!result.newOffence) return;
      this.logger.info(
        {
          ...this.fields(),
          value,
          reason: options.reason,
          factor: this.params.penalty.factor,
          expiresAt: new Date(result.expiresAtMs).toISOString(),
          offences: result.offences,
          shadowMode: this.params.shadowMode,
          ...(offender === undefined ? {} : { requests: offender.total, overLimit: offender.overLimit }),
        },
        'adaptive: value penalized',
      );
    } catch (error) {
      this.fail(error);
    }
  }

  /** Fail static: with the box unreadable, no value is penalized (the configured limits apply). */
  private fail(error: unknown): void {
    this.metrics.stateError();
    if (this.stateOk) {
      this.logger.warn(
        { ...this.fields(), error: error instanceof Error ? error.message : String(error) },
        'adaptive: shared state unreadable; the configured limits apply until it is back',
      );
    }
    this.stateOk = false;
    this.boxed = new Map();
  }

  private fields(): Record<string, string> {
    return { domain: this.id.domain, controller: this.id.name };
  }
}
