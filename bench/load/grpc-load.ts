/**
 * Closed-loop gRPC load generator for ShouldRateLimit, for what h2load cannot send (one
 * fixed body): it rotates round robin through many pre-encoded bodies, reads each answer's
 * grpc-status trailer and overall_code, and records every request's latency. Runs as its
 * own process (runGrpcLoad spawns it) so it shares no event loop with the harness.
 *
 * Usage: node dist/bench/bench/load/grpc-load.js --port P --bodies FILE
 *          [--host 127.0.0.1] [--concurrency 64] [--connections 2] [--seconds 5] [--warmup 1]
 * FILE is concatenated gRPC frames (grpc-frames.ts). Prints one JSON line, a LoadResult.
 *
 * Why raw node:http2 and not a grpc-js client: grpc-js's per-call machinery (interceptors,
 * metadata, message framing and decoding) costs more CPU than the server under test, so it
 * measures itself. Here a request is one `session.request()` plus one `end(body)`, with
 * listeners bound once per in-flight slot, not per request.
 */
import { readFileSync } from 'node:fs';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { connect as netConnect } from 'node:net';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RLS_PATH } from '../lib/h2load.js';
import { splitFrames } from './grpc-frames.js';
import { LoadRecorder } from './load-recorder.js';
import type { LoadResult } from './load-result.js';
import { overallCode } from './overall-code.js';

export interface GeneratorOptions {
  host: string;
  port: number;
  bodies: Buffer[];
  /** In-flight requests, spread round robin over the connections. */
  concurrency: number;
  connections: number;
  /** Measured phase, s. */
  seconds: number;
  /** Unmeasured phase before it, same load, s. */
  warmupSeconds: number;
}

/** After the deadline, how long in-flight requests may take before the sessions are destroyed. */
const DRAIN_GRACE_MS = 5000;

/** One in-flight request at a time, re-issued from its own close listener (closed loop). */
class Slot {
  private startMs = 0;
  private httpStatus = 0;
  private grpcStatus = -1;
  private code = -1;
  /** The first bytes of the response body when they arrive split over chunks. */
  private readonly head = Buffer.alloc(8);
  private headLength = 0;
  private stream: ClientHttp2Stream | undefined;

  constructor(
    private readonly run: LoadRun,
    private readonly session: ClientHttp2Session,
  ) {}

  send(): void {
    this.httpStatus = 0;
    this.grpcStatus = -1;
    this.code = -1;
    this.headLength = 0;
    this.startMs = performance.now();
    try {
      this.stream = this.session.request(this.run.headers);
    } catch (error) {
      this.run.retire(error);
      return;
    }
    this.stream.on('response', this.onHeaders);
    this.stream.on('trailers', this.onHeaders);
    this.stream.on('data', this.onData);
    this.stream.on('error', this.onError);
    this.stream.on('close', this.onClose);
    this.stream.end(this.run.nextBody());
  }

  /** Response headers and trailers; a trailers-only answer (an error) has grpc-status in the headers. */
  private readonly onHeaders = (headers: IncomingHttpHeaders): void => {
    const status = headers[':status'];
    if (status !== undefined) this.httpStatus = Number(status);
    const grpcStatus = headers['grpc-status'];
    // a malformed value counts as an unknown status, not as "no status"
    if (grpcStatus !== undefined) this.grpcStatus = Number(grpcStatus) >= 0 ? Number(grpcStatus) : 1000;
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.code !== -1) return;
    if (this.headLength === 0 && chunk.length >= 7) {
      this.code = overallCode(chunk, chunk.length);
      return;
    }
    const copied = chunk.copy(this.head, this.headLength, 0, Math.min(chunk.length, 7 - this.headLength));
    this.headLength += copied;
    this.code = overallCode(this.head, this.headLength);
  };

  private readonly onError = (error: Error): void => this.run.noteError(error);

  private readonly onClose = (): void => {
    const endMs = performance.now();
    const rstCode = this.stream!.rstCode ?? 0;
    this.stream = undefined;
    this.run.recorder.complete(this.startMs, endMs, this.httpStatus, this.grpcStatus, this.code, rstCode);
    if (this.run.accepting(endMs)) this.send();
    else this.run.retire(undefined);
  };
}

