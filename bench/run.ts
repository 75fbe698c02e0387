/**
 * End-to-end benchmark harness (`make bench`, `make bench-quick`): loads the real
 * service (`dist/cli.js serve`) from outside its process and rewrites BENCHMARKS.md.
 *
 * - Hot key: h2load sends one real gRPC ShouldRateLimit frame over and over.
 * - Many keys, 4 descriptors, over-limit mix: the Node generator (bench/load/) rotates
 *   through pre-encoded requests; h2load can only send one body.
 * - Ceilings in the same run: a no-op grpc-js server under each generator, redis-benchmark
 *   (INCR and our script per algorithm) on the same Redis.
 * - Also: the service's own CPU per decision in process (hot-path.ts), `--workers 2` vs 1,
 *   and (full run) Redis and memory-backend bytes per key (memory-footprint.ts).
 *
 * Run after `make build` and `npx tsc -p bench/tsconfig.json`:
 *   node dist/bench/bench/run.js [--quick] [--out BENCHMARKS.md]
 * Env: BENCH_SECONDS (seconds per scenario), BENCH_CONCURRENCY (hot-key rows, e.g. "16,64").
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ALGORITHMS } from '../src/core/algorithm.js';
import type { RateLimitRequest } from '../src/gen/envoy/service/ratelimit/v3/rls.js';
import { type RedisTestServer, startRedisServer } from '../test/support/redis-server.js';
import { runHotPath } from './hot-path.js';
import { count, log, share } from './lib/format.js';
import { h2load, shape } from './lib/h2load.js';
import { cpuSeconds, machine, rssMb, version } from './lib/process-stats.js';
import { applyScriptArgs, commandCounts, loadScript, redisBenchmark } from './lib/redis-ceilings.js';
import { type Row, renderReport, type Scenario, type StorageCeilings } from './lib/report.js';
import {
  grpcCheck,
  ROOT,
  type Running,
  sameTarget,
  serverErrors,
  startTarget,
  stopTarget,
  type TargetSpec,
} from './lib/targets.js';
import { writeFrames } from './load/grpc-frames.js';
import { fourDescriptors, keys, overLimitMix, requestFrame } from './load/request-bodies.js';
import { defaultConnections, runGrpcLoad } from './load/run-grpc-load.js';
import type { MemoryFootprintResult } from './memory-footprint-report.js';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const outIndex = argv.indexOf('--out');
const OUT = resolve(ROOT, outIndex >= 0 ? argv[outIndex + 1]! : 'BENCHMARKS.md');
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 4 : 7));
const WARMUP_SECONDS = QUICK ? 1 : 2;
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? (QUICK ? '16,64' : '16,64,256')).split(',').map(Number);
const MANY_KEYS = 100_000;
const DOMAIN = 'bench';

/**
 * Rules for every scenario: limits the load never reaches, except `over_limit`
 * (10/s per value: an abusive client; nearly every request to it is rejected).
 */
const CONFIG = `domain: ${DOMAIN}
descriptors:
  - key: fixed_window
    rate_limit: { unit: second, requests_per_unit: 1000000000 }
  - key: sliding_window
    rate_limit: { unit: second, requests_per_unit: 1000000000, algorithm: sliding_window }
  - key: sliding_log
    rate_limit: { unit: minute, requests_per_unit: 10000, algorithm: sliding_log }
  - key: token_bucket
    rate_limit: { unit: second, requests_per_unit: 1000000000, algorithm: token_bucket }
  - key: over_limit
    rate_limit: { unit: second, requests_per_unit: 10 }
`;

/** Redis targets run with the default settings (the budget judges Redis, not the saturated event loop). */
const REDIS_ENV = {};
/** Plus the local over-limit cache for the over-limit rows that use it (reference LOCAL_CACHE_SIZE_IN_BYTES). */
const LOCAL_CACHE = { ...REDIS_ENV, LOCAL_CACHE_SIZE_IN_BYTES: String(16 << 20) };

function hotRequest(key: string): RateLimitRequest {
  return { domain: DOMAIN, descriptors: [{ entries: [{ key, value: 'hot' }] }], hitsAddend: 0 };
}

/** Body sets for the Node generator, by name: each a file of length-prefixed frames. */
function bodySets(): Map<string, () => Buffer[]> {
  return new Map<string, () => Buffer[]>([
    ['keys:fixed_window', () => keys(MANY_KEYS, 'fixed_window')],
    ['keys:token_bucket', () => keys(MANY_KEYS, 'token_bucket')],
    ['keys:sliding_window', () => keys(MANY_KEYS, 'sliding_window')],
    ['four', () => fourDescriptors(MANY_KEYS / 4)],
    ['mix', () => overLimitMix(MANY_KEYS, { hotShare: 0.9, hotKeys: 4 })],
  ]);
}

