import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitResponse_Code,
  RateLimitServiceClient,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { freePort } from './free-port.js';
import { stopProcess, waitForPing } from './redis-server.js';

/**
 * A bounded in-process load loop for fault tests: `concurrency` callers each
 * send ShouldRateLimit, await the answer, record it and send the next, until
 * `stop()` or `maxDurationMs`. Every answer is kept with its times (unless
 * `record` is false, for long runs that only need counts).
 */

export type Outcome = 'OK' | 'OVER_LIMIT' | 'ERROR';

export interface LoadSample {
  readonly caller: number;
  readonly seq: number;
  /** Wall clock (Date.now()) when the call was sent and when its answer arrived: the server's clock lies in between. */
  readonly sentAt: number;
  readonly doneAt: number;
  /** performance.now() difference, ms. */
  readonly latencyMs: number;
  readonly outcome: Outcome;
  /** gRPC status code (0 for an answer). */
  readonly code: number;
  /** Value of `X-RateLimit-Degraded` in responseHeadersToAdd, if any. */
  readonly degraded: string | undefined;
  /** limitRemaining of the first descriptor status (answers only). */
  readonly remaining: number | undefined;
  /** Error details (errors only). */
  readonly details: string | undefined;
}

export interface LoadCounts {
  total: number;
  ok: number;
  overLimit: number;
  errors: number;
  /** Answers carrying X-RateLimit-Degraded, by its value. */
  degraded: Record<string, number>;
  /** Errors by gRPC status name. */
  errorCodes: Record<string, number>;
  maxLatencyMs: number;
}

export interface LoadOptions {
  /** "host:port" of the gRPC listener. */
  readonly address: string;
  /** Callers running at once (each awaits its answer before the next call). */
  readonly concurrency: number;
  /** Hard bound of the run, ms; the loop also ends at `stop()`. */
  readonly maxDurationMs: number;
  /** The request caller `caller` sends as its `seq`-th call. */
  readonly request: (caller: number, seq: number) => RateLimitRequest;
  /** Per-call gRPC deadline, ms (default 2000: far below REDIS_TIMEOUT, so a hang shows as DEADLINE_EXCEEDED). */
  readonly deadlineMs?: number;
  /** Keep every sample (default true); false keeps counts only. */
  readonly record?: boolean;
  /** gRPC channels to spread the callers over (default 1). */
  readonly channels?: number;
  /** Stop after this many calls in all (default: no cap). */
  readonly maxRequests?: number;
}

export interface LoadRun {
  /** Samples so far (live array; do not mutate). */
  readonly samples: readonly LoadSample[];
  readonly counts: LoadCounts;
  /** Date.now() when the run started. */
  readonly startedAt: number;
  /** Resolves when every caller has stopped (after `stop()` or `maxDurationMs`). */
  readonly done: Promise<LoadCounts>;
  /** Asks the callers to stop after their current call, and waits for them. */
  stop(): Promise<LoadCounts>;
}

/**
 * Settings of the fault tests: the defaults (what docs/failure-modes.md
 * measures), unless FAULT_BACKEND_TIMEOUT reruns them with another budget.
 */
export const FAULT_ENV: Readonly<Record<string, string>> =
  process.env.FAULT_BACKEND_TIMEOUT === undefined
    ? {}
    : { BACKEND_TIMEOUT: process.env.FAULT_BACKEND_TIMEOUT };

export const DEGRADED_HEADER = 'x-ratelimit-degraded';

