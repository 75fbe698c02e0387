import type { Clock } from '../core/clock.js';
import {
  type Code,
  type DescriptorStatus,
  type RateLimitResult,
  UNLIMITED_REMAINING,
} from '../core/decision.js';
import { hitsFor, type RateLimitRequest } from '../core/descriptor.js';
import { BackendUnavailableError, NoConfigError, RateLimitError } from '../core/errors.js';
import type { CounterDecision } from '../core/fixed-window.js';
import type { LimitMatch } from '../core/limit.js';
import type { RuleSet } from '../core/rule-set.js';
import { UNIT_SECONDS } from '../core/units.js';
import { counterKey } from '../storage/cache-key.js';
import type { CounterCheck, CounterStore } from '../storage/counter-store.js';
import { matchDescriptors } from './descriptor-matching.js';
import { dynamicMetadata } from './dynamic-metadata.js';
import { validateRequest } from './request-validation.js';
import { NO_HEADERS, rateLimitHeaders } from './response-headers.js';
import type { ServiceOptions } from './service-options.js';

export interface RateLimitServiceDeps {
  /** The current config, read once per request; undefined until one has loaded. */
  readonly rules: () => RuleSet | undefined;
  readonly store: CounterStore;
  readonly clock: Clock;
  readonly options: ServiceOptions;
}

/** No limit, replaced, or unknown domain: `{OK}` with nothing else (reference §3.8). */
const NO_LIMIT_STATUS: DescriptorStatus = Object.freeze({ code: 'OK', limitRemaining: 0 });
/** Unlimited: `{OK, limit_remaining 4294967295}`, no current_limit (reference §3.7). */
const UNLIMITED_STATUS: DescriptorStatus = Object.freeze({ code: 'OK', limitRemaining: UNLIMITED_REMAINING });
const NO_DECISIONS: readonly CounterDecision[] = Object.freeze([]);

/**
 * ShouldRateLimit, transport-free (reference §3–§4). Over-limit is an answer;
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

  constructor(deps: RateLimitServiceDeps) {
    this.rules = deps.rules;
    this.store = deps.store;
    this.clock = deps.clock;
    this.options = deps.options;
  }

  /**
   * One status per request descriptor, in order; overall OVER_LIMIT when a
   * non-quota descriptor is over, or every quota descriptor is (reference
   * §3.6), then forced to OK by global shadow mode.
   *
   * @throws InvalidArgumentError, NoConfigError, BackendUnavailableError
   */
  async shouldRateLimit(req: RateLimitRequest): Promise<RateLimitResult> {
    validateRequest(req, this.options.requestLimits);
    const rules = this.rules();
    if (rules === undefined) throw new NoConfigError();
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
    return this.respond(req, matches, decisions, nowMs);
  }

  /** One check per matched, limited (not unlimited) descriptor, in request order. */
  private checksFor(req: RateLimitRequest, matches: readonly (LimitMatch | undefined)[]): CounterCheck[] {
    const checks: CounterCheck[] = [];
    const prefix = this.options.cacheKeyPrefix;
    for (let i = 0; i < matches.length; i++) {
      const match = matches[i];
      if (match === undefined || match.rule.unlimited) continue;
      const rule = match.rule;
      checks.push({
        key: counterKey(prefix, req.domain, match.counterEntries),
        requestsPerUnit: rule.requestsPerUnit,
        unitSeconds: UNIT_SECONDS[rule.unit],
        algorithm: rule.algorithm,
        hits: hitsFor(req, req.descriptors[i]!),
      });
    }
    return checks;
  }

  /** Store failures surface as BackendUnavailableError, keeping the store's text (as the reference does). */
  private storeFailure(error: unknown): RateLimitError {
    if (error instanceof RateLimitError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new BackendUnavailableError(`${this.store.kind} store failed: ${message}`, error);
  }

  /** Statuses, overall code, headers and metadata from the store's decisions (reference §4). */
  private respond(
    req: RateLimitRequest,
    matches: readonly (LimitMatch | undefined)[],
    decisions: readonly CounterDecision[],
    nowMs: number,
  ): RateLimitResult {
    const { quotaMode, shadowMode, responseHeaders } = this.options;
    const statuses = new Array<DescriptorStatus>(matches.length);
    const passed = this.options.dynamicMetadata ? new Array<boolean>(matches.length) : undefined;
    let next = 0;
    let overRateLimits = 0;
    let quotaTotal = 0;
    let overQuotas = 0;
    // Header pick (reference §4.7): least remaining among statuses with a
    // current_limit (first on ties), but every non-quota OVER_LIMIT overrides it.
    let picked: DescriptorStatus | undefined;
    let pickedRemaining = UNLIMITED_REMAINING;
    for (let i = 0; i < matches.length; i++) {
      const match = matches[i];
      if (match?.rule.unlimited) {
        statuses[i] = UNLIMITED_STATUS;
        if (passed !== undefined) passed[i] = false;
        continue;
      }
      const status = match === undefined ? NO_LIMIT_STATUS : limitedStatus(match, decisions[next++]!);
      statuses[i] = status;
      if (status.currentLimit !== undefined && status.limitRemaining < pickedRemaining) {
        picked = status;
        pickedRemaining = status.limitRemaining;
      }
      const quota = quotaMode || (match?.rule.quotaMode === true && !match.fromOverride);
      if (quota) quotaTotal++;
      const over = status.code === 'OVER_LIMIT';
      if (over && quota) overQuotas++;
      else if (over) {
        overRateLimits++;
        picked = status;
        pickedRemaining = 0;
      }
      if (passed !== undefined) passed[i] = !over;
    }
    const over = overRateLimits > 0 || (quotaTotal > 0 && overQuotas === quotaTotal);
    const overallCode: Code = over && !shadowMode ? 'OVER_LIMIT' : 'OK';
    const responseHeadersToAdd = responseHeaders.enabled
      ? rateLimitHeaders(picked, Math.floor(nowMs / 1000), responseHeaders)
      : NO_HEADERS;
    if (passed === undefined) return { overallCode, statuses, responseHeadersToAdd };
    return {
      overallCode,
      statuses,
      responseHeadersToAdd,
      dynamicMetadata: dynamicMetadata(req, matches, passed),
    };
  }
}

/**
 * The status of a charged descriptor (reference §4.1). A shadow-mode rule
 * answers OK when over, keeping remaining 0, current_limit and the reset;
 * overrides from Envoy are never shadowed.
 */
function limitedStatus(match: LimitMatch, decision: CounterDecision): DescriptorStatus {
  const rule = match.rule;
  const shadowed = rule.shadowMode && !match.fromOverride;
  return {
    code: decision.overLimit && !shadowed ? 'OVER_LIMIT' : 'OK',
    currentLimit: { requestsPerUnit: rule.requestsPerUnit, unit: rule.unit, name: rule.name },
    limitRemaining: decision.remaining,
    durationUntilResetSeconds: decision.resetSeconds,
  };
}
