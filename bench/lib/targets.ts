/**
 * The processes under load: the no-op grpc-js server (the framework ceiling)
 * and the real service (`dist/cli.js serve`), each in its own process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import {
  type RateLimitRequest,
  RateLimitResponse_Code,
  RateLimitServiceClient,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { freePort } from '../../test/support/free-port.js';
import { stopProcess } from '../../test/support/redis-server.js';
import { childPids } from './process-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/bench/bench/lib → dist/bench/bench (the compiled bench scripts). */
const benchDir = resolve(here, '..');
/** The repository root: this file runs from dist/bench/bench/lib/. */
export const ROOT = resolve(here, '../../../..');

export interface TargetSpec {
  backend: 'noop' | 'memory' | 'redis';
  /** `serve --workers N`; default 1. */
  workers?: number;
  /** Extra environment for the service (e.g. LOCAL_CACHE_SIZE_IN_BYTES). */
  env?: Record<string, string>;
  /** The service's CLI script; default this checkout's dist/cli.js (another build: another worktree's). */
  cli?: string;
}

export interface Running {
  spec: TargetSpec;
  child: ChildProcess;
  port: number;
  /** The service's HTTP port (/metrics); undefined for the no-op server. */
  httpPort: number | undefined;
  /** The process and its workers: the pids to sum CPU and RSS over. */
  pids(): number[];
}

export function sameTarget(a: TargetSpec | undefined, b: TargetSpec): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/** One ShouldRateLimit call with grpc-js (h2load cannot see grpc-status trailers): the code name, or throws. */
export function grpcCheck(port: number, request: RateLimitRequest, deadlineMs: number): Promise<string> {
  const client = new RateLimitServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<string>((resolveCall, reject) => {
    client.shouldRateLimit(
      request,
      { waitForReady: true, deadline: Date.now() + deadlineMs } as never,
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolveCall(RateLimitResponse_Code[response.overallCode] ?? String(response.overallCode));
      },
    );
  });
}

async function waitReady(port: number, probe: RateLimitRequest, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await grpcCheck(port, probe, 1000);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Starts `spec` on free ports and waits until it answers `probe`. */
export async function startTarget(
  spec: TargetSpec,
  configDir: string,
  redisUrl: string | undefined,
  probe: RateLimitRequest,
): Promise<Running> {
  const port = await freePort();
  let child: ChildProcess;
  let httpPort: number | undefined;
  if (spec.backend === 'noop') {
    child = spawn(process.execPath, [join(benchDir, 'noop-server.js'), String(port)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } else {
    httpPort = await freePort();
    const debugPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
    delete env.REDIS_URL;
    if (spec.backend === 'redis' && redisUrl) env.REDIS_URL = redisUrl;
    child = spawn(
      process.execPath,
      [
        spec.cli ?? join(ROOT, 'dist/cli.js'),
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
        spec.backend,
        '--workers',
        String(spec.workers ?? 1),
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env },
    );
  }
  await waitReady(port, probe, child);
  const pid = child.pid!;
  return { spec, child, port, httpPort, pids: () => [pid, ...childPids(pid)] };
}

/**
 * ShouldRateLimit calls the service answered with an error so far, from its own
 * /metrics (h2load cannot see grpc-status); 0 for the no-op server.
 */
export async function serverErrors(running: Running): Promise<number> {
  if (running.httpPort === undefined) return 0;
  const text = await (await fetch(`http://127.0.0.1:${running.httpPort}/metrics`)).text();
  let errors = 0;
  for (const m of text.matchAll(/^ratelimit_service_should_rate_limit_error\{[^}]*\} (\d+)/gm))
    errors += Number(m[1]);
  return errors;
}

export async function stopTarget(running: Running | undefined): Promise<void> {
  if (running) await stopProcess(running.child);
}
