/**
 * BENCHMARKS.md from one harness run: method, the targets of the performance
 * issue judged against this run's numbers, and one table per kind of load.
 */
import type { HotPathResult } from '../hot-path.js';
import {
  MEMORY_TARGET_MB_PER_MILLION,
  type MemoryFootprintResult,
  REDIS_TARGET_BYTES,
  renderMemoryFootprint,
} from '../memory-footprint-report.js';
import { count, share, times, us } from './format.js';
import type { TargetSpec } from './targets.js';

export interface Scenario {
  section: 'hot' | 'many' | 'workers';
  target: TargetSpec;
  /** h2load with the hot-key frame of a rule, or the Node generator with a named body set. */
  load: { h2load: string } | { bodies: string };
  concurrency: number;
  label: string;
}

export interface Row {
  scenario: Scenario;
  generator: 'h2load' | 'node';
  /** Connections × streams (h2load) or connections (Node generator). */
  shape: string;
  reqPerSec: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  failed: number;
  /** Server process(es) CPU over the measured run, % of one core. */
  cpuPercent: number;
  cpuUsPerReq: number;
  rssMb: number;
  /** Every command Redis ran per decision, inside scripts included. */
  redisCommands: number | undefined;
  /** Script calls per decision: the commands the service sent (its round trips are at most these). */
  redisScriptCalls: number | undefined;
  answer: string;
  generatorCpuPercent?: number | undefined;
  /** The no-op server under the same load, measured just before this row. */
  ceiling?: Row | undefined;
}

export interface StorageCeilings {
  incr: number;
  /** redis-benchmark EVALSHA of our script with one check, per algorithm, req/s. */
  scripts: Record<string, number>;
  clients: number;
}

export interface ReportInput {
  rows: Row[];
  ceilings: StorageCeilings | undefined;
  hotPath: readonly HotPathResult[];
  footprint: MemoryFootprintResult | undefined;
  quick: boolean;
  seconds: number;
  warmupSeconds: number;
  manyKeys: number;
  generatedBy: string;
  durationSeconds: number;
  machine: string[];
}

function table(rows: readonly Row[]): string[] {
  const out = [
    '| Scenario | Conc. (shape) | req/s | no-op req/s (paired) | vs no-op | p50 | p99 | p99.9 | no-op p99 | p99 vs no-op | failed | server CPU (% of a core) | CPU µs/req | no-op CPU µs/req | CPU vs no-op | RSS MB | Redis: commands sent/decision (all incl. in-script) | answers |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const base = r.ceiling;
    out.push(
      `| ${r.scenario.label} | ${r.scenario.concurrency} (${r.shape}) | ${count(r.reqPerSec)} | ${base ? count(base.reqPerSec) : '–'} | ${share(r.reqPerSec, base?.reqPerSec)} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${us(r.p999Us)} | ${base ? us(base.p99Us) : '–'} | ${times(r.p99Us, base?.p99Us)} | ${r.failed} | ${r.cpuPercent.toFixed(0)}% | ${r.cpuUsPerReq.toFixed(1)} | ${base ? base.cpuUsPerReq.toFixed(1) : '–'} | ${times(r.cpuUsPerReq, base?.cpuUsPerReq)} | ${r.rssMb.toFixed(0)} | ${
        r.redisScriptCalls === undefined
          ? '–'
          : `${r.redisScriptCalls.toFixed(3)} (${r.redisCommands!.toFixed(3)})`
      } | ${r.answer} |`,
    );
  }
  return out;
}

/** "a–b" over the values, formatted by `f`. */
function range(values: readonly number[], f: (v: number) => string): string {
  if (values.length === 0) return '–';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
}

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
const x = (v: number) => `${v.toFixed(2)}×`;
const mark = (ok: boolean) => (ok ? '✅ met' : '❌ not met');

