import { credentials, Metadata } from '@grpc/grpc-js';
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitServiceClient,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';

/**
 * An open-loop gRPC load: `ratePerSecond` ShouldRateLimit calls are sent on a fixed schedule
 * (a batch every `tickMs`), whether or not earlier ones were answered, as Envoy's traffic
 * does. A server that stops answering shows as calls past their deadline, not as a slower
 * sender (which a closed loop would hide).
 */
export interface OpenLoopSample {
  /** performance.now() when sent. */
  readonly sentAt: number;
  readonly latencyMs: number;
  /** False when the call failed (deadline, connection), true for any answer. */
  readonly answered: boolean;
  readonly reply: RateLimitResponse | undefined;
  readonly error: string | undefined;
}

export interface OpenLoopOptions {
  readonly address: string;
  readonly ratePerSecond: number;
  readonly request: (seq: number) => RateLimitRequest;
  /** Per-call deadline, ms (default 2000). */
  readonly deadlineMs?: number;
  /** Batch interval, ms (default 10). */
  readonly tickMs?: number;
}

export interface OpenLoop {
  readonly samples: readonly OpenLoopSample[];
  /** Stops sending and waits for every call in flight. */
  stop(): Promise<readonly OpenLoopSample[]>;
}

export function startOpenLoop(options: OpenLoopOptions): OpenLoop {
  const client = new RateLimitServiceClient(options.address, credentials.createInsecure());
  const tickMs = options.tickMs ?? 10;
  const deadlineMs = options.deadlineMs ?? 2_000;
  const samples: OpenLoopSample[] = [];
  const inFlight = new Set<Promise<void>>();
  const startedAt = performance.now();
  let seq = 0;
  const send = (): void => {
    const request = options.request(seq++);
    const sentAt = performance.now();
    const done = new Promise<void>((resolve) => {
      client.shouldRateLimit(request, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) => {
        const latencyMs = performance.now() - sentAt;
        samples.push({
          sentAt,
          latencyMs,
          answered: err === null,
          reply: err === null ? reply : undefined,
          error: err === null ? undefined : err.message,
        });
        resolve();
      });
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  // Catches up on missed ticks, so a stalled test process still sends at the rate on average.
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * options.ratePerSecond);
    while (seq < due) send();
  }, tickMs);
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      client.close();
      return samples;
    },
  };
}

/** The p-th percentile (0..100) of the latencies, ms; 0 for no samples. */
export function percentile(samples: readonly OpenLoopSample[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}
