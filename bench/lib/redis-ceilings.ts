/**
 * Redis-side numbers for the benchmarks: commands counted by INFO commandstats,
 * and redis-benchmark on the same server as the storage ceiling (plain INCR, and
 * EVALSHA of our apply script for one check of each algorithm).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { Algorithm } from '../../src/core/algorithm.js';
import { isChargedWhenRejected } from '../../src/core/limit.js';
import { loadApplyScript } from '../../src/storage/redis/lua-scripts.js';

const run = promisify(execFile);

export interface CommandCounts {
  /** Every command Redis ran (scripts' inner commands included), INFO and CONFIG excluded. */
  total: number;
  /** EVAL/EVALSHA/FCALL calls: the commands a client sent. */
  scripts: number;
}

export async function commandCounts(client: Redis): Promise<CommandCounts> {
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

/** redis-benchmark -q with `args`; requests per second. `-r keys` replaces __rand_int__ in keys. */
export async function redisBenchmark(
  port: number,
  args: readonly string[],
  options: { clients: number; requests: number; keys: number },
): Promise<number> {
  const { stdout } = await run(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(options.clients),
      '-n',
      String(options.requests),
      '-P',
      '1',
      '-r',
      String(options.keys),
      '-q',
      ...args,
    ],
    { timeout: 180_000 },
  );
  // "-q" prints e.g. "incr k: 54945.05 requests per second, p50=0.463 msec"
  const match = /([\d.]+) requests per second/.exec(stdout.split('\r').pop() ?? stdout);
  return Number(match?.[1] ?? Number.NaN);
}

/**
 * The EVALSHA arguments of one request with one check of `algorithm` on a key
 * redis-benchmark randomizes (apply.lua's ARGV layout: clock, stop, jitter,
 * extra ttl, request count, then per request its client time, check count and
 * per check algorithm, limit, unit, burst, hits, blocking, charged_when_rejected: a lone
 * `rate_limit` of `algorithm`).
 */
export function applyScriptArgs(sha: string, algorithm: Algorithm, limit: number): string[] {
  const key =
    algorithm === 'fixed_window'
      ? 'bench_user_u__rand_int___1000000'
      : `{bench_user_u__rand_int___}rb_${algorithm}_`;
  const l = String(limit);
  return [
    'EVALSHA',
    sha,
    '1',
    key,
    'redis',
    '0',
    '0',
    '0',
    '1',
    '1000000000',
    '1',
    algorithm,
    l,
    '60',
    l,
    '1',
    '1',
    isChargedWhenRejected(algorithm, false) ? '1' : '0',
  ];
}

/** Loads the apply script (from `luaDir`, default beside the compiled store) into the server; its sha. */
export async function loadScript(client: Redis, luaDir?: string): Promise<string> {
  const script = await loadApplyScript(luaDir);
  return (await client.script('LOAD', script.lua)) as string;
}
