import type { Clock } from '../../core/clock.js';
import type { SignalOutcome, SignalSink } from '../signal-sink.js';
import type { SignalToken } from './signal-auth.js';
import type { Signal, SignalLimits } from './signal-body.js';

/**
 * What both forms of the signal API (POST /v1/signals, the gRPC SignalService)
 * share: the sink, the token, the bounds, one rate bound per process, and how
 * outcomes are counted. Each transport checks, in this order:
 *
 *   1. the token (403 / PERMISSION_DENIED with none configured, 401 / UNAUTHENTICATED);
 *   2. the rate bound (429 + Retry-After / RESOURCE_EXHAUSTED);
 *   3. the size and the body (413, 400 / INVALID_ARGUMENT), then the sink (400 on its refusal);
 *   4. 202 / OK.
 *
 * Why the rate bound comes after the token, not before: the bucket is shared by
 * every caller of the process, so if unauthenticated requests drew from it,
 * anyone who can reach the port could keep it empty and lock the operator's own
 * signals out with 429s. After the check, only token holders spend it; what an
 * unauthenticated request costs is one SHA-256 and a constant-time compare, and
 * the connection caps bound how many arrive. Before the body: a request over the
 * rate is refused without reading or parsing it, and an authenticated client that
 * sends bad bodies in a loop is bounded too (every authenticated request counts,
 * accepted or not).
 */
export interface SignalApi {
  readonly sink: SignalSink;
  /** undefined: no token configured, every call is refused (403 / PERMISSION_DENIED). */
  readonly token: SignalToken | undefined;
  readonly limits: SignalLimits;
  /** Shared by the HTTP and gRPC forms: the bound is per process. */
  readonly rate: SignalRateBound;
  /** One call per signal request, for ratelimit_adaptive_signals_total. */
  readonly onOutcome?: ((source: SignalSource, outcome: SignalRequestOutcome) => void) | undefined;
}

export const SIGNAL_SOURCES = ['http', 'grpc'] as const;
export type SignalSource = (typeof SIGNAL_SOURCES)[number];
/**
 * accepted 202/OK; invalid 400/413/INVALID_ARGUMENT (the body, or the sink's refusal);
 * unauthorized 401/UNAUTHENTICATED; forbidden 403/PERMISSION_DENIED (no token configured);
 * too_many 429/RESOURCE_EXHAUSTED; error 500/INTERNAL (the sink threw).
 */
export const SIGNAL_REQUEST_OUTCOMES = [
  'accepted',
  'invalid',
  'unauthorized',
  'forbidden',
  'too_many',
  'error',
] as const;
export type SignalRequestOutcome = (typeof SIGNAL_REQUEST_OUTCOMES)[number];

/**
 * A token bucket: `perSecond` requests per second on average, bursts of up to
 * `perSecond`, time from the injected clock. In memory, per process (under
 * --workers N each worker has its own, so the pod's bound is N × perSecond).
 */
export class SignalRateBound {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly perSecond: number,
    private readonly clock: Clock,
  ) {
    this.tokens = perSecond;
    this.lastMs = clock.nowMs();
  }

  /** Takes one token: undefined when there was one, else the whole seconds until there is (≥ 1, for Retry-After). */
  take(): number | undefined {
    const now = this.clock.nowMs();
    // a clock that steps back adds nothing (and takes nothing away)
    const elapsed = Math.max(0, now - this.lastMs);
    this.lastMs = Math.max(this.lastMs, now);
    this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond));
  }
}

/** Hands a validated signal to the sink; the sink's refusal (unknown domain, controller or type) is a 400. */
export function deliverSignal(sink: SignalSink, signal: Signal): SignalOutcome {
  return signal.kind === 'error_rate'
    ? sink.errorRate(signal.domain, signal.controller, signal.total, signal.errors)
    : sink.penalize(signal.domain, signal.controller, signal.value, signal.ttlMs, signal.reason);
}

/** The Retry-After text of a 429, and the details of RESOURCE_EXHAUSTED. */
export function tooManySignals(perSecond: number, retryAfterSeconds: number): string {
  return `more than ${perSecond} signal requests per second; retry in ${retryAfterSeconds}s`;
}
