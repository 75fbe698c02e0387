import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

/*
 * Envoy's access-log protos, loaded with protobufjs from the copy inside
 * @grpc/grpc-js-xds (never copied into the repo), to encode test messages
 * exactly as Envoy would and to read field numbers from the source of truth.
 */

const require = createRequire(import.meta.url);
const xdsDeps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));
const INCLUDES = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => path.join(xdsDeps, d)),
  protobufjsDir,
];

export const ALS_PROTO = 'envoy/service/accesslog/v3/als.proto';
export const ACCESS_LOG_PROTO = 'envoy/data/accesslog/v3/accesslog.proto';

let loaded: Promise<protobuf.Root> | undefined;

/** The root with als.proto and everything it imports, field names as in the .proto (keepCase). */
export function envoyAccessLogRoot(): Promise<protobuf.Root> {
  loaded ??= (async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      for (const dir of INCLUDES) {
        const candidate = path.join(dir, target);
        if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
      }
      return target;
    };
    await root.load([ALS_PROTO], { keepCase: true });
    root.resolveAll();
    return root;
  })();
  return loaded;
}

/** One HTTP entry in the shape of the .proto (snake_case), only the fields a test sets. */
export interface EntrySpec {
  cluster?: string;
  route?: string;
  authority?: string;
  code?: number;
  flags?: Record<string, boolean | { reason: number }>;
  /** Fields the decoder must skip: a path, headers, a start time, a downstream address. */
  noise?: boolean;
}

export function entryObject(spec: EntrySpec): Record<string, unknown> {
  const common: Record<string, unknown> = {};
  if (spec.cluster !== undefined) common.upstream_cluster = spec.cluster;
  if (spec.route !== undefined) common.route_name = spec.route;
  if (spec.flags !== undefined) common.response_flags = spec.flags;
  const request: Record<string, unknown> = {};
  if (spec.authority !== undefined) request.authority = spec.authority;
  const response: Record<string, unknown> = {};
  if (spec.code !== undefined) response.response_code = { value: spec.code };
  if (spec.noise) {
    common.sample_rate = 1;
    common.start_time = { seconds: 1_700_000_000, nanos: 5 };
    common.downstream_remote_address = { socket_address: { address: '10.0.0.1', port_value: 4321 } };
    common.custom_tags = { team: 'payments' };
    common.upstream_transport_failure_reason = 'none';
    request.path = '/checkout';
    request.request_headers = { 'x-a': 'b' };
    request.request_method = 2;
    response.response_headers = { server: 'upstream' };
    response.response_body_bytes = 123_456_789_012;
  }
  return { common_properties: common, request, response, protocol_version: 2 };
}

/** A StreamAccessLogsMessage as Envoy encodes it (identifier included when `identify`). */
export async function encodeAccessLogs(entries: EntrySpec[], identify = true): Promise<Buffer> {
  const root = await envoyAccessLogRoot();
  const Message = root.lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const body: Record<string, unknown> = { http_logs: { log_entry: entries.map(entryObject) } };
  if (identify) body.identifier = { node: { id: 'envoy-1', cluster: 'edge' }, log_name: 'adaptive' };
  const problem = Message.verify(body);
  if (problem) throw new Error(problem);
  return Buffer.from(Message.encode(Message.fromObject(body)).finish());
}
