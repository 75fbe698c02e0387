// Pulls out of an Envoy bootstrap (proto3 JSON, as read by envoyYamlToJson) the pieces of each
// envoy.filters.http.ratelimit filter that this rate limit service relies on.
import { TYPE_URL_PREFIX } from './envoy-proto-root.js';
import { parseDuration } from './pgv-rules.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Field `name` (snake_case) of `obj`, also found under its proto3 JSON camelCase name; or a list item. */
export function pick(obj: unknown, name: string | number): unknown {
  if (typeof name === 'number') return Array.isArray(obj) ? obj[name] : undefined;
  if (!isObject(obj)) return undefined;
  return obj[name] ?? obj[name.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase())];
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const HCM_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
export const RATELIMIT_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.filters.http.ratelimit.v3.RateLimit`;
export const NETWORK_RATELIMIT_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.filters.network.ratelimit.v3.RateLimit`;
export const TCP_PROXY_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
export const ROUTER_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.filters.http.router.v3.Router`;
export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
/** Envoy's default for RateLimit.timeout (HTTP and network filters). */
export const DEFAULT_TIMEOUT_NANOS = 20_000_000n;
/** The timeout range the shipped configs keep to: Envoy's default up to 100 ms. */
export const MAX_TIMEOUT_NANOS = 100_000_000n;

export interface RateLimitFilterFacts {
  /** YAML path of the filter's typed_config. */
  path: string;
  /** HTTP: the HTTP filter chain ends with the router, after this filter; network: the listener's
   *  filter chain ends with tcp_proxy or the HTTP connection manager, after this filter. */
  precedesTerminalRouter: boolean;
  kind: 'http' | 'network';
  /** failure_mode_deny as written (undefined when left to Envoy's default, false). */
  failureModeDeny: unknown;
  domain: unknown;
  transportApiVersion: unknown;
  grpcCluster: unknown;
  /** Effective timeout in nanoseconds (Envoy's 20 ms when unset); undefined if malformed. */
  timeoutNanos: bigint | undefined;
  /** Whether the gRPC cluster is a static cluster forced to HTTP/2 via HttpProtocolOptions. */
  clusterSpeaksHttp2: boolean;
  /** socket_address "host:port" of each endpoint of the gRPC cluster. */
  clusterEndpoints: string[];
}

interface HttpFilter {
  path: string;
  config: Json;
  /** Whether a router filter ends this filter's chain, after it (Envoy needs the router last). */
  precedesTerminalRouter: boolean;
}

/** Every HttpConnectionManager in the static listeners, with its YAML path. */
export function connectionManagers(bootstrap: unknown): { path: string; hcm: Json }[] {
  const found: { path: string; hcm: Json }[] = [];
  list(pick(pick(bootstrap, 'static_resources'), 'listeners')).forEach((listener, l) => {
    const chains = list(pick(listener, 'filter_chains')).map((c, i) => ({ c, p: `filter_chains[${i}]` }));
    const fallback = pick(listener, 'default_filter_chain');
    if (fallback) chains.push({ c: fallback, p: 'default_filter_chain' });
    for (const { c, p } of chains) {
      list(pick(c, 'filters')).forEach((filter, f) => {
        const hcm = pick(filter, 'typed_config');
        const path = `static_resources.listeners[${l}].${p}.filters[${f}].typed_config`;
        if (isObject(hcm) && hcm['@type'] === HCM_TYPE) found.push({ path, hcm });
      });
    }
  });
  return found;
}

/** Every network filter of the static listeners that is a network ratelimit filter. */
function networkRateLimitFilters(bootstrap: unknown): HttpFilter[] {
  return list(pick(pick(bootstrap, 'static_resources'), 'listeners')).flatMap((listener, l) =>
    list(pick(listener, 'filter_chains')).flatMap((chain, c) => {
      const configs = list(pick(chain, 'filters')).map((f) => pick(f, 'typed_config'));
      const last = configs.at(-1);
      const terminal = isObject(last) && (last['@type'] === TCP_PROXY_TYPE || last['@type'] === HCM_TYPE);
      return configs.flatMap((config, f) =>
        isObject(config) && config['@type'] === NETWORK_RATELIMIT_TYPE
          ? [
              {
                path: `static_resources.listeners[${l}].filter_chains[${c}].filters[${f}].typed_config`,
                config,
                precedesTerminalRouter: terminal && f < configs.length - 1,
              },
            ]
          : [],
      );
    }),
  );
}

function httpFiltersOf(bootstrap: unknown): HttpFilter[] {
  return connectionManagers(bootstrap).flatMap(({ path, hcm }) => {
    const filters = list(pick(hcm, 'http_filters')).map((f) => pick(f, 'typed_config'));
    const routerLast = isObject(filters.at(-1)) && (filters.at(-1) as Json)['@type'] === ROUTER_TYPE;
    return filters.flatMap((config, h) =>
      isObject(config)
        ? [
            {
              path: `${path}.http_filters[${h}].typed_config`,
              config,
              precedesTerminalRouter: routerLast && h < filters.length - 1,
            },
          ]
        : [],
    );
  });
}

/** Names of the static clusters, and the clusters routes of static route_configs send traffic to. */
export function clusterReferences(bootstrap: unknown): { defined: unknown[]; routedTo: unknown[] } {
  const tcpProxies = list(pick(pick(bootstrap, 'static_resources'), 'listeners'))
    .flatMap((l) => list(pick(l, 'filter_chains')))
    .flatMap((c) => list(pick(c, 'filters')))
    .map((f) => pick(f, 'typed_config'))
    .filter((t) => isObject(t) && t['@type'] === TCP_PROXY_TYPE);
  const routes = connectionManagers(bootstrap)
    .flatMap(({ hcm }) => list(pick(pick(hcm, 'route_config'), 'virtual_hosts')))
    .flatMap((vh) => list(pick(vh, 'routes')))
    .map((r) => pick(r, 'route'));
  return {
    defined: list(pick(pick(bootstrap, 'static_resources'), 'clusters')).map((c) => pick(c, 'name')),
    routedTo: [...routes, ...tcpProxies].flatMap((r) => [
      ...(pick(r, 'cluster') === undefined ? [] : [pick(r, 'cluster')]),
      ...list(pick(pick(r, 'weighted_clusters'), 'clusters')).map((w) => pick(w, 'name')),
    ]),
  };
}

/** Whether a static cluster is forced to HTTP/2 (as gRPC needs) via HttpProtocolOptions. */
export function speaksHttp2(cluster: unknown): boolean {
  const options = pick(pick(cluster, 'typed_extension_protocol_options'), HTTP_PROTOCOL_OPTIONS);
  const http2 = pick(pick(options, 'explicit_http_config'), 'http2_protocol_options');
  return (
    isObject(options) && options['@type'] === `${TYPE_URL_PREFIX}${HTTP_PROTOCOL_OPTIONS}` && isObject(http2)
  );
}

export function rateLimitFilterFacts(bootstrap: unknown): RateLimitFilterFacts[] {
  const clusters = list(pick(pick(bootstrap, 'static_resources'), 'clusters'));
  const http = httpFiltersOf(bootstrap)
    .filter(({ config }) => config['@type'] === RATELIMIT_TYPE)
    .map((f) => ({ ...f, kind: 'http' as const }));
  const network = networkRateLimitFilters(bootstrap).map((f) => ({ ...f, kind: 'network' as const }));
  return [...http, ...network].map(({ path, config, precedesTerminalRouter, kind }) => {
    const service = pick(config, 'rate_limit_service');
    const grpcCluster = pick(pick(pick(service, 'grpc_service'), 'envoy_grpc'), 'cluster_name');
    const cluster = clusters.find((c) => pick(c, 'name') === grpcCluster);
    const timeout = pick(config, 'timeout');
    const endpoints = list(pick(pick(cluster, 'load_assignment'), 'endpoints'))
      .flatMap((e) => list(pick(e, 'lb_endpoints')))
      .map((e) => pick(pick(pick(e, 'endpoint'), 'address'), 'socket_address'))
      .map((a) => `${pick(a, 'address')}:${pick(a, 'port_value')}`);
    return {
      path,
      precedesTerminalRouter,
      kind,
      failureModeDeny: pick(config, 'failure_mode_deny'),
      domain: pick(config, 'domain'),
      transportApiVersion: pick(service, 'transport_api_version'),
      grpcCluster,
      timeoutNanos:
        timeout === undefined
          ? DEFAULT_TIMEOUT_NANOS
          : typeof timeout === 'string'
            ? parseDuration(timeout)
            : undefined,
      clusterSpeaksHttp2: speaksHttp2(cluster),
      clusterEndpoints: endpoints,
    };
  });
}
