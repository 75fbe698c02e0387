/**
 * End-to-end benchmark harness (`make bench`, `make bench-quick`): loads the real
 * service (`dist/cli.js serve`) from outside its process with h2load sending real gRPC
 * ShouldRateLimit frames, measures a no-op grpc-js server (the framework ceiling) and
 * plain INCR with redis-benchmark (a storage floor) in the same run, and rewrites
 * BENCHMARKS.md.
 *
 * Run after `make build` and `npx tsc -p bench/tsconfig.json`:
 *   node dist/bench/bench/run.js [--quick] [--out BENCHMARKS.md]
 * Env: BENCH_SECONDS (seconds per scenario), BENCH_CONCURRENCY (e.g. "16,64").
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import {
  RateLimitRequest,
  RateLimitResponse_Code,
  RateLimitServiceClient,
} from '../src/gen/envoy/service/ratelimit/v3/rls.js';
import { freePort } from '../test/support/free-port.js';
import { type RedisTestServer, startRedisServer, stopProcess } from '../test/support/redis-server.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: this file runs from dist/bench/bench/. */
const root = resolve(here, '../../..');

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const outIndex = argv.indexOf('--out');
const OUT = resolve(root, outIndex >= 0 ? argv[outIndex + 1]! : 'BENCHMARKS.md');
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 4 : 12));
const WARMUP_SECONDS = QUICK ? 1 : 2;
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? (QUICK ? '16,64' : '16,64,256')).split(',').map(Number);
const ALGS_QUICK = ['fixed_window', 'token_bucket'] as const;
const ALGS_FULL = ['fixed_window', 'sliding_window', 'sliding_log', 'token_bucket'] as const;
type Alg = (typeof ALGS_FULL)[number];
const ALGS: readonly Alg[] = QUICK ? ALGS_QUICK : ALGS_FULL;
const DOMAIN = 'bench';
const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat utime and stime are in these ticks

/** The rules: one key per algorithm with a limit the load never reaches, and one hot key mostly over limit. */
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
    rate_limit: { unit: second, requests_per_unit: 100 }
