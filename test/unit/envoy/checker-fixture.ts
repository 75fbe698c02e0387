// Shared by the checker tests: a valid bootstrap to mutate, and assertion helpers.
import { expect } from 'vitest';

// A small but complete bootstrap: listener -> HCM (Any) -> ratelimit + router filters (Any), and an HTTP/2
// cluster via typed_extension_protocol_options (map of Any).
export const FIXTURE = `
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 0.0.0.0, port_value: 10000 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                    - name: backend
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route:
                            cluster: ratelimit
                            rate_limits:
                              - actions: [{ request_headers: { header_name: x-user-id, descriptor_key: user } }]
                http_filters:
                  - name: envoy.filters.http.ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
                      domain: example
                      timeout: 0.02s
                      rate_limit_service:
                        transport_api_version: V3
                        grpc_service: { envoy_grpc: { cluster_name: ratelimit } }
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: ratelimit
      type: STATIC
      connect_timeout: 1s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: { http2_protocol_options: {} }
      load_assignment:
        cluster_name: ratelimit
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8081 } } } }] }]
`;

export const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
export const RL = `${HCM}.http_filters[0].typed_config`;
export const RLS_CLUSTER = 'static_resources.clusters[0]';
export const H2_OPTIONS = `${RLS_CLUSTER}.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`;

/** FIXTURE with the one occurrence of `from` replaced by `to`. */
export function mutate(from: string, to: string): string {
  expect(FIXTURE.split(from)).toHaveLength(2);
  return FIXTURE.replace(from, to);
}

/** Exactly one problem, at `at`, whose message contains `fragment`. */
export function expectOnlyProblem(problems: string[], at: string, fragment: string): void {
  expect(problems, problems.join('\n')).toHaveLength(1);
  expect(problems[0]!.startsWith(`${at}: `), problems[0]).toBe(true);
  expect(problems[0]).toContain(fragment);
}
