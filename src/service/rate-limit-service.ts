import type { Clock } from '../core/clock.js';
import {
  type Code,
  type DescriptorStatus,
  type HeaderValue,
  type RateLimitResult,
  UNLIMITED_REMAINING,
} from '../core/decision.js';
import { hitsFor, type RateLimitRequest } from '../core/descriptor.js';
import { BackendUnavailableError, NoConfigError, RateLimitError } from '../core/errors.js';
import { counterKey } from '../core/key-layout.js';
import type { LimitMatch } from '../core/limit.js';
import type { RuleSet } from '../core/rule-set.js';
import { UNIT_SECONDS } from '../core/units.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../storage/counter-store.js';
import { combineObservers, type DecisionObserver } from './decision-observer.js';
import { matchDescriptors } from './descriptor-matching.js';
import { dynamicMetadata } from './dynamic-metadata.js';
import { validateRequest } from './request-validation.js';
import { NO_HEADERS, rateLimitHeaders } from './response-headers.js';
import type { ServiceOptions } from './service-options.js';

export interface RateLimitServiceDeps {
  /**
   * The current rules, read once per request; undefined until a config has
   * loaded. Every limit the service applies and reports comes from here
   * (LimitMatch → rule → limits), so a decorated RuleSet (decoratedRules)
   * changes the effective limits of every answer.
   */
  readonly rules: () => RuleSet | undefined;
  readonly store: CounterStore;
  readonly clock: Clock;
  readonly options: ServiceOptions;
  /**
   * Decision hooks (per rule statistics, adaptive limits), called in order;
   * none = no observing work. Combined once here: see {@link combineObservers}.
   */
  readonly observers?: readonly DecisionObserver[] | undefined;
}

/** No limit, replaced, or unknown domain: `{OK}` with nothing else (envoyproxy/ratelimit src/limiter/base_limiter.go). */
const NO_LIMIT_STATUS: DescriptorStatus = Object.freeze({ code: 'OK', limitRemaining: 0 });
/** Unlimited: `{OK, limit_remaining 4294967295}`, no current_limit (envoyproxy/ratelimit src/service/ratelimit.go). */
const UNLIMITED_STATUS: DescriptorStatus = Object.freeze({ code: 'OK', limitRemaining: UNLIMITED_REMAINING });
const NO_DECISIONS: readonly CounterDecision[] = Object.freeze([]);

/**
 * ShouldRateLimit, transport-free (envoyproxy/ratelimit src/service/ratelimit.go).
 * Over-limit is an answer;
 * failures are typed errors: InvalidArgumentError (bad request),
 * NoConfigError (nothing loaded), BackendUnavailableError (store failed).
 *
 * Every charged descriptor of a request goes to the store in one `apply`
 * call, so a decision costs one store round trip at most.
 */
export class RateLimitService {
  private readonly rules: () => RuleSet | undefined;
  private readonly store: CounterStore;
  private readonly clock: Clock;
  private readonly options: ServiceOptions;
  private readonly observer: DecisionObserver | undefined;

  constructor(deps: RateLimitServiceDeps) {
    this.rules = deps.rules;
    this.store = deps.store;
    this.clock = deps.clock;
    this.options = deps.options;
    this.observer = combineObservers(deps.observers ?? []);
  }

  /**
   * One status per request descriptor, in order; overall OVER_LIMIT when a
   * non-quota descriptor is over, or every quota descriptor is, then forced
   * to OK by global shadow mode (envoyproxy/ratelimit src/service/ratelimit.go).
   *
   * @throws InvalidArgumentError, NoConfigError, BackendUnavailableError
   */
  shouldRateLimit(req: RateLimitRequest): Promise<RateLimitResult> {
    return this.observer === undefined ? this.decide(req) : this.decideObserved(req, this.observer);
  }

  /** `decide`, reporting a failure to the observer before it propagates. */
  private async decideObserved(req: RateLimitRequest, observer: DecisionObserver): Promise<RateLimitResult> {
    try {
      return await this.decide(req);
    } catch (error) {
      observer.failed(error);
      throw error;
    }
  }