`;

type Target = 'noop' | 'memory' | 'redis';

interface Scenario {
  target: Target;
  /** Descriptor key (selects the rule); undefined for the no-op server. */
  key: Alg | 'over_limit' | undefined;
  concurrency: number;
  note: string;
}

interface H2loadResult {
  seconds: number;
  reqPerSec: number;
  succeeded: number;
  failed: number;
  errored: number;
  status2xx: number;
  meanUs: number;
  maxUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

interface Row extends H2loadResult {
  scenario: Scenario;
  cpuPercent: number;
  cpuUsPerReq: number;
  rssMb: number;
  redisCmdsPerDecision: number | undefined;
  redisScriptCallsPerDecision: number | undefined;
  verified: string;
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Connections × streams per connection for a total concurrency (h2load -c, -m). */
function shape(concurrency: number): { c: number; m: number } {
  const c = concurrency >= 256 ? 8 : 4;
  return { c, m: Math.max(1, Math.round(concurrency / c)) };
}

/** A gRPC length-prefixed message: flag 0, 4-byte big-endian length, protobuf bytes. */
function grpcFrame(request: RateLimitRequest): Buffer {
  const body = RateLimitRequest.encode(request).finish();
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  return frame;
}

function requestFor(key: string | undefined): RateLimitRequest {
  return {
    domain: DOMAIN,
    descriptors: [{ entries: [{ key: key ?? 'fixed_window', value: 'hot' }] }],
    hitsAddend: 0,
  };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the ")" of comm: state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function toUs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 's' ? n * 1e6 : unit === 'ms' ? n * 1e3 : n;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function h2load(
  port: number,
  dataFile: string,
  concurrency: number,
  seconds: number,
  logFile: string | undefined,
): Promise<H2loadResult> {
  const { c, m } = shape(concurrency);
  if (logFile) await rm(logFile, { force: true });
  const args = [
    '-D',
    String(seconds),
    '-c',
    String(c),
    '-m',
    String(m),
    '-t',
    '1',
    `--data=${dataFile}`,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    ...(logFile ? [`--log-file=${logFile}`] : []),
    `http://127.0.0.1:${port}/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`,
  ];
  const { stdout } = await run('h2load', args, { maxBuffer: 16 << 20, timeout: (seconds + 30) * 1000 });
  const num = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(stdout);
  const timing = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(stdout);
  if (!finished || !timing) throw new Error(`cannot parse h2load output:\n${stdout}`);
  let p50Us = Number.NaN;
  let p99Us = Number.NaN;
  let p999Us = Number.NaN;
  // h2load's own min/max/mean come from a sample of requests; the log has every request
  let meanUs = toUs(timing[5]!, timing[6]!);
  let maxUs = toUs(timing[3]!, timing[4]!);
  if (logFile) {
    const lines = (await readFile(logFile, 'utf8')).split('\n');
    const durations = new Float64Array(lines.length);
    let n = 0;
    for (const line of lines) {
      const cols = line.split('\t');
      if (cols.length >= 3) durations[n++] = Number(cols[2]);
    }
    const sorted = durations.subarray(0, n).sort();
    p50Us = percentile(sorted, 50);
    p99Us = percentile(sorted, 99);
    p999Us = percentile(sorted, 99.9);
    if (n > 0) {
      let sum = 0;
      for (const d of sorted) sum += d;
      meanUs = sum / n;
      maxUs = sorted[n - 1]!;
    }
  }
  return {
    seconds: toUs(finished[1]!, finished[2]!) / 1e6,
    reqPerSec: Number(finished[3]),
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/),
    errored: num(/(\d+) errored/),
    status2xx: num(/status codes: (\d+) 2xx/),
    maxUs,
    meanUs,
    p50Us,
    p99Us,
    p999Us,
  };
}

/** One ShouldRateLimit call with grpc-js (h2load cannot see grpc-status trailers): the code, or throws. */
function grpcCheck(
  port: number,
  key: string | undefined,
  deadlineMs: number,
): Promise<RateLimitResponse_Code> {
  const client = new RateLimitServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<RateLimitResponse_Code>((resolveCall, reject) => {
    client.shouldRateLimit(
      requestFor(key),
      { waitForReady: true, deadline: Date.now() + deadlineMs } as never,
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolveCall(response.overallCode);
      },
    );
  });
}

