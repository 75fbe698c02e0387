import { type AccessLogEntry, flagBit, RESPONSE_FLAG } from '../../grpc/access-log-decoder.js';

/**
 * What an access-log entry says about its upstream, and the per-message
 * summary the error-rate controllers consume (DESIGN.md "Adaptive limits",
 * "Signals in"). Pure; fed by the AccessLogService on the gRPC port (src/grpc/access-log-service.ts).
 *
 * Rules, applied in this order:
 * 1. Envoy's own rate-limit answers are not upstream outcomes: an entry with
 *    `rate_limited` (RL: a 429 from this service or a local rate limit) or
 *    `rate_limit_service_error` (RLSE: this service failed; Envoy answers 500
 *    under failure_mode_deny) is `skipped`, counted nowhere else. Counting
 *    them would feed the limiter's own decisions back into it: RLSE 500s would
 *    tighten limits because the limiter is down, and RL 429s would dilute the
 *    error ratio (and look like upstream 429s) exactly when limits are tight.
 * 2. Otherwise the entry counts in `total`, and it is an `error` when its
 *    response code is 5xx (500–599) or its flags show an upstream failure
 *    (UPSTREAM_FAILURE_FLAGS). Envoy-local 5xx answers other than RL/RLSE
 *    (overload manager, fault injection) count as errors, as DESIGN.md's
 *    "5xx" says: they also mean the route is in trouble or is being tested.
 * 3. A 429 that is not an error counts in `upstream429`, not as an error (the
 *    upstream asked for less traffic; a controller may use it separately).
 */

/**
 * ResponseFlags that mean the upstream failed (Envoy's docs: access log
 * format, %RESPONSE_FLAGS%). DESIGN.md names connection failure, reset,
 * overflow and timeout; the others here are the same kinds of failure:
 * - UF  upstream_connection_failure          could not connect
 * - UC  upstream_connection_termination      the upstream closed the connection
 * - UR  upstream_remote_reset                the upstream reset the stream
 * - UO  upstream_overflow                    circuit breaker / pool overflow
 * - UT  upstream_request_timeout             route timeout
 * - UMSDR upstream_max_stream_duration_reached  the same, for max_stream_duration
 * - UH  no_healthy_upstream                  no healthy host in the cluster
 * - URX upstream_retry_limit_exceeded        retries used up on upstream failures
 * - UPE upstream_protocol_error              the upstream spoke invalid HTTP
 * Not upstream failures: downstream ones (DC, DR, DPE, SI: the client went away
 * or misbehaved), local_reset (LR, either side), Envoy's own decisions (NR, NC,
 * UAEX, IH, FI, DI, RFCF, NFCF, DT, OM, LH) and dns_resolution_failure (DF,
 * a resolver problem, answered 503 and so counted by its code anyway).
 */
export const UPSTREAM_FAILURE_FLAGS: number = [
  RESPONSE_FLAG.upstream_connection_failure,
  RESPONSE_FLAG.upstream_connection_termination,
  RESPONSE_FLAG.upstream_remote_reset,
  RESPONSE_FLAG.upstream_overflow,
  RESPONSE_FLAG.upstream_request_timeout,
  RESPONSE_FLAG.upstream_max_stream_duration_reached,
  RESPONSE_FLAG.no_healthy_upstream,
  RESPONSE_FLAG.upstream_retry_limit_exceeded,
  RESPONSE_FLAG.upstream_protocol_error,
].reduce((bits, field) => bits | flagBit(field), 0);

/** Entries the classifier leaves out: answers of the rate limiter itself. */
export const RATE_LIMITER_FLAGS: number =
  flagBit(RESPONSE_FLAG.rate_limited) | flagBit(RESPONSE_FLAG.rate_limit_service_error);

export type EntryOutcome = 'skipped' | 'error' | 'upstream429' | 'ok';

export function classifyEntry(entry: AccessLogEntry): EntryOutcome {
  if ((entry.responseFlags & RATE_LIMITER_FLAGS) !== 0) return 'skipped';
  if ((entry.responseFlags & UPSTREAM_FAILURE_FLAGS) !== 0) return 'error';
  const code = entry.responseCode;
  if (code >= 500 && code <= 599) return 'error';
  if (code === 429) return 'upstream429';
  return 'ok';
}

/** The fields a controller's `match` may name; '' when the entry had none. */
export interface ErrorSampleKey {
  readonly upstreamCluster: string;
  readonly routeName: string;
  readonly authority: string;
}

/** A controller's `match: {upstream_cluster?, route_name?, authority?}`, in camelCase. */
export interface ErrorSampleMatch {
  readonly upstreamCluster?: string;
  readonly routeName?: string;
  readonly authority?: string;
}

/**
 * True when every field the match names equals the key's (a match naming
 * several fields needs all of them). An empty match matches nothing: a
 * controller must say which traffic it watches. An entry's missing field is
 * '', so the config must not allow '' as a match value.
 */
export function sampleMatches(match: ErrorSampleMatch, key: ErrorSampleKey): boolean {
  let named = false;
  for (const field of ['upstreamCluster', 'routeName', 'authority'] as const) {
    const want = match[field];
    if (want === undefined) continue;
    if (want !== key[field]) return false;
    named = true;
  }
  return named;
}

/** Counts for one key in one message. `errors` and `upstream429` never overlap; both ≤ total. */
export interface ErrorSample {
  readonly key: ErrorSampleKey;
  readonly total: number;
  readonly errors: number;
  readonly upstream429: number;
}

/** One message's entries grouped by key. At most one group per entry, so bounded by maxEntriesPerMessage. */
export interface AccessLogSummary {
  readonly samples: readonly ErrorSample[];
  /** Entries left out (rule 1 above). */
  readonly skipped: number;
  /** Entries whose authority was over maxAuthorityBytes (counted with authority ''). */
  readonly authorityTooLong: number;
}

/**
 * Where the access-log service sends each message's samples. The controller
 * side (next change) keeps only the keys some controller's `match` selects
 * (sampleMatches), so caller-chosen authorities never grow its state.
 */
export interface ErrorSampleSink {
  record(key: ErrorSampleKey, total: number, errors: number, upstream429: number): void;
}

interface MutableSample {
  key: ErrorSampleKey;
  total: number;
  errors: number;
  upstream429: number;
}

export function summarizeEntries(entries: readonly AccessLogEntry[]): AccessLogSummary {
  const groups = new Map<string, MutableSample>();
  let skipped = 0;
  let authorityTooLong = 0;
  for (const entry of entries) {
    const outcome = classifyEntry(entry);
    if (outcome === 'skipped') {
      skipped++;
      continue;
    }
    if (entry.authorityTooLong) authorityTooLong++;
    const { upstreamCluster, routeName, authority } = entry;
    // lengths first, so no choice of strings can make two keys collide
    const id = `${upstreamCluster.length}:${routeName.length}:${upstreamCluster}${routeName}${authority}`;
    let sample = groups.get(id);
    if (sample === undefined) {
      sample = { key: { upstreamCluster, routeName, authority }, total: 0, errors: 0, upstream429: 0 };
      groups.set(id, sample);
    }
    sample.total++;
    if (outcome === 'error') sample.errors++;
    else if (outcome === 'upstream429') sample.upstream429++;
  }
  return { samples: [...groups.values()], skipped, authorityTooLong };
}

/** Sends a summary's samples to the sink, one call per key. */
export function recordSummary(summary: AccessLogSummary, sink: ErrorSampleSink): void {
  for (const s of summary.samples) sink.record(s.key, s.total, s.errors, s.upstream429);
}