/** One line per target of the issue, judged on this run. */
function targets(input: ReportInput): string[] {
  const { rows, footprint } = input;
  const judged = (filter: (r: Row) => boolean) =>
    rows
      .filter(filter)
      .map((r) => ({ r, base: r.ceiling }))
      .filter((e): e is { r: Row; base: Row } => e.base !== undefined);
  const out = ['| Target | This run | Verdict |', '|---|---|---|'];
  const line = (target: string, value: string, ok: boolean | undefined) =>
    out.push(`| ${target} | ${value} | ${ok === undefined ? 'not measured in this mode' : mark(ok)} |`);

  const hotOn = (r: Row, backend: string, algorithms: readonly string[]) =>
    r.scenario.section === 'hot' &&
    r.scenario.target.backend === backend &&
    'h2load' in r.scenario.load &&
    algorithms.includes(r.scenario.load.h2load);
  const memoryHot = judged((r) => hotOn(r, 'memory', ['fixed_window', 'sliding_window', 'token_bucket']));
  const mThroughput = memoryHot.map((e) => e.r.reqPerSec / e.base.reqPerSec);
  const mP99 = memoryHot.map((e) => e.r.p99Us / e.base.p99Us);
  line(
    'Memory backend ≥ 90% of the no-op throughput (hot key, h2load; sliding_log excluded: its 10,000/min cap rejects)',
    `${range(mThroughput, pct)} over ${memoryHot.length} rows; ${mThroughput.filter((v) => v >= 0.9).length} rows at ≥ 90%`,
    mThroughput.length > 0 ? mThroughput.every((v) => v >= 0.9) : undefined,
  );
  line(
    'Memory backend p99 ≤ 1.2× the no-op p99',
    range(mP99, x),
    mP99.length > 0 ? mP99.every((v) => v <= 1.2) : undefined,
  );

  const redisFT = judged((r) => hotOn(r, 'redis', ['fixed_window', 'token_bucket']));
  const rThroughput = redisFT.map((e) => e.r.reqPerSec / e.base.reqPerSec);
  const rP99 = redisFT.map((e) => e.r.p99Us / e.base.p99Us);
  line(
    'Redis fixed_window and token_bucket ≥ 80% of the no-op throughput (hot key)',
    `${range(rThroughput, pct)} over ${redisFT.length} rows`,
    rThroughput.length > 0 ? rThroughput.every((v) => v >= 0.8) : undefined,
  );
  line(
    'Redis fixed_window and token_bucket p99 ≤ 1.5× the no-op p99',
    range(rP99, x),
    rP99.length > 0 ? rP99.every((v) => v <= 1.5) : undefined,
  );

  const redisRows = rows.filter((r) => r.redisScriptCalls !== undefined);
  const calls = redisRows.map((r) => r.redisScriptCalls!);
  line(
    '≤ 1 Redis round trip per decision (every Redis row)',
    `script calls per decision ${range(calls, (v) => v.toFixed(3))}`,
    calls.length > 0 ? calls.every((v) => v <= 1) : undefined,
  );
  const c64 = redisRows.filter((r) => r.scenario.concurrency >= 64);
  const c64calls = c64.map((r) => r.redisScriptCalls!);
  const c64all = c64.map((r) => r.redisCommands!);
  line(
    '< 0.5 Redis commands per decision at concurrency ≥ 64 (commands the service sends; in parentheses every command Redis ran, inside scripts included)',
    `${range(c64calls, (v) => v.toFixed(3))} (${range(c64all, (v) => v.toFixed(2))})`,
    c64calls.length > 0 ? c64calls.every((v) => v < 0.5) : undefined,
  );
  const mix = redisRows.find((r) => r.scenario.target.env?.LOCAL_CACHE_SIZE_IN_BYTES !== undefined);
  line(
    'Over-limit-heavy traffic with the local cache: ≤ 0.1 Redis commands per decision',
    mix
      ? `${mix.redisScriptCalls!.toFixed(3)} sent (${mix.redisCommands!.toFixed(3)} incl. in-script); ${mix.answer}`
      : '–',
    mix ? mix.redisScriptCalls! <= 0.1 : undefined,
  );

  const w1 = rows.find((r) => r.scenario.section === 'workers' && (r.scenario.target.workers ?? 1) === 1);
  const w2 = rows.find((r) => r.scenario.section === 'workers' && r.scenario.target.workers === 2);
  line(
    '`--workers 2` ≥ 1.7× one worker where the load generator is not the bottleneck',
    w1 && w2
      ? `${x(w2.reqPerSec / w1.reqPerSec)} (${count(w1.reqPerSec)} → ${count(w2.reqPerSec)} req/s; here h2load and Redis share the same 2 cores, so the generator is a bottleneck: see docs/workers.md for a bigger machine)`
      : '–',
    w1 && w2 ? w2.reqPerSec / w1.reqPerSec >= 1.7 : undefined,
  );

  line(
    'RSS flat (< 10% growth) over 10 minutes at 50% of max load',
    'measured by `make bench-soak` (BENCHMARKS-soak.md), not in this run',
    undefined,
  );
  if (footprint) {
    const rowsMem = footprint.memoryStore.filter(
      (r) =>
        r.algorithm === 'fixed_window' || r.algorithm === 'token_bucket' || r.algorithm === 'sliding_window',
    );
    const worst = rowsMem.map((r) => ({ name: r.name, heap: r.heapBytesPerKey, rss: r.rssBytesPerKey }));
    line(
      `Memory backend: 1,000,000 live keys in < ${MEMORY_TARGET_MB_PER_MILLION} MB`,
      worst
        .map((w) => `${w.name} heap ${Math.round(w.heap)} MB, RSS growth ${Math.round(w.rss)} MB`)
        .join('; '),
      worst.every((w) => Math.max(w.heap, w.rss) < MEMORY_TARGET_MB_PER_MILLION),
    );
    for (const a of footprint.redis.algorithms) {
      const target = REDIS_TARGET_BYTES[a.algorithm];
      if (target === undefined || a.name !== a.algorithm) continue;
      line(
        `Redis ${a.algorithm} ≤ ${target} B per key (~40-character keys)`,
        `${a.bytesPerKey} B; Redis's own floor for such a key with a TTL (\`${a.floor}\`) is ${a.floorBytesPerKey} B (${a.ratioToFloor}× floor)`,
        a.bytesPerKey <= target,
      );
    }
  } else {
    line(
      'Memory backend 1M keys; Redis bytes per key',
      '`make bench` (full) or `make bench-memory`',
      undefined,
    );
  }
  return out;
}

