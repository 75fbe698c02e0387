import * as grpc from '@grpc/grpc-js';
import { RateLimitResponse_Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { type EntrySpec, encodeAccessLogs } from './envoy-access-log.js';
import { createRlsClient, entries, type RlsTestClient } from './grpc-client.js';

/*
 * Helpers of the adaptive end-to-end tests (test/integration/adaptive-*.test.ts): a steady
 * ShouldRateLimit load that records every answer with its time, Envoy's access-log stream
 * over real gRPC, POST /v1/signals, and the debug and metrics views.
 */

export const TOKEN = 'e2e-signal-token';

/** The engine's timing (adaptive-engine.ts): refresh tick 1 s, an interval closes 1.5 s after its end. */
export const REFRESH_MS = 1_000;
export const CLOSE_DELAY_MS = REFRESH_MS + 500;
/** Allowance for a shared 2-core CI machine, on top of every documented bound. */
export const SLACK_MS = 1_500;

/** The config of the error-rate tests: one controller, interval 1 s, on a 100/s node. */
export function errorRateConfig(options: { shadow?: boolean; adaptive?: boolean } = {}): string {
  const use = options.adaptive === false ? '' : '\n    adaptive: [checkout-health]';
  return `
domain: api
adaptive:
  - name: checkout-health
    type: error_rate
    match: {upstream_cluster: checkout}
    error_threshold: 0.2
    min_samples: 10
    interval: 1s
    decrease: 0.5
    increase: 0.5
    floor: 0.25${options.shadow ? '\n    shadow_mode: true' : ''}
  - name: abusers
    type: abuse
    penalty: {factor: 0, ttl: 30s}
descriptors:
  - key: path
    value: /checkout
    rate_limit: {unit: second, requests_per_unit: 100}${use}
  - key: user
    rate_limit: {unit: second, requests_per_unit: 100}${use}
  - key: remote_address
    rate_limit: {unit: second, requests_per_unit: 100}
    adaptive: [abusers]
`;
}

export interface Answer {
  /** Date.now() when the answer arrived. */
  readonly at: number;
  /** 'OK', 'OVER_LIMIT', or the gRPC error's message. */
  readonly code: string;
  /** requests_per_unit of the first status; undefined for an error. */
  readonly limit: number | undefined;
}

export async function ask(
  client: RlsTestClient,
  descriptor: string[],
  hitsAddend = 1,
  domain = 'api',
): Promise<Answer> {
  try {
    const reply = await client.shouldRateLimit({
      domain,
      descriptors: [{ entries: entries(...descriptor) }],
      hitsAddend,
    });
    const status = reply.statuses[0];
    return {
      at: Date.now(),
      code: RateLimitResponse_Code[reply.overallCode] ?? String(reply.overallCode),
      limit: status?.currentLimit?.requestsPerUnit,
    };
  } catch (error) {
    return { at: Date.now(), code: (error as Error).message, limit: undefined };
  }
}

/** `perTick` ShouldRateLimit calls (hits 1) every 100 ms until stopped, each answer recorded. */
export class SteadyLoad {
  readonly answers: Answer[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    readonly client: RlsTestClient,
    descriptor: string[] = ['path=/checkout'],
    perTick = 3,
  ) {
    this.done = (async () => {
      while (this.running) {
        const batch = Array.from({ length: perTick }, () => ask(client, descriptor));
        this.answers.push(...(await Promise.all(batch)));
        await sleep(100);
      }
    })();
  }

  /** The answers that arrived at or after `t`. */
  since(t: number): Answer[] {
    return this.answers.filter((a) => a.at >= t);
  }

  /** The first answer at or after `t` that satisfies `test`, waiting up to `timeoutMs`. */
  async first(t: number, test: (a: Answer) => boolean, timeoutMs: number): Promise<Answer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.since(t).find(test);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        const seen = this.since(t).map((a) => `${a.at - t}ms:${a.code}/${a.limit}`);
        throw new Error(`no matching answer within ${timeoutMs} ms; saw ${seen.slice(-20).join(' ')}`);
      }
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until just after the next multiple of `ms` since the epoch (interval boundaries are aligned so). */
export async function nextBoundary(ms = 1_000): Promise<number> {
  const boundary = (Math.floor(Date.now() / ms) + 1) * ms;
  await sleep(boundary - Date.now() + 20);
  return boundary;
}

/** A client streaming Envoy's access logs to `address`, one message per `send`. */
export class AccessLogStream {
  private readonly raw: grpc.Client;
  private readonly call: grpc.ClientWritableStream<Buffer>;
  readonly status: Promise<{ code: grpc.status; details: string }>;

  constructor(address: string) {
    this.raw = new grpc.Client(address, grpc.credentials.createInsecure());
    let resolveStatus!: (s: { code: grpc.status; details: string }) => void;
    this.status = new Promise((resolve) => {
      resolveStatus = resolve;
    });
    this.call = this.raw.makeClientStreamRequest(
      '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
      (b: Buffer) => b,
      (b: Buffer) => b,
      (e) => resolveStatus(e ? { code: e.code, details: e.details } : { code: 0, details: '' }),
    );
  }

  async send(specs: EntrySpec[]): Promise<void> {
    const message = await encodeAccessLogs(specs);
    await new Promise<void>((resolve) => this.call.write(message, () => resolve()));
  }

  /** Ends the stream and returns its status (OK when every message was accepted). */
  async end(): Promise<{ code: grpc.status; details: string }> {
    this.call.end();
    const status = await this.status;
    this.raw.close();
    return status;
  }
}

/** `count` entries of cluster `checkout`: `errors` of them 503, the rest 200. */
export function checkoutEntries(count: number, errors: number): EntrySpec[] {
  return Array.from({ length: count }, (_, i) => ({ cluster: 'checkout', code: i < errors ? 503 : 200 }));
}

/** POST /v1/signals with `Authorization: Bearer <token>`; `null`: no Authorization header. */
export function postSignal(httpUrl: string, body: unknown, token: string | null = TOKEN): Promise<Response> {
  return fetch(`${httpUrl}/v1/signals`, {
    method: 'POST',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

export interface ErrorRateViewJson {
  name: string;
  type: 'error_rate';
  factor: number;
  enforcedFactor: number;
  stateReadable: boolean;
  decision: string;
  since?: string;
  lastInterval?: { start: string; samples: number; errors: number; errorRatio: number };
  localOpenInterval: { start: string; samples: number; errors: number };
}

export interface AbuseViewJson {
  name: string;
  type: 'abuse';
  boxed: number;
  penalties: { value: string; factor: number; expiresAt: string; reason: string; offences: number }[];
}

export async function adaptiveView(debugUrl: string): Promise<{
  scope: string;
  errorRate: ErrorRateViewJson;
  abuse: AbuseViewJson | undefined;
}> {
  const response = await fetch(`${debugUrl}/v1/adaptive`);
  if (response.status !== 200) throw new Error(`/v1/adaptive answered ${response.status}`);
  const view = (await response.json()) as {
    scope: string;
    controllers: (ErrorRateViewJson | AbuseViewJson)[];
  };
  const errorRate = view.controllers.find((c): c is ErrorRateViewJson => c.type === 'error_rate');
  const abuse = view.controllers.find((c): c is AbuseViewJson => c.type === 'abuse');
  if (errorRate === undefined) throw new Error(`no error_rate controller in ${JSON.stringify(view)}`);
  return { scope: view.scope, errorRate, abuse };
}

export async function text(url: string): Promise<string> {
  const response = await fetch(url);
  return response.text();
}

/** The value of one series in a Prometheus exposition (0 when absent). */
export async function metric(httpUrl: string, series: string): Promise<number> {
  const body = await text(`${httpUrl}/metrics`);
  for (const line of body.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

export function rlsClient(grpcAddress: string): RlsTestClient {
  return createRlsClient(grpcAddress, { 'grpc.use_local_subchannel_pool': 1 });
}

/** Polls `probe` every 50 ms until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function pollFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}
