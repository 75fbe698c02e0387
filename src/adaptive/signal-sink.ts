/**
 * Where signals go once authenticated and parsed (POST /v1/signals, the gRPC
 * SignalService): the adaptive engine implements it. Whether the domain and the
 * controller exist, and have the right type, is answered here; the answer is
 * synchronous (the sample or penalty is applied locally at once and reaches the
 * shared state within one refresh tick), so a signal never waits on Redis.
 */
export interface SignalSink {
  /** Adds an error-rate sample to the `error_rate` controller's open interval. */
  errorRate(domain: string, controller: string, total: number, errors: number): SignalOutcome;
  /** Puts `value` into the `abuse` controller's penalty box now, for `ttlMs`. */
  penalize(domain: string, controller: string, value: string, ttlMs: number, reason: string): SignalOutcome;
}

/** Accepted (202 / OK), or the reason for a 400 / INVALID_ARGUMENT. */
export type SignalOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };
