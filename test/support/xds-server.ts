import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { type DeepPartial, RateLimitConfig } from '../../src/gen/ratelimit/config/ratelimit/v3/rls_conf.js';

/*
 * A small state-of-the-world ADS management server for tests. DiscoveryRequest and
 * DiscoveryResponse are encoded with Envoy's own protos (the copy in @grpc/grpc-js-xds, via
 * protobufjs), not the service's subset, so a test also checks the wire format. It pushes
 * snapshots of RateLimitConfig resources and records every request (subscriptions, ACKs, NACKs).
 */

const require = createRequire(import.meta.url);
const xdsDeps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));
const INCLUDES = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => path.join(xdsDeps, d)),
  protobufjsDir,
];

export const RLS_CONFIG_TYPE_URL = 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig';

/** A recorded DiscoveryRequest, decoded with Envoy's proto (snake_case, defaults filled). */
export interface RecordedRequest {
  readonly stream: number;
  readonly version_info: string;
  readonly response_nonce: string;
  readonly type_url: string;
  readonly resource_names: string[];
  readonly node?: { id: string; metadata?: Record<string, unknown> };
  readonly error_detail?: { code: number; message: string };
}

/** A resource as a test writes it: the RateLimitConfig message fields (ts-proto, camelCase). */
export type ConfigResource = DeepPartial<RateLimitConfig>;

let rootPromise: Promise<protobuf.Root> | undefined;

function discoveryRoot(): Promise<protobuf.Root> {
  rootPromise ??= (async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      for (const dir of INCLUDES) {
        const candidate = path.join(dir, target);
        if (existsSync(candidate)) return candidate;
      }
      return target;
    };
    await root.load(['envoy/service/discovery/v3/ads.proto'], { keepCase: true });
    root.resolveAll();
    return root;
  })();
  return rootPromise;
}

export class XdsTestServer {
  readonly requests: RecordedRequest[] = [];
  private server: grpc.Server | undefined;
  private port = 0;
  private streams = new Map<number, grpc.ServerDuplexStream<unknown, unknown>>();
  private streamCount = 0;
  private nonce = 0;
  private snapshot: { version: string; resources: ConfigResource[]; raw?: Buffer[] } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly request: protobuf.Type,
    private readonly response: protobuf.Type,
  ) {}

  static async start(port = 0): Promise<XdsTestServer> {
    const root = await discoveryRoot();
    const server = new XdsTestServer(
      root.lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
      root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    );
    await server.listen(port);
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Sets the snapshot and pushes it on every open stream. `raw` replaces the encoded resources. */
  push(version: string, resources: ConfigResource[], raw?: Buffer[]): void {
    this.snapshot = { version, resources, raw };
    for (const call of this.streams.values()) this.send(call);
  }

  /** Waits until a recorded request satisfies `match` (from index `from` on); returns it. */
  async waitFor(
    match: (r: RecordedRequest) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RecordedRequest> {
    const deadline = Date.now() + (options.timeoutMs ?? 5_000);
    for (;;) {
      const found = this.requests.slice(options.from ?? 0).find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching xDS request; got ${JSON.stringify(this.requests)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops at once (streams cut, as a crashed server). */
  stop(): void {
    for (const call of this.streams.values()) call.destroy();
    this.streams.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** Listens again on the same port, with the snapshot it had (or none). */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  private listen(port: number): Promise<void> {
    const server = new grpc.Server();
    server.addService(
      {
        StreamAggregatedResources: {
          path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
          requestStream: true,
          responseStream: true,
          requestSerialize: (v: unknown) => Buffer.from(this.request.encode(v as object).finish()),
          requestDeserialize: (b: Buffer) => this.request.decode(b),
          responseSerialize: (v: unknown) => Buffer.from(this.response.encode(v as object).finish()),
          responseDeserialize: (b: Buffer) => this.response.decode(b),
        },
      },
      { StreamAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.handle(call) },
    );
    this.server = server;
    return new Promise((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) return reject(err);
        this.port = bound;
        resolve();
      }),
    );
  }

  private handle(call: grpc.ServerDuplexStream<unknown, unknown>): void {
    const id = ++this.streamCount;
    this.streams.set(id, call);
    let first = true;
    call.on('data', (message: protobuf.Message) => {
      const recorded = this.request.toObject(message, { defaults: true, arrays: true }) as RecordedRequest;
      this.requests.push({ ...recorded, stream: id });
      for (const wake of this.waiters.splice(0)) wake();
      // SotW: a new subscription gets the snapshot unless it already has that version
      if (first && this.snapshot !== undefined && recorded.version_info !== this.snapshot.version)
        this.send(call);
      first = false;
    });
    call.on('error', () => this.streams.delete(id));
    call.on('end', () => {
      this.streams.delete(id);
      call.end();
    });
  }

  private send(call: grpc.ServerDuplexStream<unknown, unknown>): void {
    const snapshot = this.snapshot!;
    const values =
      snapshot.raw ??
      snapshot.resources.map((r) =>
        Buffer.from(RateLimitConfig.encode(RateLimitConfig.fromPartial(r)).finish()),
      );
    call.write(
      this.response.fromObject({
        version_info: snapshot.version,
        type_url: RLS_CONFIG_TYPE_URL,
        nonce: String(++this.nonce),
        resources: values.map((value) => ({ type_url: RLS_CONFIG_TYPE_URL, value })),
      }),
    );
  }
}
