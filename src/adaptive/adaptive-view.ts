import type { AbuseRuntime } from './abuse-runtime.js';
import type { ErrorRateRuntime } from './error-rate-runtime.js';

/** Penalties listed per abuse controller by GET /v1/adaptive (the count is always complete). */
export const VIEW_PENALTY_LIMIT = 100;

/**
 * GET /v1/adaptive (DESIGN.md "State and views"): every controller with its factor and
 * why it is what it is, the penalty boxes, and shadow state. Times are ISO 8601 strings.
 */
export interface AdaptiveView {
  /** 'shared': through Redis, the same on every replica; 'process': this process only (memory backend). */
  readonly scope: 'shared' | 'process';
  readonly refreshMs: number;
  readonly controllers: readonly ControllerView[];
}

export type ControllerView = ErrorRateView | AbuseView;

export interface ErrorRateView {
  readonly domain: string;
  readonly name: string;
  readonly type: 'error_rate';
  readonly shadowMode: boolean;
  /** The factor computed from the shared state (what the limits would be multiplied by). */
  readonly factor: number;
  /** The factor answers use now: 1 in shadow mode or while the state is unreadable. */
  readonly enforcedFactor: number;
  /** false: the shared state could not be read at the last refresh (fail static: configured limits). */
  readonly stateReadable: boolean;
  readonly decision: string;
  readonly since: string | undefined;
  readonly lastInterval:
    | {
        readonly start: string;
        readonly samples: number;
        readonly errors: number;
        readonly errorRatio: number;
      }
    | undefined;
  /** Samples this replica buffered for the open interval (not yet in the shared sums). */
  readonly localOpenInterval: {
    readonly start: string;
    readonly samples: number;
    readonly errors: number;
    readonly upstream429: number;
  };
  readonly params: ErrorRateRuntime['params'];
}

export interface AbuseView {
  readonly domain: string;
  readonly name: string;
  readonly type: 'abuse';
  readonly shadowMode: boolean;
  readonly stateReadable: boolean;
  /** Values boxed now, all of them. */
  readonly boxed: number;
  /** At most VIEW_PENALTY_LIMIT, latest expiry first. */
  readonly penalties: readonly {
    readonly value: string;
    readonly factor: number;
    readonly expiresAt: string;
    readonly reason: string;
    readonly offences: number;
  }[];
  readonly truncated: boolean;
  /** Values this replica's detector tracks now (bounded). */
  readonly trackedValues: number;
  readonly params: AbuseRuntime['params'];
}

export function viewOf(
  runtimes: readonly (ErrorRateRuntime | AbuseRuntime)[],
  scope: AdaptiveView['scope'],
  refreshMs: number,
  nowMs: number,
): AdaptiveView {
  return {
    scope,
    refreshMs,
    controllers: runtimes.map((r) =>
      r.type === 'error_rate' ? errorRateView(r, nowMs) : abuseView(r, nowMs),
    ),
  };
}

function errorRateView(r: ErrorRateRuntime, nowMs: number): ErrorRateView {
  const record = r.record;
  const open = r.localOpen(nowMs);
  return {
    domain: r.id.domain,
    name: r.id.name,
    type: 'error_rate',
    shadowMode: r.shadowMode,
    factor: r.computed,
    enforcedFactor: r.enforced,
    stateReadable: r.stateOk,
    decision: record?.decision ?? 'hold',
    since: iso(record?.sinceMs),
    lastInterval:
      record === undefined
        ? undefined
        : {
            start: iso(record.closedStartMs)!,
            samples: record.samples,
            errors: record.errors,
            errorRatio: record.samples > 0 ? record.errors / record.samples : 0,
          },
    localOpenInterval: {
      start: iso(open.startMs)!,
      samples: open.samples,
      errors: open.errors,
      upstream429: open.upstream429,
    },
    params: r.params,
  };
}

function abuseView(r: AbuseRuntime, nowMs: number): AbuseView {
  const live = r.listed(nowMs);
  const listed = live.slice(0, VIEW_PENALTY_LIMIT);
  return {
    domain: r.id.domain,
    name: r.id.name,
    type: 'abuse',
    shadowMode: r.shadowMode,
    stateReadable: r.stateOk,
    boxed: [...r.boxed.values()].filter((expiresAtMs) => expiresAtMs > nowMs).length,
    penalties: listed.map((e) => ({
      value: e.value,
      factor: r.params.penalty.factor,
      expiresAt: iso(e.expiresAtMs)!,
      reason: e.reason,
      offences: e.offences,
    })),
    truncated: live.length > listed.length,
    trackedValues: r.detector.size,
    params: r.params,
  };
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
