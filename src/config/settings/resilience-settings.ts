import { SettingError } from '../../core/errors.js';
import { parseChoice, parseDurationMs, parseIntIn } from './settings-parsers.js';

/** FAILURE_MODE: what a request gets while the primary backend cannot answer (DESIGN.md). */
export type FailureMode = 'error' | 'allow' | 'local';

export const FAILURE_MODES: readonly FailureMode[] = ['error', 'allow', 'local'];

/**
 * BACKEND_TIMEOUT's default, ms. Why 250 ms and not Envoy's 20 ms: under a
 * burst the event loop queues work, and a tight budget then measures the
 * queue, not Redis (the figures are in docs/performance.md). Envoy's own rate-limit
 * filter timeout (20 ms by default) still bounds what a proxy waits, and its
 * failure_mode_deny decides then; this budget bounds what we spend, and when
 * the failure mode (allow/local) answers for Redis.
 */
export const DEFAULT_BACKEND_TIMEOUT_MS = 250;

/**
 * Bytes one local over-limit cache entry costs on the V8 heap, for
 * LOCAL_CACHE_SIZE_IN_BYTES: a Map slot, a string header and a boxed expiry,
 * plus the key (counter key + limit) of a typical descriptor, rounded up
 * (measured sizes: docs/performance.md).
 */
export const ESTIMATED_ENTRY_BYTES = 256;

/** LOCAL_CACHE_SIZE_IN_BYTES → entries (0 = off). */
export function entriesForBytes(bytes: number): number {
  return Math.floor(Math.max(0, bytes) / ESTIMATED_ENTRY_BYTES);
}

/** Backend failure handling and the local over-limit cache, from the environment. */
export interface ResilienceSettings {
  /** FAILURE_MODE: error (default; gRPC UNAVAILABLE) | allow (answer OK, marked) | local (in-memory fallback). */
  readonly failureMode: FailureMode;
  /** BACKEND_TIMEOUT: budget of one backend call, ms (default 250; 0 = none). */
  readonly backendTimeoutMs: number;
  readonly breaker: {
    /** CIRCUIT_BREAKER_FAILURES: failures within the window needed to open the circuit (default 10). */
    readonly minFailures: number;
    /** CIRCUIT_BREAKER_FAILURE_RATIO: share of the window's calls that must have failed (default 0.5). */
    readonly failureRatio: number;
    /** CIRCUIT_BREAKER_WINDOW: the sliding window the failure rate is measured over, ms (default 1 000). */
    readonly windowMs: number;
    /** CIRCUIT_BREAKER_MIN_BACKOFF: first open period, ms (default 100). */
    readonly minBackoffMs: number;
    /** CIRCUIT_BREAKER_MAX_BACKOFF: cap of the open period, ms (default 10 000). */
    readonly maxBackoffMs: number;
  };
  /** LOCAL_CACHE_SIZE_IN_BYTES as given (default 0 = off). */
  readonly localCacheSizeBytes: number;
  /**
   * Entries of the local over-limit cache (0 = off): LOCAL_CACHE_ENTRIES, or
   * LOCAL_CACHE_SIZE_IN_BYTES / ESTIMATED_ENTRY_BYTES (256). Set one of the two.
   */
  readonly localCacheEntries: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const MAX_BACKOFF_CAP_MS = 3_600_000;
const MAX_TIMEOUT_MS = 60_000;
const MAX_CACHE_BYTES = 2 ** 40;
const MAX_CACHE_ENTRIES = 100_000_000;

/** Reads the resilience settings; throws SettingError naming the variable on a bad value. */
export function loadResilienceSettings(env: Env): ResilienceSettings {
  const failureMode = read(env, 'FAILURE_MODE', 'error', (name, raw) =>
    parseChoice(name, raw, FAILURE_MODES),
  );
  const backendTimeoutMs = read(env, 'BACKEND_TIMEOUT', DEFAULT_BACKEND_TIMEOUT_MS, (name, raw) =>
    durationIn(name, raw, 0, MAX_TIMEOUT_MS),
  );
  const minFailures = read(env, 'CIRCUIT_BREAKER_FAILURES', 10, (name, raw) =>
    parseIntIn(name, raw, 1, 1_000_000),
  );
  const failureRatio = read(env, 'CIRCUIT_BREAKER_FAILURE_RATIO', 0.5, parseFailureRatio);
  const windowMs = read(env, 'CIRCUIT_BREAKER_WINDOW', 1_000, (name, raw) =>
    durationIn(name, raw, 100, MAX_BACKOFF_CAP_MS),
  );
  const minBackoffMs = read(env, 'CIRCUIT_BREAKER_MIN_BACKOFF', 100, (name, raw) =>
    durationIn(name, raw, 1, MAX_BACKOFF_CAP_MS),
  );
  const maxBackoffMs = read(env, 'CIRCUIT_BREAKER_MAX_BACKOFF', 10_000, (name, raw) =>
    durationIn(name, raw, 1, MAX_BACKOFF_CAP_MS),
  );
  if (maxBackoffMs < minBackoffMs) {
    throw new SettingError(
      'CIRCUIT_BREAKER_MAX_BACKOFF',
      env.CIRCUIT_BREAKER_MAX_BACKOFF ?? '10s',
      `a duration ≥ CIRCUIT_BREAKER_MIN_BACKOFF (${minBackoffMs} ms)`,
    );
  }
  const localCacheSizeBytes = read(env, 'LOCAL_CACHE_SIZE_IN_BYTES', 0, (name, raw) =>
    parseIntIn(name, raw, 0, MAX_CACHE_BYTES),
  );
  const entries = read(env, 'LOCAL_CACHE_ENTRIES', 0, (name, raw) =>
    parseIntIn(name, raw, 0, MAX_CACHE_ENTRIES),
  );
  if (entries > 0 && localCacheSizeBytes > 0) {
    throw new SettingError(
      'LOCAL_CACHE_ENTRIES',
      env.LOCAL_CACHE_ENTRIES ?? '',
      'to be unset or 0 when LOCAL_CACHE_SIZE_IN_BYTES is set (set one of the two)',
    );
  }
  return {
    failureMode,
    backendTimeoutMs,
    breaker: { minFailures, failureRatio, windowMs, minBackoffMs, maxBackoffMs },
    localCacheSizeBytes,
    localCacheEntries: entries > 0 ? entries : entriesForBytes(localCacheSizeBytes),
  };
}

/** The parsed value of `name`, or `fallback` when it is unset or empty. */
function read<T>(env: Env, name: string, fallback: T, parse: (name: string, raw: string) => T): T {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : parse(name, raw);
}

function parseFailureRatio(name: string, raw: string): number {
  const ratio = Number(raw.trim());
  if (!Number.isFinite(ratio) || ratio <= 0 || ratio > 1) {
    throw new SettingError(name, raw, 'a number greater than 0 and at most 1, e.g. 0.5');
  }
  return ratio;
}

function durationIn(name: string, raw: string, minMs: number, maxMs: number): number {
  const ms = parseDurationMs(name, raw);
  if (ms < minMs || ms > maxMs) {
    throw new SettingError(name, raw, `a duration from ${minMs} ms to ${maxMs / 1000} s`);
  }
  return ms;
}