function ceilingsSection(input: ReportInput): string[] {
  const c = input.ceilings;
  if (!c) return [];
  const out = [
    '## Storage ceilings (same Redis, same run)',
    '',
    `\`redis-benchmark -c ${c.clients} -P 1 -r ${count(input.manyKeys)}\`: plain INCR, and EVALSHA of our apply script with one check of each algorithm (what one uncoalesced decision costs Redis). The service coalesces the decisions of one event-loop tick into one script call, so it can exceed the one-call-per-decision rate.`,
    '',
    '| Redis command | redis-benchmark req/s | best service row on this algorithm (hot key, h2load) | service / ceiling |',
    '|---|---:|---:|---:|',
    `| INCR | ${count(c.incr)} | – | – |`,
  ];
  for (const [algorithm, rate] of Object.entries(c.scripts)) {
    const best = input.rows
      .filter(
        (r) =>
          r.scenario.section === 'hot' &&
          r.scenario.target.backend === 'redis' &&
          'h2load' in r.scenario.load &&
          r.scenario.load.h2load === algorithm,
      )
      .reduce<Row | undefined>((a, b) => (a === undefined || b.reqPerSec > a.reqPerSec ? b : a), undefined);
    out.push(
      `| EVALSHA apply (${algorithm}) | ${count(rate)} | ${best ? `${count(best.reqPerSec)} (c=${best.scenario.concurrency})` : '–'} | ${best ? times(best.reqPerSec, rate) : '–'} |`,
    );
  }
  return [...out, ''];
}

function hotPathSection(input: ReportInput): string[] {
  if (input.hotPath.length === 0) return [];
  const memoryRow = input.rows.find(
    (r) =>
      r.scenario.section === 'hot' && r.scenario.target.backend === 'memory' && r.scenario.concurrency === 64,
  );
  const out = [
    "## The service's own CPU per decision (in process)",
    '',
    'bench/hot-path.ts: decode the request bytes, decide (memory store, per-rule statistics on, as `serve` wires them), encode the answer and count the call, without HTTP/2 or grpc-js; the fastest of 5 rounds, CPU time. The rest of a call\'s CPU (compare "CPU µs/req" of the server rows) is the framework\'s.',
    '',
    "| Scenario | CPU µs/decision | share of the memory · fixed_window row's CPU per request (c=64) |",
    '|---|---:|---:|',
  ];
  for (const h of input.hotPath) {
    out.push(
      `| ${h.name} | ${(h.nsPerDecision / 1000).toFixed(2)} | ${memoryRow ? share(h.nsPerDecision / 1000, memoryRow.cpuUsPerReq) : '–'} |`,
    );
  }
  return [...out, ''];
}