  private async decide(req: RateLimitRequest): Promise<RateLimitResult> {
    validateRequest(req, this.options.requestLimits);
    const rules = this.rules();
    if (rules === undefined) throw new NoConfigError();
    if (this.observer !== undefined && !rules.hasDomain(req.domain)) this.observer.domainNotFound(req.domain);
    const nowMs = this.clock.nowMs();
    const matches = matchDescriptors(rules, req);
    const checks = this.checksFor(req, matches);
    let decisions: readonly CounterDecision[] = NO_DECISIONS;
    if (checks.length > 0) {
      try {
        decisions = await this.store.apply(checks, nowMs);
      } catch (error) {
        throw this.storeFailure(error);
      }
      if (decisions.length !== checks.length) {
        throw new BackendUnavailableError(
          `${this.store.kind} store returned ${decisions.length} results for ${checks.length} checks`,
        );
      }
    }
    return this.respond(req, matches, decisions);
  }

  /**
   * One check per limit of every matched, limited (not unlimited) descriptor,
   * in request order; a rule's limits are consecutive.
   */
  private checksFor(req: RateLimitRequest, matches: readonly (LimitMatch | undefined)[]): CounterCheck[] {
    const checks: CounterCheck[] = [];
    const { cacheKeyPrefix, cacheKeyFormat, quotaMode } = this.options;
    for (let i = 0; i < matches.length; i++) {
      const match = matches[i];
      if (match === undefined || match.rule.unlimited) continue;
      const rule = match.rule;
      const base = counterKey(cacheKeyPrefix, req.domain, match.counterEntries, cacheKeyFormat);
      const hits = hitsFor(req, req.descriptors[i]!);
      // shadow and quota rules observe; their "over" does not reject the request
      const blocking = match.fromOverride || !(rule.shadowMode || rule.quotaMode || quotaMode);
      for (const limit of rule.limits) {
        checks.push({
          key: base,
          tag: limit.keyTag,
          requestsPerUnit: limit.requestsPerUnit,
          unitSeconds: UNIT_SECONDS[limit.unit],
          algorithm: limit.algorithm,
          burst: limit.burst,
          hits,
          blocking,
          chargedWhenRejected: limit.chargedWhenRejected,
        });
      }
    }
    return checks;
  }

