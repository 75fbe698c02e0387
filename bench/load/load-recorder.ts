/**
 * Tallies the generator's completed requests: latency of each measured request in a
 * preallocated Float64Array, counts per grpc-status and per overall_code, and the
 * generator's own CPU and event-loop utilization over the measured phase.
 */
import { performance } from 'node:perf_hooks';
import { type LoadResult, summarize } from './load-result.js';

/** Initial latency slots per measured second; doubled (rarely) when a run is faster. */
const EXPECTED_REQ_PER_SEC = 100_000;
/** grpc-status values 0..16; index 17 collects anything else. */
const GRPC_STATUSES = 18;
const OK = 1;
const OVER_LIMIT = 2;

type Result = Omit<LoadResult, 'concurrency' | 'connections' | 'bodies' | 'firstError'>;

export class LoadRecorder {
  private latenciesUs: Float64Array;
  private count = 0;
  private warmup = 0;
  private succeeded = 0;
  private failed = 0;
  private errored = 0;
  private ok = 0;
  private overLimit = 0;
  private otherCode = 0;
  private readonly grpcStatus = new Uint32Array(GRPC_STATUSES);
  private lastEndMs: number;
  private cpuAtStart = process.cpuUsage();
  private eluAtStart = performance.eventLoopUtilization();
  private wallAtStartMs = performance.now();

  /** `measureStartMs` on performance.now()'s clock: requests started before it are warm-up. */
  constructor(
    private readonly measureStartMs: number,
    seconds: number,
  ) {
    this.latenciesUs = new Float64Array(Math.ceil(Math.max(1, seconds) * EXPECTED_REQ_PER_SEC));
    this.lastEndMs = measureStartMs;
  }

  /** Snapshots CPU and event-loop counters; call when the measured phase begins. */
  beginMeasuring(): void {
    this.cpuAtStart = process.cpuUsage();
    this.eluAtStart = performance.eventLoopUtilization();
    this.wallAtStartMs = performance.now();
  }

  /**
   * One finished stream. `grpcStatus` -1: no grpc-status arrived; `code` -1: no overall_code
   * was read; `rstCode` the HTTP/2 RST_STREAM code (0 = none or NO_ERROR).
   */
  complete(
    startMs: number,
    endMs: number,
    httpStatus: number,
    grpcStatus: number,
    code: number,
    rstCode: number,
  ): void {
    if (startMs < this.measureStartMs) {
      this.warmup++;
      return;
    }
    if (this.count === this.latenciesUs.length) {
      const grown = new Float64Array(this.latenciesUs.length * 2);
      grown.set(this.latenciesUs);
      this.latenciesUs = grown;
    }
    this.latenciesUs[this.count++] = (endMs - startMs) * 1000;
    this.lastEndMs = endMs;
    if (grpcStatus < 0) {
      this.errored++;
      return;
    }
    this.grpcStatus[Math.min(grpcStatus, GRPC_STATUSES - 1)]!++;
    if (grpcStatus !== 0 || httpStatus !== 200 || rstCode !== 0) {
      this.failed++;
      return;
    }
    this.succeeded++;
    if (code === OK) this.ok++;
    else if (code === OVER_LIMIT) this.overLimit++;
    else this.otherCode++;
  }

  result(): Result {
    const cpu = process.cpuUsage(this.cpuAtStart);
    const elu = performance.eventLoopUtilization(this.eluAtStart);
    const wallMs = performance.now() - this.wallAtStartMs;
    const seconds = Math.max(1e-9, (this.lastEndMs - this.measureStartMs) / 1000);
    const grpcStatus: Record<string, number> = {};
    this.grpcStatus.forEach((n, status) => {
      if (n > 0) grpcStatus[status === GRPC_STATUSES - 1 ? 'other' : String(status)] = n;
    });
    return {
      seconds,
      reqPerSec: this.count / seconds,
      requests: this.count,
      warmupRequests: this.warmup,
      succeeded: this.succeeded,
      failed: this.failed,
      errored: this.errored,
      grpcStatus,
      ok: this.ok,
      overLimit: this.overLimit,
      otherCode: this.otherCode,
      ...summarize(this.latenciesUs.subarray(0, this.count)),
      generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      generatorEventLoopUtilization: elu.utilization,
    };
  }
}
