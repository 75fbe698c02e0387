import type { Clock } from '../core/clock.js';
import type { DescriptorEntry } from '../core/descriptor.js';
import type { Limit, LimitMatch, LimitRule } from '../core/limit.js';
import type { RuleSet } from '../core/rule-set.js';
import type { Logger } from '../log/logger.js';
import type { DecisionObserver } from '../service/decision-observer.js';
import type { CounterDecision } from '../storage/counter-store.js';
import { AbuseRuntime } from './abuse-runtime.js';
import type { AdaptiveStateStore } from './adaptive-state.js';
import { type AdaptiveView, viewOf } from './adaptive-view.js';
import { type ControllerMetricsFactory, NO_CONTROLLER_METRICS } from './controller-metrics.js';
import type { ControllerParams } from './controller-params.js';
import { describeEffective } from './describe-effective.js';
import { adaptiveRules, type FactorSource, type RuleFactor } from './effective-rules.js';
import { ErrorRateRuntime } from './error-rate-runtime.js';
import type { SignalOutcome, SignalSink } from './signal-sink.js';
import { type ErrorSampleKey, type ErrorSampleSink, sampleMatches } from './signals/access-log-classifier.js';

/** A loaded config's controllers: domain → its `adaptive:` list. */
export type DomainControllers = ReadonlyMap<string, readonly ControllerParams[]>;

/** What the engine needs from a loaded config (RateLimitConfig provides it). */
export interface AdaptiveConfig extends RuleSet {
  adaptiveControllers(): DomainControllers;
}

export interface AdaptiveEngineOptions {
  readonly state: AdaptiveStateStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: ControllerMetricsFactory | undefined;
  /** How often the shared state is read (and samples written), ms; at least 1 000 (one read per second). */
  readonly refreshMs?: number | undefined;
}

type Runtime = ErrorRateRuntime | AbuseRuntime;

const DEFAULT_REFRESH_MS = 1_000;

/**
 * The adaptive module at run time (DESIGN.md "Adaptive limits"): the controllers of the
 * loaded config, fed by signals (access logs, POST /v1/signals) and by the service's own
 * decisions, sharing their state through an AdaptiveStateStore, and applied to answers as
 * the rules decorator's FactorSource.
 *
 * Hot path: a rule without `adaptive` costs one property read (effective-rules.ts); an
 * adaptive rule reads factors from fields and, for abuse controllers with boxed values, one
 * Map lookup. Nothing on the hot path awaits or calls the store: a timer (`start`) refreshes
 * every controller from the store once per `refreshMs`.
 */
export class AdaptiveEngine implements FactorSource, SignalSink, ErrorSampleSink, DecisionObserver {
  private readonly state: AdaptiveStateStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: ControllerMetricsFactory;
  readonly refreshMs: number;
  /** A replica closes an interval this long after its end, when every replica has flushed it. */
  readonly closeDelayMs: number;
  private runtimes = new Map<string, Runtime>();
  private errorRates: ErrorRateRuntime[] = [];
  private configured: DomainControllers | undefined;
  private readonly abusesByRule = new WeakMap<LimitRule, readonly AbuseRuntime[]>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(options: AdaptiveEngineOptions) {
    this.state = options.state;
    this.clock = options.clock;
    this.logger = options.logger;
    this.metrics = options.metrics ?? NO_CONTROLLER_METRICS;
    this.refreshMs = Math.max(DEFAULT_REFRESH_MS, options.refreshMs ?? DEFAULT_REFRESH_MS);
    this.closeDelayMs = this.refreshMs + 500;
  }

  get scope(): AdaptiveStateStore['scope'] {
    return this.state.scope;
  }

  /**
   * The rules decorator for app.ts: takes each loaded config's controllers, then scales its
   * adaptive rules. Runs before the config's first answer, so no rule is ever resolved
   * against the previous config's controllers.
   */
  readonly decorate = (config: AdaptiveConfig): RuleSet => {
    const controllers = config.adaptiveControllers();
    this.configure(controllers);
    // a config without controllers is served as loaded: not even a wrapper call per match
    return controllers.size === 0 ? config : adaptiveRules(this)(config);
  };

