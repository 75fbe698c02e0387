// Pulls out of an Envoy bootstrap (proto3 JSON, as read by envoyYamlToJson) the gRPC access loggers that
// feed the adaptive controllers, and the descriptors each route's rate limit actions produce; and matches
// those descriptors against a raw ratelimit YAML (read with the `yaml` package, not the config loader,
// which does not accept `adaptive:` yet).
import { TYPE_URL_PREFIX } from './envoy-proto-root.js';
import { parseDuration } from './pgv-rules.js';
import { connectionManagers, pick } from './ratelimit-filter-facts.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const HTTP_GRPC_ALS_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig`;
/** Envoy's default CommonGrpcAccessLogConfig.buffer_flush_interval (1 s). */
export const DEFAULT_FLUSH_NANOS = 1_000_000_000n;

export interface GrpcAccessLogFacts {
  /** YAML path of the access log's typed_config. */
  path: string;
  /** YAML path of the HttpConnectionManager it belongs to. */
  hcmPath: string;
  logName: unknown;
  transportApiVersion: unknown;
  grpcCluster: unknown;
  /** Effective buffer_flush_interval in nanoseconds (1 s when unset); undefined if malformed. */
  flushNanos: bigint | undefined;
  /** The access log's AccessLogFilter, if any. */
  filter: unknown;
}

export function grpcAccessLogFacts(bootstrap: unknown): GrpcAccessLogFacts[] {
  return connectionManagers(bootstrap).flatMap(({ path: hcmPath, hcm }) =>
    list(pick(hcm, 'access_log')).flatMap((log, i) => {
      const config = pick(log, 'typed_config');
      if (!isObject(config) || config['@type'] !== HTTP_GRPC_ALS_TYPE) return [];
      const common = pick(config, 'common_config');
      const flush = pick(common, 'buffer_flush_interval');
      return [
        {
          path: `${hcmPath}.access_log[${i}].typed_config`,
          hcmPath,
          logName: pick(common, 'log_name'),
          transportApiVersion: pick(common, 'transport_api_version'),
          grpcCluster: pick(pick(pick(common, 'grpc_service'), 'envoy_grpc'), 'cluster_name'),
          flushNanos:
            flush === undefined
              ? DEFAULT_FLUSH_NANOS
              : typeof flush === 'string'
                ? parseDuration(flush)
                : undefined,
          filter: pick(log, 'filter'),
        },
      ];
    }),
  );
}

/** One descriptor entry; `value` undefined when Envoy fills it from the request (remote_address, headers). */
export interface DescriptorEntry {
  key: string;
  value: string | undefined;
}

export interface RouteRateLimits {
  hcmPath: string;
  routeName: unknown;
  cluster: unknown;
  /** One descriptor per rate_limits item, from its actions in order. */
  descriptors: DescriptorEntry[][];
}

/** The entry an action adds, for the actions the shipped configs use; undefined for any other action. */
function actionEntry(action: unknown): DescriptorEntry | undefined {
  const generic = pick(action, 'generic_key');
  if (generic !== undefined) {
    const key = pick(generic, 'descriptor_key');
    return {
      key: typeof key === 'string' && key ? key : 'generic_key',
      value: String(pick(generic, 'descriptor_value')),
    };
  }
  if (pick(action, 'remote_address') !== undefined) return { key: 'remote_address', value: undefined };
  const headers = pick(action, 'request_headers');
  if (headers !== undefined) return { key: String(pick(headers, 'descriptor_key')), value: undefined };
  if (pick(action, 'destination_cluster') !== undefined)
    return { key: 'destination_cluster', value: undefined };
  return undefined;
}

/** Every route of the static route_configs, with the descriptors its rate limit actions produce. */
export function routeRateLimits(bootstrap: unknown): RouteRateLimits[] {
  return connectionManagers(bootstrap).flatMap(({ path: hcmPath, hcm }) =>
    list(pick(pick(hcm, 'route_config'), 'virtual_hosts'))
      .flatMap((vh) => list(pick(vh, 'routes')))
      .map((route) => {
        const action = pick(route, 'route');
        return {
          hcmPath,
          routeName: pick(route, 'name'),
          cluster: pick(action, 'cluster'),
          descriptors: list(pick(action, 'rate_limits')).map((rl) =>
            list(pick(rl, 'actions')).map(
              (a) => actionEntry(a) ?? { key: `<unsupported action ${JSON.stringify(a)}>`, value: undefined },
            ),
          ),
        };
      }),
  );
}

/**
 * The node of a raw ratelimit YAML that `entries` reaches, or undefined. Simplified from the reference's
 * rules: per entry, a node with the exact value, else a wildcard (`prefix*`), else the key-only node. An
 * entry whose value is only known at request time reaches nothing but a key-only node, so that every
 * value gets a limit.
 */
export function findNode(descriptors: unknown, entries: DescriptorEntry[]): Json | undefined {
  let level = list(descriptors);
  let node: Json | undefined;
  for (const { key, value } of entries) {
    const sameKey = level.filter((n): n is Json => isObject(n) && n.key === key);
    const keyOnly = sameKey.find((n) => n.value === undefined);
    node =
      value === undefined
        ? keyOnly
        : (sameKey.find((n) => n.value === value) ??
          sameKey.find(
            (n) =>
              typeof n.value === 'string' && n.value.endsWith('*') && value.startsWith(n.value.slice(0, -1)),
          ) ??
          keyOnly);
    if (!node) return undefined;
    level = list(node.descriptors);
  }
  return node;
}

/** A Go-style duration of one unit ("5s", "250ms", "1h") in nanoseconds; undefined otherwise. */
export function goDurationNanos(text: unknown): bigint | undefined {
  const m = typeof text === 'string' ? /^(\d+)(ms|s|m|h)$/.exec(text) : null;
  if (!m) return undefined;
  const unit = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n }[m[2] as 'ms'];
  return BigInt(m[1]!) * unit;
}
