/**
 * Adaptive limits, part 1: the controllers' parameters (DESIGN.md "Adaptive limits").
 *
 * src/adaptive/ holds pure, clock-driven controllers: no I/O, no timers, time passed in as
 * ms since the epoch, imports from src/core and src/adaptive only. NOT WIRED IN YET: no
 * config surface reads these types and no answer is changed by them. The next step maps the
 * YAML `adaptive:` entries onto these types (attaching file:line:col to the problems the
 * validators return), feeds the controllers from signals and decisions, and applies their
 * factors through the effective-limit RuleSet decorator.
 *
 * Field names are the YAML names in camelCase; durations are ms (YAML `5s` → 5_000).
 * Every default below is compared with Envoy's admission_control filter and the Google SRE
 * book's client-side throttling (reference/peers.md §4.4, §4.6, §4.8); the comment says why
 * ours differs where it does. docs/adaptive.md has the same table.
 */

/** Which access-log entries feed an `error_rate` controller. Any field given must equal the entry's. */
export interface ErrorRateMatch {
  readonly upstreamCluster?: string;
  readonly routeName?: string;
  readonly authority?: string;
}

/** `type: error_rate`: AIMD on the factor from an upstream's error ratio per interval. */
export interface ErrorRateParams {
  readonly type: 'error_rate';
  readonly name: string;
  /** Empty: no access-log entry counts; the controller is fed by `POST /v1/signals` only. */
  readonly match: ErrorRateMatch;
  /** Error ratio of one interval above which the factor drops, [0, 1]. */
  readonly errorThreshold: number;
  /** An interval with fewer samples changes nothing, ≥ 1. */
  readonly minSamples: number;
  /** Interval length, ms, ≥ 1 000; intervals are aligned to multiples of it since the epoch. */
  readonly intervalMs: number;
  /** Multiplicative decrease on a bad interval, (0, 1). */
  readonly decrease: number;
  /** Additive increase per healthy interval, > 0, up to a factor of 1. */
  readonly increase: number;
  /** The factor never goes below this, [0, 1]. */
  readonly floor: number;
  /** Compute, report and count; enforce nothing (applied by the decorator, not here). */
  readonly shadowMode: boolean;
}

/** `penalty:` of an `abuse` controller. */
export interface PenaltyParams {
  /** Factor applied to a boxed value's limit, [0, 1); 0 blocks. */
  readonly factor: number;
  /** Time in the box for a first offence, ms, > 0. */
  readonly ttlMs: number;
  /** Each repeat offence multiplies the ttl by this, ≥ 1 (1 = no escalation). */
  readonly escalate: number;
  /** Cap of the escalated ttl, ms, ≥ ttlMs; also how long an offence is remembered after its penalty ends. */
  readonly maxTtlMs: number;
}

/** `type: abuse`: a penalty box per value of the node's own key. */
export interface AbuseParams {
  readonly type: 'abuse';
  readonly name: string;
  /** A value whose OVER_LIMIT share in one interval exceeds this is an offender, [0, 1]. */
  readonly overLimitRatio: number;
  /** Or whose count in one interval exceeds `spike` × its own baseline, > 1. */
  readonly spike: number;
  /** Values with fewer decisions in an interval are never offenders, ≥ 1. */
  readonly minRequests: number;
  /** Interval length, ms, ≥ 1 000, aligned to multiples of it since the epoch. */
  readonly intervalMs: number;
  readonly penalty: PenaltyParams;
  readonly shadowMode: boolean;
}

export type ControllerParams = ErrorRateParams | AbuseParams;