  /**
   * Sets the controllers. One whose domain, name, type and parameters are unchanged keeps
   * its runtime; a changed one gets a new runtime that keeps the last known state; one no
   * longer configured is dropped with its metrics. Calling it again with the same map is free.
   */
  configure(controllers: DomainControllers): void {
    if (controllers === this.configured) return;
    this.configured = controllers;
    const next = new Map<string, Runtime>();
    for (const [domain, list] of controllers) {
      for (const params of list) {
        const key = runtimeKey(domain, params.name);
        const previous = this.runtimes.get(key);
        if (previous !== undefined && sameParams(previous.params, params)) {
          next.set(key, previous);
          continue;
        }
        const runtime = this.create(domain, params);
        if (previous !== undefined && previous.type === runtime.type) {
          (runtime as { inherit(p: Runtime): void }).inherit(previous);
        }
        next.set(key, runtime);
      }
    }
    // a replaced controller keeps its series (same labels); only a dropped one loses them
    for (const [key, runtime] of this.runtimes) if (!next.has(key)) runtime.metrics.remove();
    this.runtimes = next;
    this.errorRates = [...next.values()].filter((r): r is ErrorRateRuntime => r instanceof ErrorRateRuntime);
  }

  // FactorSource: asked once per adaptive rule of each decorated config.
  ruleFactor(domain: string, rule: LimitRule): RuleFactor | undefined {
    const runtimes = (rule.adaptive ?? [])
      .map((name) => this.runtimes.get(runtimeKey(domain, name)))
      .filter((r): r is Runtime => r !== undefined);
    if (runtimes.length === 0) return undefined;
    const errorRates = runtimes.filter((r): r is ErrorRateRuntime => r instanceof ErrorRateRuntime);
    const abuses = runtimes.filter((r): r is AbuseRuntime => r instanceof AbuseRuntime);
    const clock = this.clock;
    if (abuses.length === 0 && errorRates.length === 1) {
      const only = errorRates[0]!;
      return {
        factor: () => {
          if (only.shadowMode && only.computed < 1) only.metrics.shadowed();
          return only.enforced;
        },
      };
    }
    return {
      factor: (value) => {
        let factor = 1;
        for (const e of errorRates) {
          if (e.shadowMode && e.computed < 1) e.metrics.shadowed();
          factor *= e.enforced;
        }
        let nowMs: number | undefined;
        for (const a of abuses) {
          if (a.boxed.size === 0) continue;
          nowMs ??= clock.nowMs();
          const penalty = a.penaltyFactor(value, nowMs);
          if (penalty >= 1) continue;
          if (a.shadowMode) a.metrics.shadowed();
          else factor *= penalty;
        }
        return factor;
      },
    };
  }

  // SignalSink: POST /v1/signals and the gRPC SignalService.
  errorRate(domain: string, controller: string, total: number, errors: number): SignalOutcome {
    const runtime = this.find<ErrorRateRuntime>(domain, controller, 'error_rate');
    if (typeof runtime === 'string') return { ok: false, reason: runtime };
    runtime.add(total, errors, 0, this.clock.nowMs());
    return { ok: true };
  }

  penalize(domain: string, controller: string, value: string, ttlMs: number, reason: string): SignalOutcome {
    const runtime = this.find<AbuseRuntime>(domain, controller, 'abuse');
    if (typeof runtime === 'string') return { ok: false, reason: runtime };
    runtime.penalize(this.state, value, ttlMs, reason === '' ? 'signal' : reason, this.clock.nowMs());
    return { ok: true };
  }

  // ErrorSampleSink: Envoy's access logs, one call per (cluster, route, authority) per message.
  record(key: ErrorSampleKey, total: number, errors: number, upstream429: number): void {
    let nowMs: number | undefined;
    for (const runtime of this.errorRates) {
      if (!sampleMatches(runtime.params.match, key)) continue;
      nowMs ??= this.clock.nowMs();
      runtime.add(total, errors, upstream429, nowMs);
    }
  }