async function waitReady(port: number, key: string | undefined, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await grpcCheck(port, key, 1000);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

interface Running {
  child: ChildProcess;
  port: number;
}

async function startTarget(
  target: Target,
  configDir: string,
  redis: RedisTestServer | undefined,
): Promise<Running> {
  const port = await freePort();
  let child: ChildProcess;
  if (target === 'noop') {
    child = spawn(process.execPath, [join(here, 'noop-server.js'), String(port)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } else {
    const [httpPort, debugPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDIS_URL;
    if (redis) env.REDIS_URL = redis.url;
    child = spawn(
      process.execPath,
      [
        join(root, 'dist/cli.js'),
        'serve',
        '--config',
        configDir,
        '--grpc-port',
        String(port),
        '--http-port',
        String(httpPort),
        '--debug-port',
        String(debugPort),
        '--backend',
        target,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env },
    );
  }
  await waitReady(port, undefined, child);
  return { child, port };
}

async function redisCommandCalls(client: Redis): Promise<{ total: number; scripts: number }> {
  const info = await client.info('commandstats');
  let total = 0;
  let scripts = 0;
  for (const m of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
    if (m[1] === 'info' || m[1] === 'config') continue;
    total += Number(m[2]);
    if (m[1] === 'evalsha' || m[1] === 'eval' || m[1] === 'fcall') scripts += Number(m[2]);
  }
  return { total, scripts };
}

async function measure(
  running: Running,
  scenario: Scenario,
  dataFile: string,
  logFile: string,
  redisClient: Redis | undefined,
): Promise<Row> {
  const { port, child } = running;
  await h2load(port, dataFile, scenario.concurrency, WARMUP_SECONDS, undefined);
  const pid = child.pid!;
  const before = redisClient ? await redisCommandCalls(redisClient) : undefined;
  const ticks0 = cpuTicks(pid);
  const t0 = process.hrtime.bigint();
  const result = await h2load(port, dataFile, scenario.concurrency, SECONDS, logFile);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = (cpuTicks(pid) - ticks0) / CLK_TCK;
  const after = redisClient ? await redisCommandCalls(redisClient) : undefined;
  const code = await grpcCheck(port, scenario.key, 5000).then(
    (c) => RateLimitResponse_Code[c] ?? String(c),
    (error: Error) => `gRPC error: ${error.message}`,
  );
  // h2load counts requests finished after its deadline too; use them all for per-request ratios
  const decisions = Math.max(1, result.succeeded);
  return {
    ...result,
    scenario,
    cpuPercent: (cpuSeconds / wall) * 100,
    cpuUsPerReq: (cpuSeconds * 1e6) / decisions,
    rssMb: rssMb(pid),
    redisCmdsPerDecision: before && after ? (after.total - before.total) / decisions : undefined,
    redisScriptCallsPerDecision: before && after ? (after.scripts - before.scripts) / decisions : undefined,
    verified: code,
  };
}

async function redisBenchmarkIncr(redis: RedisTestServer, concurrency: number): Promise<number> {
  const n = QUICK ? 100_000 : 300_000;
  const { stdout } = await run(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(redis.port),
      '-c',
      String(concurrency),
      '-n',
      String(n),
      '-q',
      'incr',
      'bench_incr',
    ],
    { timeout: 120_000 },
  );
  // "-q" prints "incr bench_incr: 54945.05 requests per second, p50=0.463 msec"
  const match = /([\d.]+) requests per second/.exec(stdout.split('\r').pop() ?? stdout);
  return Number(match?.[1] ?? Number.NaN);
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args);
    return stdout.trim().split('\n')[0]!;
  } catch {
    return 'unknown';
  }
}

function machine(): string[] {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(info)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return [
    `- CPU: ${model}, ${cpus().length} logical cores (load generator, server and Redis share them)`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${release()}`,
    `- Node ${process.version}`,
  ];
}

const us = (v: number): string =>
  Number.isNaN(v) ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${Math.round(v)} µs`;
const ratio = (v: number, base: number | undefined): string =>
  base === undefined || !Number.isFinite(v / base) ? '–' : `${((v / base) * 100).toFixed(0)}%`;

function label(s: Scenario): string {
  if (s.target === 'noop') return 'no-op server (ceiling)';
  return `${s.target} · ${s.key}`;
}

function render(rows: Row[], ceilings: Map<number, Row>, extra: string[], header: string[]): string {
  const out: string[] = [...header, ''];
  out.push(
    '| Scenario | Conc. (conns×streams) | req/s | vs no-op | mean | p50 | p99 | p99.9 | max | p99 vs no-op | failed | server CPU (% of a core) | CPU µs/req | RSS MB | Redis cmds/decision (incl. inside scripts; script calls) | answer after run |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    const s = r.scenario;
    const { c, m } = shape(s.concurrency);
    const base = ceilings.get(s.concurrency);
    out.push(
      `| ${label(s)} | ${s.concurrency} (${c}×${m}) | ${Math.round(r.reqPerSec).toLocaleString('en-US')} | ${
        s.target === 'noop' ? '100%' : ratio(r.reqPerSec, base?.reqPerSec)
      } | ${us(r.meanUs)} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${us(r.p999Us)} | ${us(r.maxUs)} | ${
        s.target === 'noop' ? '1.00×' : base ? `${(r.p99Us / base.p99Us).toFixed(2)}×` : '–'
      } | ${r.failed + r.errored} | ${r.cpuPercent.toFixed(0)}% | ${r.cpuUsPerReq.toFixed(1)} | ${r.rssMb.toFixed(0)} | ${
        r.redisCmdsPerDecision === undefined
          ? '–'
          : `${r.redisCmdsPerDecision.toFixed(3)} (${r.redisScriptCallsPerDecision!.toFixed(3)} script calls)`
      } | ${r.verified} |`,
    );
  }
  out.push('', ...extra);
  return `${out.join('\n')}\n`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'rl-bench-'));
  const configDir = join(work, 'config');
  await run('mkdir', ['-p', configDir]);
  await writeFile(join(configDir, 'bench.yaml'), CONFIG);
  const dataFiles = new Map<string | undefined, string>();
  for (const key of [undefined, ...ALGS_FULL, 'over_limit'] as const) {
    const file = join(work, `req-${key ?? 'noop'}.bin`);
    await writeFile(file, grpcFrame(requestFor(key)));
    dataFiles.set(key, file);
  }
  const logFile = join(work, 'h2load.log');

  const plan: Scenario[] = [];
  for (const concurrency of CONCURRENCY) plan.push({ target: 'noop', key: undefined, concurrency, note: '' });
  for (const target of ['memory', 'redis'] as const) {
    for (const key of target === 'redis' && QUICK ? (['fixed_window'] as const) : ALGS) {
      for (const concurrency of CONCURRENCY) plan.push({ target, key, concurrency, note: '' });
    }
    if (!QUICK) plan.push({ target, key: 'over_limit', concurrency: 64, note: 'over limit' });
  }
  const perRun = SECONDS + WARMUP_SECONDS + 1;
  log(
    `bench ${QUICK ? 'quick' : 'full'}: ${plan.length} scenarios × ~${perRun}s ≈ ${Math.ceil(
      (plan.length * perRun) / 60,
    )} min (+ server start-ups)`,
  );

  const rows: Row[] = [];
  const ceilings = new Map<number, Row>();
  let redis: RedisTestServer | undefined;
  let redisClient: Redis | undefined;
  let incrCeiling: number | undefined;
  let running: Running | undefined;
  let runningTarget: Target | undefined;
  try {
    let index = 0;
    for (const scenario of plan) {
      index++;
      if (scenario.target !== runningTarget) {
        if (running) await stopProcess(running.child);
        running = undefined;
        if (scenario.target === 'redis' && !redis) {
          redis = await startRedisServer();
          redisClient = new Redis(redis.url);
          log(`redis-server on port ${redis.port}`);
        }
        running = await startTarget(
          scenario.target,
          configDir,
          scenario.target === 'redis' ? redis : undefined,
        );
        runningTarget = scenario.target;
        log(`started ${scenario.target} server (pid ${running.child.pid}, gRPC port ${running.port})`);
      }
      const { c, m } = shape(scenario.concurrency);
      log(
        `[${index}/${plan.length}] ${label(scenario)} c=${scenario.concurrency} (${c}×${m}) for ${SECONDS}s ...`,
      );
      const row = await measure(
        running!,
        scenario,
        dataFiles.get(scenario.key)!,
        logFile,
        scenario.target === 'redis' ? redisClient : undefined,
      );
      if (scenario.target === 'noop') ceilings.set(scenario.concurrency, row);
      rows.push(row);
      const base = ceilings.get(scenario.concurrency);
      log(
        `    ${Math.round(row.reqPerSec)} req/s${
          scenario.target === 'noop' ? '' : ` (${ratio(row.reqPerSec, base?.reqPerSec)} of no-op)`
        }, p99 ${us(row.p99Us)}, CPU ${row.cpuPercent.toFixed(0)}%, RSS ${row.rssMb.toFixed(0)} MB${
          row.redisCmdsPerDecision === undefined
            ? ''
            : `, ${row.redisCmdsPerDecision.toFixed(3)} Redis cmds/decision`
        }, failed ${row.failed + row.errored}, answer ${row.verified}`,
      );
    }
    if (running) await stopProcess(running.child);
    running = undefined;
    if (redis) {
      log('redis-benchmark INCR on the same Redis ...');
      incrCeiling = await redisBenchmarkIncr(redis, 64);
      log(`    ${Math.round(incrCeiling)} INCR/s`);
    }
  } finally {
    if (running) await stopProcess(running.child);
    redisClient?.disconnect();
    await redis?.stop();
    await rm(work, { recursive: true, force: true });
  }

  const header = [
    '# Benchmarks',
    '',
    `Generated by \`make ${QUICK ? 'bench-quick' : 'bench'}\` (bench/run.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${Math.round((Date.now() - started) / 1000)} s. Do not edit by hand: rerun the harness.`,
    '',
    '## Machine',
    '',
    ...machine(),
    `- ${await version('h2load', ['--version'])}; ${await version('redis-server', ['--version'])}`,
    '',
    '## Method',
    '',
    `- Load: \`h2load -D ${SECONDS} -c <conns> -m <streams> -t 1 --data=<file> -H 'content-type: application/grpc' -H 'te: trailers'\` against \`/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit\`; the data file is one length-prefixed gRPC frame of a \`RateLimitRequest\` (domain \`${DOMAIN}\`, one descriptor, one hot key). Each scenario is preceded by a ${WARMUP_SECONDS} s warm-up run that is not measured.`,
    '- Ceiling: a no-op grpc-js server (bench/noop-server.ts: same generated service, decodes the request and answers OK) in its own process, loaded by the same command in the same run. "vs no-op" is throughput as a share of the no-op at the same concurrency.',
    '- Server: `node dist/cli.js serve --backend memory|redis --log-level warn`; limits are high enough never to be reached (except `over_limit`: 100/s, so nearly every request is rejected); sliding_log is capped at 10,000/min by the config loader, so under load it rejects most requests.',
    '- Latency percentiles come from h2load `--log-file` (every request). "failed" is h2load\'s failed + errored count; gRPC errors arrive as HTTP 200 with a `grpc-status` trailer, which h2load does not read, so after each run one grpc-js call checks the server still answers (last column).',
    "- Server CPU from `/proc/<pid>/stat` utime+stime over the measured run; RSS from `/proc/<pid>/status` after it. Redis commands per decision from `INFO commandstats` before/after (all commands except INFO/CONFIG, divided by h2load's succeeded count).",
    '',
    '## Results',
  ];
  const extra: string[] = [];
  if (incrCeiling !== undefined) {
    extra.push(
      '## Storage floor',
      '',
      `- \`redis-benchmark -c 64 -q incr\` (plain INCR, no pipelining) on the same Redis: ${Math.round(
        incrCeiling,
      ).toLocaleString('en-US')} req/s. Per-script Redis ceilings: \`make bench-store\`.`,
      '',
    );
  }
  extra.push(
    '## Not measured yet (issue 5)',
    '',
    '- Many keys (100,000) and 4 descriptors per request: h2load sends one fixed body, so these need the Node load generator; every row above is a single hot key.',
    QUICK
      ? '- Quick mode: memory fixed_window/token_bucket, Redis fixed_window, concurrency 16/64. `make bench` adds sliding_window, sliding_log, Redis for every algorithm, concurrency 256 and an over-limit row.'
      : "- redis-benchmark running each algorithm's script (see `make bench-store`), Redis memory per key, RSS over a 10-minute run, `--workers`.",
    "- Load generator, server and Redis share this machine's cores, so absolute numbers are pessimistic; ratios to the same-run ceiling are the figure to compare.",
  );
  await writeFile(OUT, render(rows, ceilings, extra, header));
  log(`wrote ${OUT} in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