  /** Store failures surface as BackendUnavailableError, keeping the store's text (as the reference does). */
  private storeFailure(error: unknown): RateLimitError {
    if (error instanceof RateLimitError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new BackendUnavailableError(`${this.store.kind} store failed: ${message}`, error);
  }

  /** Statuses, overall code, headers and metadata from the store's decisions (envoyproxy/ratelimit src/service/ratelimit.go). */
  private respond(
    req: RateLimitRequest,
    matches: readonly (LimitMatch | undefined)[],
    decisions: readonly CounterDecision[],
  ): RateLimitResult {
    const { quotaMode, shadowMode, responseHeaders } = this.options;
    const statuses = new Array<DescriptorStatus>(matches.length);
    const passed = this.options.dynamicMetadata ? new Array<boolean>(matches.length) : undefined;
    let next = 0;
    let overRateLimits = 0;
    let quotaTotal = 0;
    let overQuotas = 0;
    // The deciding status (RateLimitResult.decidingStatus, envoyproxy/ratelimit
    // src/service/ratelimit.go): least remaining among statuses with a
    // current_limit (first on ties), but every non-quota OVER_LIMIT overrides it.
    let picked: DescriptorStatus | undefined;
    let pickedRemaining = UNLIMITED_REMAINING;
    // RateLimitResult.retryAfterSeconds: the latest reset among non-quota statuses over,
    // the earliest among quota statuses over (used only when every quota is over)
    let latestOverReset = 0;
    let earliestQuotaReset = Number.POSITIVE_INFINITY;
    for (let i = 0; i < matches.length; i++) {
      const match = matches[i];
      if (match?.rule.unlimited) {
        statuses[i] = UNLIMITED_STATUS;
        if (passed !== undefined) passed[i] = false;
        continue;
      }
      let status = NO_LIMIT_STATUS;
      if (match !== undefined) {
        const pick = decidingLimit(match, decisions, next);
        status = limitedStatus(match, decisions[next + pick]!, pick);
        if (this.observer !== undefined) {
          const descriptor = req.descriptors[i]!;
          const hits = hitsFor(req, descriptor);
          this.observer.charged(
            req.domain,
            match,
            descriptor.entries,
            hits,
            match.rule.limits[pick]!,
            decisions[next + pick]!,
          );
        }
        next += match.rule.limits.length;
      }
      statuses[i] = status;
      if (status.currentLimit !== undefined && status.limitRemaining < pickedRemaining) {
        picked = status;
        pickedRemaining = status.limitRemaining;
      }
      const quota = quotaMode || (match?.rule.quotaMode === true && !match.fromOverride);
      if (quota) quotaTotal++;
      const over = status.code === 'OVER_LIMIT';
      if (over && quota) {
        overQuotas++;
        earliestQuotaReset = Math.min(earliestQuotaReset, status.durationUntilResetSeconds ?? 0);
      } else if (over) {
        overRateLimits++;
        picked = status;
        pickedRemaining = 0;
        latestOverReset = Math.max(latestOverReset, status.durationUntilResetSeconds ?? 0);
      }
      if (passed !== undefined) passed[i] = !over;
    }
    const over = overRateLimits > 0 || (quotaTotal > 0 && overQuotas === quotaTotal);
    const overallCode: Code = over && !shadowMode ? 'OVER_LIMIT' : 'OK';
    const retryAfterSeconds =
      overallCode === 'OK' ? undefined : overRateLimits > 0 ? latestOverReset : earliestQuotaReset;
    const limitHeaders = responseHeaders.enabled ? rateLimitHeaders(picked, responseHeaders) : NO_HEADERS;
    const responseHeadersToAdd = withDegradedHeader(limitHeaders, decisions);
    const decidingStatus = picked;
    if (passed === undefined)
      return { overallCode, statuses, responseHeadersToAdd, decidingStatus, retryAfterSeconds };
    return {
      overallCode,
      statuses,
      responseHeadersToAdd,
      decidingStatus,
      retryAfterSeconds,
      dynamicMetadata: dynamicMetadata(req, matches, passed),
    };
  }
}

/**
 * When the backend could not be asked and FAILURE_MODE answered instead
 * ("allow": OK without counting; "local": from this instance's memory), the
 * client-facing answer says so in `X-RateLimit-Degraded`, so the fail-open is
 * visible, not silent.
 */
function withDegradedHeader(headers: readonly HeaderValue[], decisions: readonly CounterDecision[]) {
  for (const decision of decisions) {
    if (decision.degraded !== undefined) {
      return [...headers, { key: DEGRADED_HEADER, value: decision.degraded }];
    }
  }
  return headers;
}

export const DEGRADED_HEADER = 'X-RateLimit-Degraded';

/**
 * Which limit of a charged descriptor decides (index into its limits, whose
 * decisions start at `first`): the most restrictive one. Of the limits over,
 * the one that frees up last (its retry time is when the request would
 * pass); if none is over, the one with the least remaining (first on ties).
 */
function decidingLimit(match: LimitMatch, decisions: readonly CounterDecision[], first: number): number {
  const count = match.rule.limits.length;
  let pick = 0;
  let decision = decisions[first]!;
  for (let j = 1; j < count; j++) {
    const other = decisions[first + j]!;
    const moreRestrictive = other.overLimit
      ? !decision.overLimit || other.resetSeconds > decision.resetSeconds
      : !decision.overLimit && other.remaining < decision.remaining;
    if (moreRestrictive) {
      pick = j;
      decision = other;
    }
  }
  return pick;
}

/**
 * The status of a charged descriptor (envoyproxy/ratelimit
 * src/limiter/base_limiter.go) from the decision of its deciding limit (`pick`). A shadow-mode rule answers OK when over,
 * keeping the limit, remaining and reset; overrides from Envoy are never shadowed.
 */
function limitedStatus(match: LimitMatch, decision: CounterDecision, pick: number): DescriptorStatus {
  const limit = match.rule.limits[pick]!;
  const shadowed = match.rule.shadowMode && !match.fromOverride;
  return {
    code: decision.overLimit && !shadowed ? 'OVER_LIMIT' : 'OK',
    currentLimit: { requestsPerUnit: limit.requestsPerUnit, unit: limit.unit, name: limit.name },
    limitRemaining: decision.remaining,
    durationUntilResetSeconds: decision.resetSeconds,
  };
}
