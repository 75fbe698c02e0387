import type { HealthState } from './health-state.js';

/** What the backend is doing now (filled in by the composition root). */
export interface BackendStatus {
  readonly kind: string;
  /** Connected and warm (script loaded) at least once since start: health waits for this. */
  readonly warm: boolean;
  /** Every connection is up now. */
  readonly connected: boolean;
  /** Redis only: the circuit breaker's state (closed, open, half_open) and the FAILURE_MODE that answers while it is not closed. */
  readonly circuit?: string;
  readonly failureMode?: string;
}

/**
 * GET /healthcheck?detail: the health answer and what is degraded behind it.
 * `serving` is what /healthcheck and gRPC health say (liveness, as the
 * reference); `degraded` lists what keeps answers from being normal while the
 * process stays healthy (backend down, breaker open: the failure mode answers).
 */
export interface HealthDetail {
  readonly status: 'SERVING' | 'NOT_SERVING';
  /** Why NOT_SERVING (empty when serving). */
  readonly reasons: readonly string[];
  readonly degraded: readonly string[];
  /** Domains of the loaded config; null before a config loaded. */
  readonly config: { readonly loaded: boolean; readonly domains: number | null };
  readonly backend: BackendStatus;
}

export function healthDetail(
  health: HealthState,
  backend: BackendStatus,
  domains: number | undefined,
): HealthDetail {
  const degraded: string[] = [];
  if (backend.warm && !backend.connected) degraded.push(`${backend.kind} not connected`);
  if (backend.circuit !== undefined && backend.circuit !== 'closed') {
    degraded.push(
      `circuit breaker ${backend.circuit}: answers come from FAILURE_MODE=${backend.failureMode}`,
    );
  }
  if (domains === undefined) degraded.push('no config loaded: every request is answered with an error');
  const serving = health.isServing();
  return {
    status: serving ? 'SERVING' : 'NOT_SERVING',
    reasons: serving ? [] : health.reasons(),
    degraded,
    config: { loaded: domains !== undefined, domains: domains ?? null },
    backend,
  };
}