  // DecisionObserver: the service's own decisions feed the abuse detectors.
  charged(
    domain: string,
    match: LimitMatch,
    entries: readonly DescriptorEntry[],
    hits: number,
    _limit: Limit,
    decision: CounterDecision,
  ): void {
    if (match.rule.adaptive === undefined || hits === 0 || match.fromOverride) return;
    let abuses = this.abusesByRule.get(match.rule);
    if (abuses === undefined) {
      abuses = match.rule.adaptive
        .map((name) => this.runtimes.get(runtimeKey(domain, name)))
        .filter((r): r is AbuseRuntime => r instanceof AbuseRuntime);
      this.abusesByRule.set(match.rule, abuses);
    }
    if (abuses.length === 0) return;
    const value = entries[entries.length - 1]!.value;
    const nowMs = this.clock.nowMs();
    for (const abuse of abuses) abuse.detector.observe(value, decision.overLimit, nowMs);
  }

  domainNotFound(): void {}

  failed(): void {}

  /** Starts the refresh timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    if (this.state.scope === 'process') {
      this.logger.info(
        'adaptive: state kept per process (memory backend): factors and penalties are not shared with other replicas',
      );
    }
    this.timer = setInterval(() => void this.tick(), this.refreshMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a tick in progress. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.state.close();
  }

  /**
   * One refresh: every controller's buffered samples go to the store in one batch, then
   * each controller reads (and when due closes) its shared state. A tick still running
   * when the next is due is not overlapped: the later one is skipped.
   */
  tick(): Promise<void> {
    if (this.ticking !== undefined) return this.ticking;
    this.ticking = this.refresh().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** GET /v1/adaptive on the debug port. */
  view(): AdaptiveView {
    return viewOf([...this.runtimes.values()], this.state.scope, this.refreshMs, this.clock.nowMs());
  }

  /** `/rlconfig`: the config's lines, each adaptive rule's with its effective limit now. */
  describe(lines: readonly string[], domains: readonly string[]): string[] {
    return describeEffective(lines, domains, (domain, name) => this.runtimes.get(runtimeKey(domain, name)));
  }

  private async refresh(): Promise<void> {
    const nowMs = this.clock.nowMs();
    const adds = this.errorRates.flatMap((r) => r.takePending());
    if (adds.length > 0) {
      await this.state.addSamples(adds).catch((error: Error) => {
        for (const r of this.errorRates) r.metrics.stateError();
        this.logger.warn({ error: error.message, samples: adds.length }, 'adaptive: samples not saved');
      });
    }
    await Promise.all(
      [...this.runtimes.values()].map((r) =>
        r instanceof ErrorRateRuntime
          ? r.refresh(this.state, nowMs, this.closeDelayMs)
          : r.refresh(this.state, nowMs),
      ),
    );
  }

  private create(domain: string, params: ControllerParams): Runtime {
    const id = { domain, name: params.name };
    const metrics = this.metrics(domain, params.name, params.type);
    return params.type === 'error_rate'
      ? new ErrorRateRuntime(id, params, metrics, this.logger)
      : new AbuseRuntime(id, params, metrics, this.logger);
  }

  /** The named controller if it has `type`, else the reason for a 400. */
  private find<T extends Runtime>(domain: string, name: string, type: T['type']): T | string {
    const runtime = this.runtimes.get(runtimeKey(domain, name));
    if (runtime === undefined) {
      const declared = [...this.runtimes.values()]
        .filter((r) => r.id.domain === domain)
        .map((r) => r.id.name);
      const known = declared.length === 0 ? 'it declares none' : `declared: ${declared.join(', ')}`;
      return `domain "${domain}" has no adaptive controller "${name}" (${known})`;
    }
    if (runtime.type !== type) {
      return `controller "${name}" of domain "${domain}" is ${runtime.type}, not ${type}`;
    }
    return runtime as T;
  }
}

function runtimeKey(domain: string, name: string): string {
  return `${domain.length}:${domain}${name}`;
}

function sameParams(a: ControllerParams, b: ControllerParams): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