export function renderReport(input: ReportInput): string {
  const { rows } = input;
  const hot = rows.filter((r) => r.scenario.section === 'hot');
  const many = rows.filter((r) => r.scenario.section === 'many');
  const workers = rows.filter((r) => r.scenario.section === 'workers');
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`${input.generatedBy}\` (bench/run.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${input.durationSeconds} s. Do not edit by hand: rerun the harness.`,
    '',
    '## Machine',
    '',
    ...input.machine,
    '',
    '## Method',
    '',
    `- Hot key: \`h2load -D ${input.seconds} -c <conns> -m <streams> -t 1 --data=<frame> -H 'content-type: application/grpc' -H 'te: trailers'\` against \`/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit\`; the frame is one length-prefixed \`RateLimitRequest\` (domain \`bench\`, one descriptor, one key). Percentiles from h2load's per-request log. gRPC errors arrive as HTTP 200 with a \`grpc-status\` trailer, which h2load does not read, so one grpc-js call after each run checks the answer.`,
    `- Many keys, 4 descriptors, over-limit mix: the Node generator (bench/load/grpc-load.ts, raw \`node:http2\` in its own process) rotating through ${count(input.manyKeys)} pre-encoded requests; it reads every answer's \`grpc-status\` and \`overall_code\` ("answers"). It costs about as much CPU per request as the server, so on this machine its rows are bounded by the generator: compare them only with the no-op row measured with the same generator.`,
    `- Ceiling: a no-op grpc-js server (bench/noop-server.ts: same generated service, decodes the request, answers OK) in its own process, running for the whole run. Every scenario is a pair: the no-op under exactly the same load (generator, request bodies, concurrency), then the service, back to back, so the ratio does not drift with whatever else the machine does between scenarios. "vs no-op" is the service's throughput as a share of its pair's. Each measurement is preceded by a ${input.warmupSeconds} s warm-up that is not measured.`,
    '- Server: `node dist/cli.js serve --backend memory|redis --log-level warn` with limits the load never reaches, except `over_limit` (10/s per value) and sliding_log (capped at 10,000/min by the config loader, so under load it rejects most requests). The over-limit mix sends 90% of requests to 4 `over_limit` values and 10% to distinct `fixed_window` values. Redis targets run with the default settings (BACKEND_TIMEOUT 250 ms, judged after pending replies are read). Errors are counted either way ("failed": HTTP/2 failures plus the server\'s own gRPC error count for h2load rows; non-zero grpc-status for the Node generator).',
    '- Server CPU: `/proc/<pid>/stat` utime+stime over the measured run (primary and workers summed); RSS from `/proc/<pid>/status` after it. Redis commands from `INFO commandstats` before/after: "sent" counts EVALSHA calls (what the service sends), "all" every command Redis ran, inside scripts included, divided by answered requests.',
    "- Load generator, server and Redis share this machine's cores, so absolute numbers are pessimistic; compare ratios to the same-run ceiling.",
    '',
    '## Targets (issue 5), judged on this run',
    '',
    ...targets(input),
    '',
    '## Hot key (h2load)',
    '',
    ...table(hot),
    '',
  ];
  if (many.length > 0) {
    lines.push(
      `## Many keys, 4 descriptors, over-limit mix (Node generator, ${count(input.manyKeys)} distinct requests)`,
      '',
      ...table(many),
      '',
    );
  }
  if (workers.length > 0) {
    lines.push(
      '## `--workers` (Redis backend, hot key, h2load)',
      '',
      ...table(workers),
      '',
      'Workers share the gRPC port through node:cluster; here h2load, Redis and the workers share 2 cores, so this shows the mechanism, not the scaling. docs/workers.md describes the measurement on a machine with spare cores.',
      '',
    );
  }
  lines.push(...ceilingsSection(input), ...hotPathSection(input));
  if (input.footprint) lines.push(...renderMemoryFootprint(input.footprint), '');
  if (input.quick) {
    lines.push(
      '## Quick mode',
      '',
      '`make bench-quick` runs a subset: hot key on memory fixed_window (concurrency 16 and 64), memory token_bucket and Redis fixed_window (64), 100,000 keys on memory and the over-limit mix with the local cache (64), two script ceilings and the hot path. `make bench` adds every algorithm on both backends, concurrency 256, 4 descriptors, Redis with many keys, the mixes without the cache and on memory, `--workers 2`, and the memory footprint.',
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
