/**
 * h2load (Debian nghttp2-client) sending one fixed gRPC frame: the load for the
 * hot-key rows, independent of Node. Percentiles come from its per-request log.
 */
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { percentile } from './format.js';

const run = promisify(execFile);

export interface LatencySummary {
  meanUs: number;
  maxUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

export interface H2loadResult extends LatencySummary {
  seconds: number;
  reqPerSec: number;
  succeeded: number;
  failed: number;
  errored: number;
}

/** Connections × streams per connection for a total concurrency (h2load -c, -m). */
export function shape(concurrency: number): { c: number; m: number } {
  const c = concurrency >= 256 ? 8 : 4;
  return { c, m: Math.max(1, Math.round(concurrency / c)) };
}

export const RLS_PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';

function toUs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 's' ? n * 1e6 : unit === 'ms' ? n * 1e3 : n;
}

/**
 * One h2load run for `seconds`; `logFile` (per-request log) gives exact percentiles.
 * `concurrency` is a total spread by {@link shape}, or the connections and streams themselves.
 */
export async function h2load(
  port: number,
  dataFile: string,
  concurrency: number | { c: number; m: number },
  seconds: number,
  logFile: string | undefined,
  extraArgs: readonly string[] = [],
): Promise<H2loadResult> {
  const { c, m } = typeof concurrency === 'number' ? shape(concurrency) : concurrency;
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
    ...extraArgs,
    ...(logFile ? [`--log-file=${logFile}`] : []),
    `http://127.0.0.1:${port}${RLS_PATH}`,
  ];
  const { stdout } = await run('h2load', args, { maxBuffer: 16 << 20, timeout: (seconds + 30) * 1000 });
  const num = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(stdout);
  const timing = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(stdout);
  if (!finished || !timing) throw new Error(`cannot parse h2load output:\n${stdout}`);
  // h2load's own min/max/mean come from a sample of requests; the log has every request
  let latency: LatencySummary = {
    meanUs: toUs(timing[5]!, timing[6]!),
    maxUs: toUs(timing[3]!, timing[4]!),
    p50Us: Number.NaN,
    p99Us: Number.NaN,
    p999Us: Number.NaN,
  };
  if (logFile) latency = await summarizeLog(logFile);
  return {
    seconds: toUs(finished[1]!, finished[2]!) / 1e6,
    reqPerSec: Number(finished[3]),
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/),
    errored: num(/(\d+) errored/),
    ...latency,
  };
}

/** h2load's --log-file: one line per request, the third column its duration in µs. */
async function summarizeLog(logFile: string): Promise<LatencySummary> {
  const lines = (await readFile(logFile, 'utf8')).split('\n');
  const durations = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const cols = line.split('\t');
    if (cols.length >= 3) durations[n++] = Number(cols[2]);
  }
  const sorted = durations.subarray(0, n).sort();
  let sum = 0;
  for (const d of sorted) sum += d;
  return {
    meanUs: n > 0 ? sum / n : Number.NaN,
    maxUs: n > 0 ? sorted[n - 1]! : Number.NaN,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    p999Us: percentile(sorted, 99.9),
  };
}
