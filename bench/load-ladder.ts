/**
 * Load ladder (`make bench-ladder`): ONE Redis-backed service process with default
 * resilience settings, under open-loop load at fixed shares of its measured maximum. Below
 * saturation every answer must be OK: no UNAVAILABLE, no backend timeout, no breaker opening.
 *
 * 1. The maximum: h2load closed loop (concurrency --concurrency) for --max-seconds.
 * 2. One step per share in --steps: h2load with `--rps` (a fixed schedule per connection,
 *    independent of the answers) for --step-seconds.
 * Per step: offered and answered rate, answers by kind from the server's own /metrics
 * deltas (h2load cannot read grpc-status), p50/p99 from h2load's per-request log, server CPU.
 * Prints a markdown table and one JSON line on stdout; progress goes to stderr.
 *
 * Run after `make build` and `npx tsc -p bench/tsconfig.json`:
 *   node dist/bench/bench/load-ladder.js [--cli PATH] [--steps 10,20,...] [--step-seconds 8]
 *     [--max-seconds 5] [--concurrency 64]
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { startRedisServer } from '../test/support/redis-server.js';
import { count, log } from './lib/format.js';
import { type H2loadResult, h2load, shape } from './lib/h2load.js';
import { cpuSeconds, version } from './lib/process-stats.js';
import { type CounterSelector, deltas, scrape } from './lib/server-metrics.js';
import { grpcCheck, ROOT, type Running, startTarget, stopTarget } from './lib/targets.js';
import { requestFrame } from './load/request-bodies.js';

const CONFIG = `domain: bench
descriptors:
  - key: fixed_window
    rate_limit: { unit: hour, requests_per_unit: 1000000000 }
`;
const ENTRY = { key: 'fixed_window', value: 'ladder' };
const PROBE = { domain: 'bench', descriptors: [{ entries: [ENTRY] }], hitsAddend: 0 };
/**
 * Open-loop shape: as many connections as the closed-loop maximum uses, each allowed this
 * many streams in flight. h2load holds a request back (and leaves its wait out of the latency)
 * only once a connection has this many in flight, which happens only past saturation.
 */
const OPEN_LOOP_STREAMS = 256;
/** After a step, time for answers still in flight to reach the server's counters. */
const SETTLE_MS = 1000;
/** The longest wait for an OK answer before a step (above the default breaker backoff cap). */
const RECOVERY_LIMIT_MS = 15_000;
/** Settings that would override the defaults this ladder is about. */
const RESILIENCE_ENV = /^(BACKEND_TIMEOUT|CIRCUIT_BREAKER_|FAILURE_MODE|LOCAL_CACHE_)/;

/** Server-side counts per step (ShouldRateLimit with one descriptor: one hit per call). */
const COUNTERS = {
  calls: { name: 'ratelimit_service_total_requests', labels: { grpc_method: 'ShouldRateLimit' } },
  ok: { name: 'ratelimit_service_rate_limit_within_limit' },
  unavailable: { name: 'ratelimit_failure_mode_answers_total', labels: { mode: 'error' } },
  errors: { name: 'ratelimit_service_should_rate_limit_error' },
  timeouts: { name: 'ratelimit_backend_errors_total', labels: { reason: 'timeout' } },
  backendErrors: { name: 'ratelimit_backend_errors_total', labels: { reason: 'error' } },
  circuitOpened: { name: 'ratelimit_backend_circuit_opened_total' },
} satisfies Record<string, CounterSelector>;
type Counts = Record<keyof typeof COUNTERS, number | null>;

interface Options {
  cli: string;
  steps: number[];
  stepSeconds: number;
  maxSeconds: number;
  concurrency: number;
}