class LoadRun {
  readonly recorder: LoadRecorder;
  readonly headers: OutgoingHttpHeaders;
  private next = 0;
  private live: number;
  private readonly deadlineMs: number;
  private aborted = false;
  private firstError: string | undefined;
  private resolveDone: () => void = () => {};
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(
    private readonly options: GeneratorOptions,
    private readonly sessions: ClientHttp2Session[],
  ) {
    const start = performance.now();
    const measureStartMs = start + options.warmupSeconds * 1000;
    this.deadlineMs = measureStartMs + options.seconds * 1000;
    this.recorder = new LoadRecorder(measureStartMs, options.seconds);
    this.headers = {
      ':method': 'POST',
      ':scheme': 'http',
      ':authority': `${options.host}:${options.port}`,
      ':path': RLS_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    this.live = options.concurrency;
    for (const session of sessions) {
      session.on('error', (error: Error) => this.noteError(error));
      session.on('goaway', (code: number) => this.noteError(new Error(`GOAWAY from server, code ${code}`)));
    }
  }

  start(): void {
    setTimeout(() => this.recorder.beginMeasuring(), this.options.warmupSeconds * 1000).unref();
    setTimeout(() => this.abort(), this.deadlineMs - performance.now() + DRAIN_GRACE_MS).unref();
    const slots: Slot[] = [];
    for (let i = 0; i < this.options.concurrency; i++) {
      slots.push(new Slot(this, this.sessions[i % this.sessions.length]!));
    }
    for (const slot of slots) slot.send();
  }

  nextBody(): Buffer {
    const body = this.options.bodies[this.next]!;
    this.next = this.next + 1 === this.options.bodies.length ? 0 : this.next + 1;
    return body;
  }

  accepting(nowMs: number): boolean {
    return nowMs < this.deadlineMs && !this.aborted;
  }

  /** A slot stops sending (deadline passed, or its session is gone). */
  retire(error: unknown): void {
    if (error !== undefined) this.noteError(error);
    if (--this.live === 0) this.resolveDone();
  }

  noteError(error: unknown): void {
    this.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }

  private abort(): void {
    this.aborted = true;
    this.noteError(new Error(`requests still in flight ${DRAIN_GRACE_MS} ms after the deadline`));
    for (const session of this.sessions) session.destroy();
  }

  result(): LoadResult {
    return {
      ...this.recorder.result(),
      concurrency: this.options.concurrency,
      connections: this.sessions.length,
      bodies: this.options.bodies.length,
      ...(this.firstError === undefined ? {} : { firstError: this.firstError }),
    };
  }
}

function openSession(host: string, port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${host}:${port}`, {
      // Nagle would hold small frames back for the server's delayed ACK
      createConnection: () => netConnect({ host, port, noDelay: true }),
      // default 10 MB can refuse streams (ENHANCE_YOUR_CALM) with hundreds in flight
      maxSessionMemory: 64,
      settings: { enablePush: false, initialWindowSize: (1 << 24) - 1 },
    });
    session.once('error', reject);
    session.once('remoteSettings', () => {
      session.off('error', reject);
      session.setLocalWindowSize((1 << 30) - 1);
      resolve(session);
    });
  });
}

/** Runs one load: opens the connections, loads for warm-up + measured seconds, drains, closes. */
export async function generateLoad(options: GeneratorOptions): Promise<LoadResult> {
  if (options.bodies.length === 0) throw new Error('no bodies to send');
  const sessions = await Promise.all(
    Array.from({ length: Math.min(options.connections, options.concurrency) }, () =>
      openSession(options.host, options.port),
    ),
  );
  const run = new LoadRun(options, sessions);
  run.start();
  await run.done;
  for (const session of sessions) session.close();
  return run.result();
}

function cliOptions(argv: string[]): GeneratorOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      bodies: { type: 'string' },
      concurrency: { type: 'string', default: '64' },
      connections: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
    },
  });
  if (!values.port || !values.bodies) throw new Error('--port and --bodies are required');
  const positive = (name: string, value: string): number => {
    const n = Number(value);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${value}`);
    return n;
  };
  return {
    host: values.host,
    port: positive('port', values.port),
    bodies: splitFrames(readFileSync(values.bodies)),
    concurrency: Math.round(positive('concurrency', values.concurrency)),
    connections: Math.round(positive('connections', values.connections)),
    seconds: positive('seconds', values.seconds),
    warmupSeconds: values.warmup === '0' ? 0 : positive('warmup', values.warmup),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  generateLoad(cliOptions(process.argv.slice(2))).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`grpc-load: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
      process.exitCode = 1;
    },
  );
}