/**
 * Defaults of every optional field. `name` and `type` are required; so is nothing else.
 *
 * error_rate:
 * - errorThreshold 0.2. admission_control's sr_threshold 95 % means an error ratio of 0.05,
 *   but there the rejection probability grows smoothly from 0 at the threshold (aggression 1);
 *   ours is a step (the whole node's limit is halved at once), so it must trip only on errors
 *   that are clearly not background noise. The SRE book's K = 2 starts throttling only at 50 %
 *   rejections; 0.2 sits between the two.
 * - minSamples 20. admission_control's rps_threshold defaults to 0 and the SRE formula's
 *   "+ 1" damps tiny counts; with a step rule, 20 samples means ≥ 5 errors before a drop
 *   at the default threshold, so two failures out of three requests cannot halve a limit.
 * - intervalMs 5 000. admission_control's sampling_window is 30 s and the SRE book's 2 min,
 *   both sliding and acting per request; ours acts once per interval, so a shorter interval
 *   bounds the reaction time. Below 1 s the per-interval counts are too noisy (validated).
 * - decrease 0.5 (TCP's halving). Netflix AIMD uses 0.9, but per dropped request, many times
 *   a second; ours applies once per interval, so it must bite within one.
 * - increase 0.1: from the floor back to 1 in (1 − floor) / 0.1 intervals (40 s by default).
 * - floor 0.2: admission_control's max_rejection_probability 80 % lets ≥ 20 % through; the
 *   traffic left at the floor is what proves the upstream healthy again (an interval below
 *   minSamples holds the factor), so the floor must not starve it.
 *
 * abuse:
 * - overLimitRatio 0.5: the SRE book's K = 2 read per client: a client with more rejected
 *   than accepted requests (requests > 2 × accepts) wastes as much as it gets.
 * - spike 10, minRequests 50, intervalMs 10 000: a value must send ≥ 50 decisions in 10 s
 *   (5/s) before either rule looks at it; 10× its own baseline is a burst, not growth.
 * - penalty: factor 0.1, not a block: many users share one IP (CGNAT, peers.md §4.8), so
 *   an automatic penalty slows down rather than bans; 0 blocks when an operator asks.
 *   ttl 60 s, escalate 2 (fail2ban's bantime.increment: 1, 2, 4, 8 …), maxTtl 1 h (fail2ban's
 *   bantime 10 min starts higher, but ours also fires on automatic detection, where false
 *   positives must heal by themselves; a signal may pass its own ttl).
 * - shadowMode false.
 */
export const DEFAULTS = {
  errorRate: {
    match: {} as ErrorRateMatch,
    errorThreshold: 0.2,
    minSamples: 20,
    intervalMs: 5_000,
    decrease: 0.5,
    increase: 0.1,
    floor: 0.2,
    shadowMode: false,
  },
  abuse: {
    overLimitRatio: 0.5,
    spike: 10,
    minRequests: 50,
    intervalMs: 10_000,
    penalty: { factor: 0.1, ttlMs: 60_000, escalate: 2, maxTtlMs: 3_600_000 },
    shadowMode: false,
  },
} as const;

/** Optional-field input of an error_rate controller (what the config loader produces). */
export type ErrorRateInput = Pick<ErrorRateParams, 'name'> & Partial<Omit<ErrorRateParams, 'name' | 'type'>>;

/** Optional-field input of an abuse controller; `penalty` may be partial too. */
export type AbuseInput = Pick<AbuseParams, 'name'> &
  Partial<Omit<AbuseParams, 'name' | 'type' | 'penalty'>> & { readonly penalty?: Partial<PenaltyParams> };

/** The input with every absent field taken from DEFAULTS, frozen. */
export function errorRateParams(input: ErrorRateInput): ErrorRateParams {
  return Object.freeze({
    ...DEFAULTS.errorRate,
    ...stripUndefined(input),
    name: input.name,
    match: Object.freeze({ ...(input.match ?? DEFAULTS.errorRate.match) }),
    type: 'error_rate',
  });
}

/** The input with every absent field (penalty fields included) taken from DEFAULTS, frozen. */
export function abuseParams(input: AbuseInput): AbuseParams {
  return Object.freeze({
    ...DEFAULTS.abuse,
    ...stripUndefined(input),
    name: input.name,
    penalty: Object.freeze({ ...DEFAULTS.abuse.penalty, ...stripUndefined(input.penalty ?? {}) }),
    type: 'abuse',
  });
}