/**
 * Every scenario is measured right after the no-op server under the same load
 * (generator, body set, concurrency): the pair's ratio is the figure, and it
 * does not drift with whatever else the machine does between pairs.
 */
function plan(): Scenario[] {
  const out: Scenario[] = [];
  const memory: TargetSpec = { backend: 'memory' };
  const redis: TargetSpec = { backend: 'redis', env: REDIS_ENV };
  const add = (
    section: Scenario['section'],
    target: TargetSpec,
    load: Scenario['load'],
    concurrency: number,
    label: string,
  ) => out.push({ section, target, load, concurrency, label });
  // 1. hot key, h2load
  if (QUICK) {
    for (const c of CONCURRENCY) add('hot', memory, { h2load: 'fixed_window' }, c, 'memory · fixed_window');
    add('hot', memory, { h2load: 'token_bucket' }, 64, 'memory · token_bucket');
    add('hot', redis, { h2load: 'fixed_window' }, 64, 'redis · fixed_window');
  } else {
    for (const target of [memory, redis]) {
      for (const alg of ALGORITHMS) {
        for (const c of CONCURRENCY) {
          // the sliding algorithms only at 64: their targets are fixed_window's and token_bucket's
          if (c !== 64 && (alg === 'sliding_window' || alg === 'sliding_log')) continue;
          add('hot', target, { h2load: alg }, c, `${target.backend} · ${alg}`);
        }
      }
    }
  }
  // 2. many keys and descriptors, Node generator
  const manySets = QUICK
    ? ['keys:fixed_window']
    : ['keys:fixed_window', 'keys:token_bucket', 'keys:sliding_window', 'four'];
  for (const target of [memory, redis]) {
    if (QUICK && target === redis) continue;
    for (const set of manySets) {
      for (const c of set === 'keys:fixed_window' && !QUICK ? [64, 256] : [64]) {
        add('many', target, { bodies: set }, c, `${target.backend} · ${manyLabel(set)}`);
      }
    }
  }
  // 3. over-limit-heavy mix (90% of requests to 4 abusive keys), with and without the local cache
  add(
    'many',
    { backend: 'redis', env: LOCAL_CACHE },
    { bodies: 'mix' },
    64,
    'redis + local cache · 90% to over-limit keys',
  );
  if (!QUICK) {
    add('many', redis, { bodies: 'mix' }, 64, 'redis, no local cache · 90% to over-limit keys');
    add('many', memory, { bodies: 'mix' }, 64, 'memory · 90% to over-limit keys');
    // 4. workers: the same Redis scenario with 1 and 2 workers
    for (const workers of [1, 2]) {
      add(
        'workers',
        { backend: 'redis', workers, env: REDIS_ENV },
        { h2load: 'fixed_window' },
        64,
        `redis · fixed_window · --workers ${workers}`,
      );
    }
  }
  return out;
}

function manyLabel(set: string): string {
  if (set === 'four') return '4 descriptors (fixed, token, sliding, fixed), 25,000 users';
  return `${set.slice('keys:'.length)} · ${count(MANY_KEYS)} keys`;
}

interface Context {
  work: string;
  configDir: string;
  logFile: string;
  h2loadData: Map<string, string>;
  bodyFiles: Map<string, string>;
  redis: RedisTestServer | undefined;
  redisClient: Redis | undefined;
}

async function prepare(): Promise<Context> {
  const work = await mkdtemp(join(tmpdir(), 'rl-bench-'));
  const configDir = join(work, 'config');
  await exec('mkdir', ['-p', configDir]);
  await writeFile(join(configDir, 'bench.yaml'), CONFIG);
  const h2loadData = new Map<string, string>();
  for (const key of [...ALGORITHMS, 'over_limit']) {
    const file = join(work, `hot-${key}.bin`);
    await writeFile(file, requestFrame([[{ key, value: 'hot' }]]));
    h2loadData.set(key, file);
  }
  const bodyFiles = new Map<string, string>();
  for (const [name, build] of bodySets()) {
    const file = join(work, `bodies-${name.replace(':', '-')}.bin`);
    await writeFrames(file, build());
    bodyFiles.set(name, file);
  }
  return {
    work,
    configDir,
    logFile: join(work, 'h2load.log'),
    h2loadData,
    bodyFiles,
    redis: undefined,
    redisClient: undefined,
  };
}

