import type { Logger } from '../log/logger.js';
import { AbuseDetector, type Offender } from './abuse-detector.js';
import type { AdaptiveStateStore, ControllerId, PenaltyEntry } from './adaptive-state.js';
import type { ControllerMetrics } from './controller-metrics.js';
import type { AbuseParams } from './controller-params.js';
import { SharedStateHealth } from './state-health.js';

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
  /** The box as last read (/v1/adaptive lists it with `listed`). */
  entries: readonly PenaltyEntry[] = [];
  private health: SharedStateHealth;
  private queue: Offender[] = [];
  /**
   * Penalties from signals received here that the box, as last read, does not show yet:
   * listed by /v1/adaptive until the next refresh reads them back (a signal applies here
   * at once, so the view lists it at once too).
   */
  private recent = new Map<string, PenaltyEntry>();

  constructor(
    readonly id: ControllerId,
    readonly params: AbuseParams,
    readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
  ) {
    this.detector = new AbuseDetector(params);
    this.health = new SharedStateHealth(id, metrics, logger);
    metrics.boxed(0);
  }

  /** False while the shared box cannot be read (no value is penalized meanwhile). */
  get stateOk(): boolean {
    return this.health.ok;
  }

  get shadowMode(): boolean {
    return this.params.shadowMode;
  }

  /** Keeps the box copy of the runtime this one replaces (the detector starts over). */
  inherit(previous: AbuseRuntime): void {
    this.boxed = previous.boxed;
    this.entries = previous.entries;
    this.recent = previous.recent;
    this.health = previous.health;
    this.metrics.boxed(this.boxed.size);
  }

  /** The box as /v1/adaptive lists it at `nowMs`: as last read plus the signals received here since, latest expiry first. */
  listed(nowMs: number): PenaltyEntry[] {
    const all =
      this.recent.size === 0
        ? this.entries
        : [...this.entries.filter((e) => !this.recent.has(e.value)), ...this.recent.values()].sort(
            (a, b) => b.expiresAtMs - a.expiresAtMs,
          );
    return all.filter((e) => e.expiresAtMs > nowMs);
  }

  /** The penalty factor for `value` at `nowMs`: penalty.factor while boxed, else 1 (shadow mode included). */
  penaltyFactor(value: string, nowMs: number): number {
    const expiresAtMs = this.boxed.get(value);
    return expiresAtMs !== undefined && nowMs < expiresAtMs ? this.params.penalty.factor : 1;
  }

  /** A signal: boxes `value` here now and in the shared box (awaited by nobody; failures are counted). */
  penalize(state: AdaptiveStateStore, value: string, ttlMs: number, reason: string, nowMs: number): void {
    const expiresAtMs = Math.max(this.boxed.get(value) ?? 0, nowMs + ttlMs);
    this.boxed.set(value, expiresAtMs);
    // until the shared box answers (and a refresh reads it back), this entry keeps it boxed here
    const offences = this.recent.get(value)?.offences ?? 1;
    this.recent.set(value, { value, expiresAtMs, reason, offences });
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
      this.health.succeeded();
      this.entries = entries;
      this.boxed = new Map(entries.map((e) => [e.value, e.expiresAtMs]));
      // read back: the store's entry is the one to list; a signal flagged while the read was
      // in flight is not in it yet and stays boxed here from `recent`
      for (const e of entries) this.recent.delete(e.value);
      for (const [value, e] of this.recent) {
        if (e.expiresAtMs <= nowMs) this.recent.delete(value);
        else this.boxed.set(value, Math.max(this.boxed.get(value) ?? 0, e.expiresAtMs));
      }
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
      if (offender === undefined) {
        const { expiresAtMs, offences } = result;
        this.recent.set(value, { value, expiresAtMs, reason: options.reason, offences });
      }
      if (!result.newOffence) return;
      this.logger.info(
        {
          ...this.health.fields(),
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
    this.health.failed(error);
    this.boxed = new Map();
    this.recent.clear();
  }
}