/** One thing wrong with a controller's parameters; `field` is the YAML path (e.g. `penalty.max_ttl`). */
export interface ParamProblem {
  readonly field: string;
  readonly message: string;
}

/** Every problem of an error_rate controller's parameters; empty when valid. */
export function validateErrorRateParams(p: ErrorRateParams): ParamProblem[] {
  const problems: ParamProblem[] = [];
  const check = (ok: boolean, field: string, message: string): void => {
    if (!ok) problems.push({ field, message });
  };
  check(p.name.length > 0, 'name', 'must not be empty');
  check(inRange(p.errorThreshold, 0, 1), 'error_threshold', `must be within 0..1, got ${p.errorThreshold}`);
  check(isIntAtLeast(p.minSamples, 1), 'min_samples', `must be an integer ≥ 1, got ${p.minSamples}`);
  check(finite(p.intervalMs) && p.intervalMs >= 1_000, 'interval', `must be ≥ 1s, got ${p.intervalMs}ms`);
  check(
    finite(p.decrease) && p.decrease > 0 && p.decrease < 1,
    'decrease',
    `must be in (0, 1), got ${p.decrease}`,
  );
  check(finite(p.increase) && p.increase > 0, 'increase', `must be > 0, got ${p.increase}`);
  check(inRange(p.floor, 0, 1), 'floor', `must be within 0..1, got ${p.floor}`);
  for (const [key, yaml] of MATCH_FIELDS) {
    const value = p.match[key];
    check(value === undefined || value.length > 0, `match.${yaml}`, 'must not be empty');
  }
  return problems;
}

/** Every problem of an abuse controller's parameters; empty when valid. */
export function validateAbuseParams(p: AbuseParams): ParamProblem[] {
  const problems: ParamProblem[] = [];
  const check = (ok: boolean, field: string, message: string): void => {
    if (!ok) problems.push({ field, message });
  };
  const { factor, ttlMs, escalate, maxTtlMs } = p.penalty;
  check(p.name.length > 0, 'name', 'must not be empty');
  check(inRange(p.overLimitRatio, 0, 1), 'over_limit_ratio', `must be within 0..1, got ${p.overLimitRatio}`);
  check(finite(p.spike) && p.spike > 1, 'spike', `must be > 1, got ${p.spike}`);
  check(isIntAtLeast(p.minRequests, 1), 'min_requests', `must be an integer ≥ 1, got ${p.minRequests}`);
  check(finite(p.intervalMs) && p.intervalMs >= 1_000, 'interval', `must be ≥ 1s, got ${p.intervalMs}ms`);
  check(finite(factor) && factor >= 0 && factor < 1, 'penalty.factor', `must be in [0, 1), got ${factor}`);
  check(finite(ttlMs) && ttlMs > 0, 'penalty.ttl', `must be > 0, got ${ttlMs}ms`);
  check(finite(escalate) && escalate >= 1, 'penalty.escalate', `must be ≥ 1, got ${escalate}`);
  check(
    finite(maxTtlMs) && maxTtlMs >= ttlMs,
    'penalty.max_ttl',
    `must be ≥ penalty.ttl (${ttlMs}ms), got ${maxTtlMs}ms`,
  );
  return problems;
}

const MATCH_FIELDS: ReadonlyArray<readonly [keyof ErrorRateMatch, string]> = [
  ['upstreamCluster', 'upstream_cluster'],
  ['routeName', 'route_name'],
  ['authority', 'authority'],
];

function finite(x: number): boolean {
  return typeof x === 'number' && Number.isFinite(x);
}

function inRange(x: number, min: number, max: number): boolean {
  return finite(x) && x >= min && x <= max;
}

function isIntAtLeast(x: number, min: number): boolean {
  return Number.isInteger(x) && x >= min;
}

/** A copy without the keys whose value is undefined, so spreading it does not erase defaults. */
function stripUndefined<T extends object>(input: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(input) as Array<keyof T>) {
    if (input[key] !== undefined) out[key] = input[key];
  }
  return out;
}
