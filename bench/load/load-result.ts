/**
 * What one run of the gRPC load generator (grpc-load.ts) reports: the JSON line its child
 * process prints and runGrpcLoad returns. Latency fields are in microseconds; latency is
 * measured in the generator from just before `session.request()` to the stream's close.
 */

export interface LoadResult {
  /** Measured wall time: start of the measured phase to the last measured completion, s. */
  seconds: number;
  /** Measured completions per second (any outcome). */
  reqPerSec: number;
  /** Requests started inside the measured phase that completed (any outcome). */
  requests: number;
  /** Requests completed in the warm-up phase (not in any other field). */
  warmupRequests: number;
  /** Completed with grpc-status 0. */
  succeeded: number;
  /** Completed with a grpc-status other than 0, or HTTP status other than 200. */
  failed: number;
  /** Reset, refused or cut off (no grpc-status at all), or never answered by the hard timeout. */
  errored: number;
  /** Count per grpc-status value (key: status as a string), for measured requests. */
  grpcStatus: Record<string, number>;
  /** RateLimitResponse.overall_code of the measured grpc-status 0 answers. */
  ok: number;
  overLimit: number;
  /** overall_code UNKNOWN (0) or any other value. */
  otherCode: number;
  meanUs: number;
  maxUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  concurrency: number;
  connections: number;
  /** Distinct bodies rotated through. */
  bodies: number;
  /** Generator process CPU (user + system, all threads) over the measured phase, % of one core. */
  generatorCpuPercent: number;
  /** Generator event-loop utilization over the measured phase, 0..1; near 1 means the generator is the bottleneck. */
  generatorEventLoopUtilization: number;
  /** First error seen (session or stream), if any. */
  firstError?: string;
}

/** Latency summary of `latenciesUs` (sorted in place). Empty input gives NaN everywhere. */
export function summarize(
  latenciesUs: Float64Array,
): Pick<LoadResult, 'meanUs' | 'maxUs' | 'p50Us' | 'p99Us' | 'p999Us'> {
  const n = latenciesUs.length;
  const nan = Number.NaN;
  if (n === 0) return { meanUs: nan, maxUs: nan, p50Us: nan, p99Us: nan, p999Us: nan };
  latenciesUs.sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += latenciesUs[i]!;
  // nearest-rank on the lower side, as bench/run.ts computes h2load's percentiles
  const at = (p: number): number => latenciesUs[Math.min(n - 1, Math.floor((p / 100) * n))]!;
  return { meanUs: sum / n, maxUs: latenciesUs[n - 1]!, p50Us: at(50), p99Us: at(99), p999Us: at(99.9) };
}