const STATUS_NAMES = new Map<number, string>(
  Object.entries(status)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

export function statusName(code: number): string {
  return STATUS_NAMES.get(code) ?? String(code);
}

/** Starts the callers at once; the run ends at `stop()` or after `maxDurationMs`. */
export function startLoad(options: LoadOptions): LoadRun {
  const deadlineMs = options.deadlineMs ?? 2_000;
  const record = options.record ?? true;
  const clients = Array.from(
    { length: Math.max(1, options.channels ?? 1) },
    () => new RateLimitServiceClient(options.address, credentials.createInsecure()),
  );
  const samples: LoadSample[] = [];
  const counts: LoadCounts = {
    total: 0,
    ok: 0,
    overLimit: 0,
    errors: 0,
    degraded: {},
    errorCodes: {},
    maxLatencyMs: 0,
  };
  const startedAt = Date.now();
  const endAt = performance.now() + options.maxDurationMs;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  let stopping = false;

  const call = (client: RateLimitServiceClient, request: RateLimitRequest) =>
    new Promise<{ reply?: RateLimitResponse; error?: ServiceError }>((resolve) => {
      client.shouldRateLimit(request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, reply) =>
        resolve(error ? { error: error as ServiceError } : { reply }),
      );
    });

  const caller = async (index: number) => {
    const client = clients[index % clients.length] as RateLimitServiceClient;
    for (let seq = 0; !stopping && sent < maxRequests && performance.now() < endAt; seq++) {
      sent++;
      const sentAt = Date.now();
      const t0 = performance.now();
      const { reply, error } = await call(client, options.request(index, seq));
      const latencyMs = performance.now() - t0;
      const doneAt = Date.now();
      let outcome: Outcome;
      let degraded: string | undefined;
      let code = 0;
      if (reply !== undefined) {
        outcome = reply.overallCode === RateLimitResponse_Code.OVER_LIMIT ? 'OVER_LIMIT' : 'OK';
        degraded = reply.responseHeadersToAdd.find((h) => h.key.toLowerCase() === DEGRADED_HEADER)?.value;
      } else {
        outcome = 'ERROR';
        code = error?.code ?? status.UNKNOWN;
      }
      counts.total++;
      if (outcome === 'OK') counts.ok++;
      else if (outcome === 'OVER_LIMIT') counts.overLimit++;
      else {
        counts.errors++;
        const name = statusName(code);
        counts.errorCodes[name] = (counts.errorCodes[name] ?? 0) + 1;
      }
      if (degraded !== undefined) counts.degraded[degraded] = (counts.degraded[degraded] ?? 0) + 1;
      if (latencyMs > counts.maxLatencyMs) counts.maxLatencyMs = latencyMs;
      if (record) {
        samples.push({
          caller: index,
          seq,
          sentAt,
          doneAt,
          latencyMs,
          outcome,
          code,
          degraded,
          remaining: reply?.statuses[0]?.limitRemaining,
          details: error?.details,
        });
      }
    }
  };

  const done = Promise.all(Array.from({ length: options.concurrency }, (_, i) => caller(i))).then(() => {
    for (const client of clients) client.close();
    return counts;
  });
  return {
    samples,
    counts,
    startedAt,
    done,
    stop() {
      stopping = true;
      return done;
    },
  };
}

/** A clean answer: OK or OVER_LIMIT from the backend itself (no error, no degraded header). */
export function isClean(sample: LoadSample): boolean {
  return sample.outcome !== 'ERROR' && sample.degraded === undefined;
}

/**
 * Waits until no bad answer came for `quietMs`, counted from `after` at the
 * earliest, and the answers of the last `quietMs` (at least `minAnswers` of
 * them, sent after `after`) are all clean; polls every 50 ms; false when
 * `timeoutMs` passes first.
 */
export async function waitUntilClean(
  run: LoadRun,
  { quietMs = 500, minAnswers = 20, timeoutMs = 10_000, after = 0 } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = Date.now();
    const recent = run.samples.filter((s) => s.doneAt >= now - quietMs && s.sentAt >= after);
    const lastBad = lastWhere(run.samples, (s) => !isClean(s));
    // clean since the last bad answer, and for quietMs after `after` (Redis may be back before `after`)
    const cleanSince = Math.max(lastBad === undefined ? run.startedAt : lastBad.doneAt, after);
    if (recent.length >= minAnswers && recent.every(isClean) && now - cleanSince >= quietMs) return true;
    await sleep(50);
  }
  return false;
}

export interface FaultWindow {
  /** Answers that were errors or carried X-RateLimit-Degraded. */
  readonly bad: number;
  /** doneAt of the first and last such answer (undefined when none). */
  readonly firstBadAt: number | undefined;
  readonly lastBadAt: number | undefined;
  /** lastBadAt - firstBadAt, ms (0 when none). */
  readonly windowMs: number;
}

export function faultWindow(samples: readonly LoadSample[]): FaultWindow {
  let bad = 0;
  let first: number | undefined;
  let last: number | undefined;
  for (const sample of samples) {
    if (isClean(sample)) continue;
    bad++;
    first = first === undefined ? sample.doneAt : Math.min(first, sample.doneAt);
    last = last === undefined ? sample.doneAt : Math.max(last, sample.doneAt);
  }
  return {
    bad,
    firstBadAt: first,
    lastBadAt: last,
    windowMs: first === undefined || last === undefined ? 0 : last - first,
  };
}

