/**
 * The bodies of the signal API, `POST /v1/signals` (DESIGN.md "Adaptive
 * limits", "Signals in"), parsed and validated against bounds; the same checks
 * serve the gRPC form (proto/ratelimit/adaptive/v1/signals.proto) through
 * validateErrorRateSample and validatePenalty. Pure; served by src/http/signal-endpoint.ts
 * and src/grpc/signal-service.ts.
 *
 * Two bodies, told apart by their fields:
 *   {"domain":"api","controller":"checkout-health","total":100,"errors":37}
 *   {"domain":"api","controller":"abusers","value":"1.2.3.4","ttl":"10m","reason":"waf"}
 * Unknown fields are refused (as POST /json does), so a typo is a 400, not a
 * signal silently ignored. Whether the domain and controller exist, and whether
 * the controller has the right type, is for the controller registry to answer.
 */

/** Bounds on one signal; settings may change them. */
export interface SignalLimits {
  /** Largest body, in bytes (413 beyond, before it is parsed). */
  readonly maxBodyBytes: number;
  /** Longest domain and controller name, UTF-8 bytes (the RLS domain bound). */
  readonly maxNameBytes: number;
  /** Longest penalty value, UTF-8 bytes (the RLS descriptor value bound). */
  readonly maxValueBytes: number;
  /** Longest penalty reason, UTF-8 bytes. */
  readonly maxReasonBytes: number;
  /** Largest `total` of one sample (so one caller cannot overflow an interval's counts). */
  readonly maxSampleTotal: number;
  /** Longest penalty ttl, ms; a controller's own max_ttl may cut it further. */
  readonly maxPenaltyTtlMs: number;
}

export const DEFAULT_SIGNAL_LIMITS: SignalLimits = Object.freeze({
  maxBodyBytes: 16 * 1024,
  maxNameBytes: 256,
  maxValueBytes: 1024,
  maxReasonBytes: 256,
  maxSampleTotal: 1_000_000_000,
  maxPenaltyTtlMs: 24 * 3_600_000,
});

/** An error-rate sample, added to the controller's current interval. */
export interface ErrorRateSignal {
  readonly kind: 'error_rate';
  readonly domain: string;
  readonly controller: string;
  readonly total: number;
  /** At most `total`. */
  readonly errors: number;
}

/** A value of the node's key that goes into the controller's penalty box now. */
export interface PenaltySignal {
  readonly kind: 'penalty';
  readonly domain: string;
  readonly controller: string;
  /** The descriptor value penalised (may be empty, as descriptor values may). */
  readonly value: string;
  /** ≥ 1 ms, ≤ maxPenaltyTtlMs. */
  readonly ttlMs: number;
  /** Free text for logs and /v1/adaptive; '' when not given. */
  readonly reason: string;
}

export type Signal = ErrorRateSignal | PenaltySignal;

/** A signal, or the HTTP status and the reason to answer with. */
export type SignalParseResult =
  | { readonly ok: true; readonly signal: Signal }
  | { readonly ok: false; readonly status: 400 | 413; readonly reason: string };

const ERROR_RATE_FIELDS = ['domain', 'controller', 'total', 'errors'];
const PENALTY_FIELDS = ['domain', 'controller', 'value', 'ttl', 'reason'];
/** Field names echoed in a reason are cut here (they are the caller's text). */
const MAX_ECHO = 64;

class SignalInvalid extends Error {}

/** Parses a POST /v1/signals body (its raw bytes). Never throws. */
export function parseSignalBody(
  body: Uint8Array,
  limits: SignalLimits = DEFAULT_SIGNAL_LIMITS,
): SignalParseResult {
  if (body.length > limits.maxBodyBytes) {
    return { ok: false, status: 413, reason: `request body larger than ${limits.maxBodyBytes} bytes` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    const what = error instanceof SyntaxError ? error.message : 'it is not valid UTF-8';
    return { ok: false, status: 400, reason: `request body is not valid JSON: ${what}` };
  }
  return signalFrom(parsed, limits);
}

/** Validates a parsed JSON body (or any object with its fields). Never throws. */
export function signalFrom(body: unknown, limits: SignalLimits = DEFAULT_SIGNAL_LIMITS): SignalParseResult {
  try {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SignalInvalid('a signal must be a JSON object');
    }
    const fields = body as Record<string, unknown>;
    const sample = 'total' in fields || 'errors' in fields;
    const penalty = 'value' in fields || 'ttl' in fields || 'reason' in fields;
    if (sample && penalty) {
      throw new SignalInvalid(
        'a signal is an error-rate sample (total, errors) or a penalty (value, ttl, reason), not both',
      );
    }
    if (!sample && !penalty) {
      throw new SignalInvalid(
        'a signal needs total and errors (an error-rate sample) or value and ttl (a penalty)',
      );
    }
    allowOnly(fields, sample ? ERROR_RATE_FIELDS : PENALTY_FIELDS);
    const signal = sample ? errorRateSampleFrom(fields, limits) : penaltyFrom(fields, limits);
    return { ok: true, signal };
  } catch (error) {
    if (error instanceof SignalInvalid) return { ok: false, status: 400, reason: error.message };
    throw error;
  }
}