interface Step extends Counts {
  percent: number;
  offered: number;
  /** h2load completions per second (any grpc-status). */
  answered: number;
  /** h2load's failed requests (HTTP status or stream errors; grpc-status is not HTTP's). */
  h2loadFailed: number;
  /** Waited before the step until the service answered OK, ms. */
  waitedMs: number;
  /** Completions minus OK and UNAVAILABLE by the server's count. */
  other: number | null;
  p50Ms: number;
  p99Ms: number;
  serverCpuPercent: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      cli: { type: 'string', default: join(ROOT, 'dist/cli.js') },
      steps: { type: 'string', default: '10,20,30,40,50,60,70,80,90,100,120' },
      'step-seconds': { type: 'string', default: '8' },
      'max-seconds': { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '64' },
    },
  });
  const positive = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${raw}`);
    return n;
  };
  return {
    cli: resolve(values.cli),
    steps: values.steps.split(',').map((s) => positive('steps', s)),
    stepSeconds: positive('step-seconds', values['step-seconds']),
    maxSeconds: positive('max-seconds', values['max-seconds']),
    concurrency: Math.round(positive('concurrency', values.concurrency)),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `load`; returns h2load's result, the server's counter deltas and its CPU, % of a core. */
async function measured(running: Running, load: () => Promise<H2loadResult>) {
  const pid = running.child.pid!;
  const before = await scrape(running.httpPort!);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const result = await load();
  const cpuPercent = ((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
  await sleep(SETTLE_MS);
  return { result, counts: deltas(COUNTERS, before, await scrape(running.httpPort!)), cpuPercent };
}

/**
 * Waits until the service answers a probe OK (at most RECOVERY_LIMIT_MS), so each step starts
 * with a closed breaker instead of one opened by the load before; returns the ms waited.
 */
async function untilOk(running: Running): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < RECOVERY_LIMIT_MS) {
    const code = await grpcCheck(running.port, PROBE, 1000).catch(() => 'error');
    if (code === 'OK') return performance.now() - t0;
    await sleep(200);
  }
  log(`the service did not answer OK within ${RECOVERY_LIMIT_MS} ms; going on`);
  return performance.now() - t0;
}

function toStep(
  percent: number,
  rate: number,
  waitedMs: number,
  m: Awaited<ReturnType<typeof measured>>,
): Step {
  const { calls, ok, unavailable } = m.counts;
  return {
    percent,
    offered: rate,
    answered: m.result.reqPerSec,
    h2loadFailed: m.result.failed,
    waitedMs,
    ...m.counts,
    other: calls === null || ok === null ? null : calls - ok - (unavailable ?? 0),
    p50Ms: m.result.p50Us / 1000,
    p99Ms: m.result.p99Us / 1000,
    serverCpuPercent: m.cpuPercent,
  };
}

async function ladder(opts: Options, running: Running, data: string, logFile: string) {
  log(`measuring the maximum (${opts.maxSeconds} s closed loop at concurrency ${opts.concurrency}) ...`);
  await h2load(running.port, data, opts.concurrency, 2, undefined);
  const max = await measured(running, () =>
    h2load(running.port, data, opts.concurrency, opts.maxSeconds, logFile),
  );
  const maxRate = max.result.reqPerSec;
  log(`max ${count(maxRate)} req/s`);
  const { c } = shape(opts.concurrency);
  const steps: Step[] = [];
  for (const percent of opts.steps) {
    const rate = (maxRate * percent) / 100;
    const waitedMs = await untilOk(running);
    const m = await measured(running, () =>
      h2load(running.port, data, { c, m: OPEN_LOOP_STREAMS }, opts.stepSeconds, logFile, [
        `--rps=${rate / c}`,
      ]),
    );
    const row = toStep(percent, rate, waitedMs, m);
    steps.push(row);
    log(
      `${percent}%: offered ${count(rate)}, answered ${count(row.answered)} req/s; OK ${n(row.ok)}, UNAVAILABLE ${n(row.unavailable)}, p99 ${ms(row.p99Ms)} ms`,
    );
  }
  return { max: toStep(100, maxRate, 0, max), steps };
}

async function main(): Promise<void> {
  const opts = options();
  for (const name of Object.keys(process.env)) {
    if (RESILIENCE_ENV.test(name)) {
      log(`ignoring ${name} from the environment: the ladder runs the defaults`);
      delete process.env[name];
    }
  }
  const load0 = loadavg();
  const work = await mkdtemp(join(tmpdir(), 'rl-ladder-'));
  const configDir = join(work, 'config');
  await mkdir(configDir);
  await writeFile(join(configDir, 'bench.yaml'), CONFIG);
  const data = join(work, 'frame.bin');
  await writeFile(data, requestFrame([[ENTRY]]));
  const redis = await startRedisServer();
  let running: Running | undefined;
  try {
    running = await startTarget({ backend: 'redis', cli: opts.cli }, configDir, redis.url, PROBE);
    const { max, steps } = await ladder(opts, running, data, join(work, 'h2load.log'));
    await report(opts, max, steps, [load0, loadavg()]);
  } finally {
    await stopTarget(running);
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const n = (v: number | null): string => (v === null ? 'n/a' : count(v));
const ms = (v: number): string => (Number.isNaN(v) ? '–' : v.toFixed(2));
const avg = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');

function tableRow(s: Step, closedLoop: boolean): string {
  const cells = [
    closedLoop ? 'max, closed loop' : `${s.percent}%`,
    closedLoop ? '–' : count(s.offered),
    count(s.answered),
    n(s.calls),
    n(s.ok),
    n(s.unavailable),
    n(s.other),
    n(s.timeouts),
    n(s.backendErrors),
    n(s.circuitOpened),
    ms(s.p50Ms),
    ms(s.p99Ms),
    `${s.serverCpuPercent.toFixed(0)}%`,
    (s.waitedMs / 1000).toFixed(1),
  ];
  return `| ${cells.join(' | ')} |`;
}

async function report(opts: Options, max: Step, steps: Step[], load: number[][]): Promise<void> {
  const commit = await promisify(execFile)('git', ['-C', dirname(opts.cli), 'log', '-1', '--format=%h %cs'])
    .then(({ stdout }) => stdout.trim())
    .catch(() => 'unknown');
  const lines = [
    `Load ladder: ${opts.cli} (checkout at ${commit}); one \`serve --backend redis\` process, default settings.`,
    `Maximum: h2load closed loop, concurrency ${opts.concurrency}, ${opts.maxSeconds} s. Steps: ${opts.stepSeconds} s each, h2load --rps over ${shape(opts.concurrency).c} connections (open loop).`,
    `Load average (1/5/15 min) before ${avg(load[0]!)}, after ${avg(load[1]!)}; ${await version('h2load', ['--version'])}; ${await version('redis-server', ['--version'])}.`,
    '',
    '| load | offered req/s | answered req/s | calls | OK | UNAVAILABLE | other | backend timeouts | backend errors | breaker opened | p50 ms | p99 ms | server CPU | waited s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    tableRow(max, true),
    ...steps.map((s) => tableRow(s, false)),
    '',
    "answered: h2load's completions per second, any grpc-status. calls … breaker opened: deltas of the server's /metrics (n/a: this build does not export the counter); other = calls − OK − UNAVAILABLE. waited: time before the step until a probe was answered OK.",
    '',
  ];
  process.stdout.write(lines.join('\n'));
  const summary = { cli: opts.cli, commit, loadAverage: { before: load[0], after: load[1] }, max, steps };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `load ladder failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