async function measure(ctx: Context, running: Running, scenario: Scenario): Promise<Row> {
  const { port } = running;
  const redisClient = scenario.target.backend === 'redis' ? ctx.redisClient : undefined;
  const load = scenario.load;
  const cpuOf = () => running.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  if ('h2load' in load) {
    const data = ctx.h2loadData.get(load.h2load)!;
    await h2load(port, data, scenario.concurrency, WARMUP_SECONDS, undefined);
    const before = redisClient ? await commandCounts(redisClient) : undefined;
    const errors0 = await serverErrors(running);
    const cpu0 = cpuOf();
    const t0 = performance.now();
    const result = await h2load(port, data, scenario.concurrency, SECONDS, ctx.logFile);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuOf() - cpu0;
    const after = redisClient ? await commandCounts(redisClient) : undefined;
    const errors = (await serverErrors(running)) - errors0;
    const code = await grpcCheck(port, hotRequest(load.h2load), 5000).catch(
      (error: Error) => `gRPC error: ${error.message}`,
    );
    const answer = `${code} after the run${errors > 0 ? `; ${count(errors)} gRPC errors during it (server's count)` : ''}`;
    const { c, m } = shape(scenario.concurrency);
    return row(scenario, running, {
      ...result,
      failed: result.failed + errors,
      generator: 'h2load',
      shape: `${c}×${m}`,
      wall,
      cpu,
      before,
      after,
      answer,
    });
  }
  const bodiesFile = ctx.bodyFiles.get(load.bodies)!;
  const spec = { port, bodiesFile, concurrency: scenario.concurrency };
  await runGrpcLoad({ ...spec, seconds: WARMUP_SECONDS });
  const before = redisClient ? await commandCounts(redisClient) : undefined;
  const cpu0 = cpuOf();
  const t0 = performance.now();
  const result = await runGrpcLoad({ ...spec, seconds: SECONDS });
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuOf() - cpu0;
  const after = redisClient ? await commandCounts(redisClient) : undefined;
  const answered = result.ok + result.overLimit;
  const statuses = Object.entries(result.grpcStatus)
    .filter(([status]) => status !== '0')
    .map(([status, n]) => `grpc-status ${status}: ${count(n)}`);
  const answer = [
    `OK ${share(result.ok, answered)} · OVER_LIMIT ${share(result.overLimit, answered)}`,
    ...statuses,
    ...(result.errored > 0
      ? [`${count(result.errored)} errored${result.firstError ? ` (${result.firstError})` : ''}`]
      : []),
  ].join('; ');
  return row(scenario, running, {
    ...result,
    succeeded: result.requests - result.failed - result.errored,
    generator: 'node',
    shape: `${defaultConnections(scenario.concurrency)} conns`,
    wall,
    cpu,
    before,
    after,
    answer,
    generatorCpuPercent: result.generatorCpuPercent,
  });
}

function row(
  scenario: Scenario,
  running: Running,
  r: {
    reqPerSec: number;
    succeeded: number;
    failed: number;
    errored: number;
    meanUs: number;
    p50Us: number;
    p99Us: number;
    p999Us: number;
    maxUs: number;
    generator: 'h2load' | 'node';
    shape: string;
    wall: number;
    cpu: number;
    before: { total: number; scripts: number } | undefined;
    after: { total: number; scripts: number } | undefined;
    answer: string;
    generatorCpuPercent?: number;
  },
): Row {
  // requests that finished after the deadline count too; use them all for per-request ratios
  const decisions = Math.max(1, r.succeeded);
  return {
    scenario,
    generator: r.generator,
    shape: r.shape,
    reqPerSec: r.reqPerSec,
    meanUs: r.meanUs,
    p50Us: r.p50Us,
    p99Us: r.p99Us,
    p999Us: r.p999Us,
    maxUs: r.maxUs,
    failed: r.failed + r.errored,
    cpuPercent: (r.cpu / r.wall) * 100,
    cpuUsPerReq: (r.cpu * 1e6) / decisions,
    rssMb: running.pids().reduce((sum, pid) => sum + rssMb(pid), 0),
    redisCommands: r.before && r.after ? (r.after.total - r.before.total) / decisions : undefined,
    redisScriptCalls: r.before && r.after ? (r.after.scripts - r.before.scripts) / decisions : undefined,
    answer: r.answer,
    generatorCpuPercent: r.generatorCpuPercent,
  };
}

async function storageCeilings(redis: RedisTestServer, client: Redis): Promise<StorageCeilings> {
  const options = { clients: 64, requests: QUICK ? 100_000 : 200_000, keys: MANY_KEYS };
  log('redis-benchmark INCR and EVALSHA per algorithm on the same Redis ...');
  const incr = await redisBenchmark(redis.port, ['INCR', 'bench_user_u__rand_int___60'], options);
  const sha = await loadScript(client, join(ROOT, 'lua'));
  const scripts: Record<string, number> = {};
  for (const algorithm of QUICK ? (['fixed_window', 'token_bucket'] as const) : ALGORITHMS) {
    // a limit the load never reaches, like the service rows
    scripts[algorithm] = await redisBenchmark(
      redis.port,
      applyScriptArgs(sha, algorithm, 1_000_000_000),
      options,
    );
  }
  log(
    `    INCR ${count(incr)}/s; ${Object.entries(scripts)
      .map(([a, v]) => `${a} ${count(v)}/s`)
      .join(', ')}`,
  );
  return { incr, scripts, clients: options.clients };
}

async function memoryFootprint(): Promise<MemoryFootprintResult> {
  log('memory footprint (Redis bytes per key, memory backend per 1M keys) ...');
  const { stdout } = await exec(process.execPath, [join(here, 'memory-footprint.js')], {
    maxBuffer: 16 << 20,
    timeout: 300_000,
  });
  return JSON.parse(stdout) as MemoryFootprintResult;
}

async function main(): Promise<void> {
  const started = Date.now();
  const scenarios = plan();
  const perPair = 2 * (SECONDS + WARMUP_SECONDS + 1);
  log(
    `bench ${QUICK ? 'quick' : 'full'}: ${scenarios.length} scenarios, each paired with the no-op, × ~${perPair}s ≈ ${Math.ceil((scenarios.length * perPair) / 60)} min, then ceilings${QUICK ? '' : ' and memory footprint'}`,
  );
  const ctx = await prepare();
  const rows: Row[] = [];
  let running: Running | undefined;
  let noop: Running | undefined;
  let ceilings: StorageCeilings | undefined;
  let footprint: MemoryFootprintResult | undefined;
  let hotPath: Awaited<ReturnType<typeof runHotPath>> = [];
  try {
    noop = await startTarget({ backend: 'noop' }, ctx.configDir, undefined, hotRequest('fixed_window'));
    log(`started the no-op server (pid ${noop.child.pid}, gRPC port ${noop.port})`);
    let index = 0;
    for (const scenario of scenarios) {
      index++;
      if (!sameTarget(running?.spec, scenario.target)) {
        await stopTarget(running);
        running = undefined;
        if (scenario.target.backend === 'redis' && !ctx.redis) {
          ctx.redis = await startRedisServer();
          ctx.redisClient = new Redis(ctx.redis.url);
          log(`redis-server on port ${ctx.redis.port}`);
        }
        running = await startTarget(
          scenario.target,
          ctx.configDir,
          ctx.redis?.url,
          hotRequest('fixed_window'),
        );
        log(
          `started ${JSON.stringify(scenario.target)} (pid ${running.child.pid}, gRPC port ${running.port})`,
        );
      }
      log(
        `[${index}/${scenarios.length}] ${scenario.label} c=${scenario.concurrency}: no-op, then the service, ${SECONDS}s each ...`,
      );
      const ceiling = await measure(ctx, noop, { ...scenario, target: { backend: 'noop' } });
      const result = { ...(await measure(ctx, running!, scenario)), ceiling };
      rows.push(result);
      log(
        `    ${count(result.reqPerSec)} req/s (${share(result.reqPerSec, ceiling.reqPerSec)} of the no-op's ${count(ceiling.reqPerSec)}), p99 ${Math.round(result.p99Us)} µs (no-op ${Math.round(ceiling.p99Us)}), CPU ${result.cpuUsPerReq.toFixed(1)} µs/req (no-op ${ceiling.cpuUsPerReq.toFixed(1)})${result.redisScriptCalls === undefined ? '' : `, ${result.redisScriptCalls.toFixed(3)} script calls/decision`}, ${result.answer}`,
      );
    }
    await stopTarget(running);
    running = undefined;
    await stopTarget(noop);
    noop = undefined;
    if (ctx.redis && ctx.redisClient) ceilings = await storageCeilings(ctx.redis, ctx.redisClient);
    ctx.redisClient?.disconnect();
    await ctx.redis?.stop();
    ctx.redis = undefined;
    log('in-process hot path ...');
    hotPath = await runHotPath(QUICK ? 50_000 : 200_000);
    if (!QUICK) footprint = await memoryFootprint();
  } finally {
    await stopTarget(running);
    await stopTarget(noop);
    ctx.redisClient?.disconnect();
    await ctx.redis?.stop();
    await rm(ctx.work, { recursive: true, force: true });
  }

  const report = renderReport({
    rows,
    ceilings,
    hotPath,
    footprint,
    quick: QUICK,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    manyKeys: MANY_KEYS,
    generatedBy: `make ${QUICK ? 'bench-quick' : 'bench'}`,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: [
      ...machine(),
      `- ${await version('h2load', ['--version'])}; ${await version('redis-server', ['--version'])}`,
    ],
  });
  await writeFile(OUT, report);
  log(`wrote ${OUT} in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