export function countBy<T, K extends string>(
  samples: readonly T[],
  key: (sample: T) => K,
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const sample of samples) {
    const k = key(sample);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The latency percentile `p` (0..1) of `samples`, ms. */
export function latencyPercentile(samples: readonly LoadSample[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/**
 * Admissions per fixed window of `windowMs` (epoch-aligned, as fixed_window
 * counts), for the answers `admitted` selects. An answer is attributed to a
 * window only when it was sent and answered inside it (the server's clock read
 * lies in between); answers spanning a boundary are counted as `ambiguous`.
 * So `certain` per window is a lower bound of what the server admitted in it.
 */
export function admissionsPerWindow(
  samples: readonly LoadSample[],
  windowMs: number,
  admitted: (sample: LoadSample) => boolean,
): { certain: Map<number, number>; ambiguous: number } {
  const certain = new Map<number, number>();
  let ambiguous = 0;
  for (const sample of samples) {
    if (!admitted(sample)) continue;
    const from = Math.floor(sample.sentAt / windowMs);
    const to = Math.floor(sample.doneAt / windowMs);
    if (from !== to) {
      ambiguous++;
      continue;
    }
    certain.set(from, (certain.get(from) ?? 0) + 1);
  }
  return { certain, ambiguous };
}

/** Sum over windows of admissions beyond `limit` (certain ones only). */
export function excessOver(perWindow: Map<number, number>, limit: number): number {
  let excess = 0;
  for (const n of perWindow.values()) excess += Math.max(0, n - limit);
  return excess;
}

function lastWhere<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as T;
    if (predicate(item)) return item;
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Fault helpers: a redis-server that can be SIGKILLed, SIGSTOPped and started
// again on the same port (test/support/redis-server.ts picks a new port each time).

export interface RestartableRedis {
  readonly port: number;
  /** "redis://127.0.0.1:port". */
  readonly url: string;
  /** PID of the current process (undefined while killed). */
  pid(): number | undefined;
  /** SIGKILL by PID; resolves when the process has exited. */
  kill(): Promise<void>;
  /** Starts a fresh redis-server (empty: no persistence) on the same port; resolves when it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT by PID. */
  pause(): void;
  resume(): void;
  /** Stops the process (SIGCONT first if paused) and removes its directory. */
  stop(): Promise<void>;
}

export async function startRestartableRedis(): Promise<RestartableRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'rl-fault-redis-'));
  let child: ChildProcess | undefined;
  let paused = false;
  const spawnOnPort = async () => {
    const next = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    next.on('error', () => {});
    child = next;
    const exited = new Promise<never>((_, reject) => {
      next.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal})`)));
    });
    exited.catch(() => {});
    await Promise.race([waitForPing('127.0.0.1', port), exited]);
  };
  const exit = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await spawnOnPort();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid,
    async kill() {
      const current = child;
      if (current === undefined) return;
      const gone = exit(current);
      current.kill('SIGKILL');
      await gone;
      paused = false;
      child = undefined;
    },
    async restart() {
      if (child !== undefined) throw new Error('redis-server still running');
      await spawnOnPort();
    },
    pause() {
      child?.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      child?.kill('SIGCONT');
      paused = false;
    },
    async stop() {
      if (child !== undefined) {
        if (paused) child.kill('SIGCONT');
        await stopProcess(child);
        child = undefined;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Collects unhandled rejections and uncaught exceptions of this process while installed. */
export function watchProcessErrors(): { readonly errors: unknown[]; dispose(): void } {
  const errors: unknown[] = [];
  const onRejection = (reason: unknown) => errors.push(reason);
  const onException = (error: unknown) => errors.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    errors,
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/**
 * One line per `binMs` of answers (by doneAt, relative to `origin`):
 * clean / degraded / error counts and the max latency, for reading a run.
 */
export function timeline(samples: readonly LoadSample[], origin: number, binMs = 250): string[] {
  const bins = new Map<number, { clean: number; degraded: number; errors: number; maxMs: number }>();
  for (const s of samples) {
    const bin = Math.floor((s.doneAt - origin) / binMs);
    const b = bins.get(bin) ?? { clean: 0, degraded: 0, errors: 0, maxMs: 0 };
    if (s.outcome === 'ERROR') b.errors++;
    else if (s.degraded !== undefined) b.degraded++;
    else b.clean++;
    b.maxMs = Math.max(b.maxMs, s.latencyMs);
    bins.set(bin, b);
  }
  return [...bins.entries()]
    .sort(([a], [b]) => a - b)
    .map(
      ([bin, b]) =>
        `${String(bin * binMs).padStart(6)} ms  clean ${String(b.clean).padStart(5)}  degraded ${String(b.degraded).padStart(5)}  errors ${String(b.errors).padStart(5)}  max ${Math.round(b.maxMs)} ms`,
    );
}

/**
 * A function that runs a full garbage collection: `global.gc` when node runs
 * with --expose-gc, else one obtained by setting the flag at run time (as
 * jest's leak detector does); undefined if neither works.
 */
export function gcFunction(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
