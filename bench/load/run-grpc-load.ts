/**
 * Runs the gRPC load generator (grpc-load.ts) in a child process, so the harness shares no
 * event loop or CPU time slice with it, and returns its one-line JSON result.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load-result.js';

export type { LoadResult } from './load-result.js';

export interface LoadSpec {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Concatenated gRPC frames (see writeFrames and request-bodies.ts), sent round robin. */
  bodiesFile: string;
  /** Requests in flight at all times (closed loop). */
  concurrency: number;
  /** HTTP/2 connections the in-flight requests are spread over; default defaultConnections(concurrency). */
  connections?: number;
  /** Measured phase, s. */
  seconds: number;
  /** Unmeasured phase at the same load before it, s; default 0. */
  warmupSeconds?: number;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'grpc-load.js');

/**
 * Connections for a concurrency. Against the no-op server 1, 2, 4 and 8 connections gave no
 * consistent winner on a shared 2-core machine (bench/load/generator-ceiling.ts); each extra
 * session costs the generator a little CPU, and a few spread the server's reads.
 */
export function defaultConnections(concurrency: number): number {
  return concurrency >= 256 ? 4 : 2;
}

/** Spawns `node grpc-load.js` with `spec`, waits for it to finish, parses its JSON line. */
export function runGrpcLoad(spec: LoadSpec): Promise<LoadResult> {
  const args = [
    SCRIPT,
    '--host',
    spec.host ?? '127.0.0.1',
    '--port',
    String(spec.port),
    '--bodies',
    spec.bodiesFile,
    '--concurrency',
    String(spec.concurrency),
    '--connections',
    String(spec.connections ?? defaultConnections(spec.concurrency)),
    '--seconds',
    String(spec.seconds),
    '--warmup',
    String(spec.warmupSeconds ?? 0),
  ];
  const limitMs = ((spec.warmupSeconds ?? 0) + spec.seconds + 30) * 1000;
  return new Promise<LoadResult>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') {
        reject(new Error(`grpc-load exited with ${signal ?? code}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(line) as LoadResult);
      } catch (error) {
        reject(new Error(`grpc-load printed no JSON result: ${line}`, { cause: error }));
      }
    });
  });
}