/** The fields of an error-rate sample. @throws SignalInvalid */
function errorRateSampleFrom(f: Record<string, unknown>, limits: SignalLimits): ErrorRateSignal {
  const domain = name(f.domain, 'domain', limits);
  const controller = name(f.controller, 'controller', limits);
  const total = count(f.total, 'total', limits.maxSampleTotal);
  const errors = count(f.errors, 'errors', limits.maxSampleTotal);
  if (errors > total) throw new SignalInvalid(`errors (${errors}) must not be more than total (${total})`);
  return { kind: 'error_rate', domain, controller, total, errors };
}

/** The fields of a penalty. @throws SignalInvalid */
function penaltyFrom(f: Record<string, unknown>, limits: SignalLimits): PenaltySignal {
  const domain = name(f.domain, 'domain', limits);
  const controller = name(f.controller, 'controller', limits);
  const value = text(f.value, 'value', limits.maxValueBytes);
  const ttlMs = ttl(f.ttl, limits.maxPenaltyTtlMs);
  const reason = f.reason === undefined ? '' : text(f.reason, 'reason', limits.maxReasonBytes);
  return { kind: 'penalty', domain, controller, value, ttlMs, reason };
}

/** For the gRPC form: the same checks on a decoded ErrorRateSample message. */
export function validateErrorRateSample(
  fields: { domain: string; controller: string; total: number; errors: number },
  limits: SignalLimits = DEFAULT_SIGNAL_LIMITS,
): SignalParseResult {
  return guarded(() => errorRateSampleFrom(fields, limits));
}

/** For the gRPC form: the same checks on a decoded Penalty message ('' reason = none). */
export function validatePenalty(
  fields: { domain: string; controller: string; value: string; ttl: string; reason: string },
  limits: SignalLimits = DEFAULT_SIGNAL_LIMITS,
): SignalParseResult {
  return guarded(() => penaltyFrom(fields, limits));
}

function guarded(make: () => Signal): SignalParseResult {
  try {
    return { ok: true, signal: make() };
  } catch (error) {
    if (error instanceof SignalInvalid) return { ok: false, status: 400, reason: error.message };
    throw error;
  }
}

function allowOnly(fields: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) {
      const shown = key.length > MAX_ECHO ? `${key.slice(0, MAX_ECHO)}…` : key;
      throw new SignalInvalid(
        `unknown field ${JSON.stringify(shown)}; this signal has ${allowed.join(', ')}`,
      );
    }
  }
}

function text(raw: unknown, field: string, maxBytes: number): string {
  if (raw === undefined) throw new SignalInvalid(`${field} is required`);
  if (typeof raw !== 'string') throw new SignalInvalid(`${field} must be a string`);
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes > maxBytes)
    throw new SignalInvalid(`${field} is ${bytes} bytes; at most ${maxBytes} are allowed`);
  return raw;
}

function name(raw: unknown, field: string, limits: SignalLimits): string {
  const value = text(raw, field, limits.maxNameBytes);
  if (value === '') throw new SignalInvalid(`${field} must not be empty`);
  return value;
}

function count(raw: unknown, field: string, max: number): number {
  if (raw === undefined) throw new SignalInvalid(`${field} is required`);
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > max) {
    const shown = typeof raw === 'number' ? String(raw) : typeof raw;
    throw new SignalInvalid(`${field} must be an integer from 0 to ${max}, got ${shown}`);
  }
  return raw === 0 ? 0 : raw; // -0 is an integer ≥ 0 too
}

const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
/** A duration longer than this is not read (no bound needs more characters). */
const MAX_DURATION_CHARS = 32;

/** A Go-style duration ("10m", "1h30m", "90s", "500ms"), > 0 and ≤ maxMs; ms rounded up. */
function ttl(raw: unknown, maxMs: number): number {
  if (raw === undefined) throw new SignalInvalid('ttl is required');
  if (typeof raw !== 'string') throw new SignalInvalid('ttl must be a duration string such as "10m"');
  const bad = new SignalInvalid(
    `ttl must be a duration such as 90s, 10m or 1h30m, got ${JSON.stringify(raw.slice(0, MAX_ECHO))}`,
  );
  if (raw === '' || raw.length > MAX_DURATION_CHARS) throw bad;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < raw.length) {
    part.lastIndex = index;
    const match = part.exec(raw);
    if (match === null) throw bad;
    total += Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ''] ?? 0);
    index = part.lastIndex;
  }
  const ms = Math.ceil(total);
  if (ms <= 0) throw new SignalInvalid('ttl must be more than 0');
  if (ms > maxMs) throw new SignalInvalid(`ttl is ${raw}; at most ${formatDuration(maxMs)} is allowed`);
  return ms;
}

/** ms in the largest whole unit: 86400000 → "24h", 90000 → "90s". */
function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
