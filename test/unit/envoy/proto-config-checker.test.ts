// Negative cases proving the strict Envoy config checker is not vacuous: each mutation of a valid
// bootstrap yields exactly the problem it introduces, at its YAML path.
import { describe, expect, it } from 'vitest';
import { expectOnlyProblem, FIXTURE, H2_OPTIONS, HCM, mutate, RL, RLS_CLUSTER } from './checker-fixture.js';
import { envoyYamlToJson } from './envoy-yaml.js';
import { checkEnvoyJson, checkEnvoyYaml } from './proto-config-checker.js';
import { rateLimitFilterFacts } from './ratelimit-filter-facts.js';

describe('proto config checker', () => {
  it('accepts the unmodified fixture, so each case below fails only for its own mutation', () => {
    expect(checkEnvoyYaml(FIXTURE)).toEqual([]);
    expect(rateLimitFilterFacts(envoyYamlToJson(FIXTURE).value)).toHaveLength(1);
  });

  it('reports an unknown field with its YAML path', () => {
    const problems = checkEnvoyYaml(mutate('- name: ingress\n', '- name: ingress\n      foo: 1\n'));
    expectOnlyProblem(problems, 'static_resources.listeners[0].foo', "unknown field 'foo'");
  });

  it('reports an unknown field inside an Any, checked against the @type message', () => {
    const problems = checkEnvoyYaml(
      mutate('domain: example', 'domain: example\n                      domian: typo'),
    );
    expectOnlyProblem(problems, `${RL}.domian`, 'envoy.extensions.filters.http.ratelimit.v3.RateLimit');
  });

  it('reports an enum name the enum does not define', () => {
    const problems = checkEnvoyYaml(mutate('transport_api_version: V3', 'transport_api_version: v3'));
    expectOnlyProblem(problems, `${RL}.rate_limit_service.transport_api_version`, 'invalid enum value "v3"');
  });

  it.each(['20ms', '0.02', '"1m"', '1.0000000001s'])(
    'reports a Duration that is not "<seconds>s" (%s)',
    (bad) => {
      const problems = checkEnvoyYaml(mutate('timeout: 0.02s', `timeout: ${bad}`));
      expectOnlyProblem(problems, `${RL}.timeout`, 'invalid Duration');
    },
  );

  it('reports an unknown @type', () => {
    const problems = checkEnvoyYaml(mutate('router.v3.Router', 'router.v3.Routr'));
    expectOnlyProblem(
      problems,
      `${HCM}.http_filters[1].typed_config.@type`,
      "unknown @type 'type.googleapis.com/",
    );
  });

  it('checks Any values of typed_extension_protocol_options, a map field', () => {
    const problems = checkEnvoyYaml(
      mutate('http2_protocol_options: {}', 'http2_protocol_options: { max_concurrent_stream: 9 }'),
    );
    expectOnlyProblem(
      problems,
      `${H2_OPTIONS}.explicit_http_config.http2_protocol_options.max_concurrent_stream`,
      'unknown field',
    );
  });

  it('checks the message a TypedStruct names, like Envoy does', () => {
    const typedStruct = `"@type": type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                      value: { suppress_envoy_headers: true, dynamic_stat: false }`;
    const problems = checkEnvoyYaml(
      mutate('"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', typedStruct),
    );
    expectOnlyProblem(problems, `${HCM}.http_filters[1].typed_config.value.dynamic_stat`, 'unknown field');
  });

  it('reports two members of one oneof', () => {
    const both =
      'grpc_service: { envoy_grpc: { cluster_name: ratelimit }, google_grpc: { target_uri: x, stat_prefix: rl } }';
    const problems = checkEnvoyYaml(
      mutate('grpc_service: { envoy_grpc: { cluster_name: ratelimit } }', both),
    );
    expectOnlyProblem(problems, `${RL}.rate_limit_service.grpc_service`, "oneof 'target_specifier'");
  });

  it('reports a null message, which Envoy would silently treat as unset', () => {
    const problems = checkEnvoyYaml(
      mutate('{ http2_protocol_options: {} }', '{ http2_protocol_options: null }'),
    );
    expectOnlyProblem(problems, `${H2_OPTIONS}.explicit_http_config.http2_protocol_options`, 'null leaves');
  });

  it('enforces protoc-gen-validate rules: string min_len, required message, port range', () => {
    expectOnlyProblem(
      checkEnvoyYaml(mutate('domain: example', 'domain: ""')),
      `${RL}.domain`,
      'length must be >= 1',
    );
    const noService = mutate('rate_limit_service:', 'rate_limit_servic:');
    expect(checkEnvoyYaml(noService)).toContain(
      `${RL}.rate_limit_service: required field is not set (validate rule, type envoy.config.ratelimit.v3.RateLimitServiceConfig)`,
    );
    const port = checkEnvoyYaml(mutate('port_value: 8081', 'port_value: 80810'));
    expectOnlyProblem(
      port,
      `${RLS_CLUSTER}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value`,
      '<= 65535',
    );
  });

  it('reports a required oneof left empty', () => {
    const problems = checkEnvoyYaml(mutate('actions: [{ request_headers', 'actions: [{}, { request_headers'));
    expectOnlyProblem(
      problems,
      `${HCM}.route_config.virtual_hosts[0].routes[0].route.rate_limits[0].actions[0]`,
      'requires one of',
    );
  });

  it('reads plain scalars as Envoy does: yes is a bool, 123 a number, both wrong for string fields', () => {
    expectOnlyProblem(
      checkEnvoyYaml(mutate('descriptor_key: user', 'descriptor_key: yes')),
      `${HCM}.route_config.virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].request_headers.descriptor_key`,
      'got boolean true',
    );
    expectOnlyProblem(
      checkEnvoyYaml(mutate('domain: example', 'domain: 123')),
      `${RL}.domain`,
      'got number 123',
    );
    expect(checkEnvoyYaml(mutate('domain: example', 'domain: "123"'))).toEqual([]);
    expect(checkEnvoyYaml(mutate('port_value: 8081', 'port_value: "8081"'))).toEqual([]);
  });

  it('reports a list where a single value belongs and a scalar where a list belongs', () => {
    expectOnlyProblem(
      checkEnvoyYaml(mutate('domains: ["*"]', 'domains: "*"')),
      `${HCM}.route_config.virtual_hosts[0].domains`,
      'expected a list',
    );
    expectOnlyProblem(
      checkEnvoyYaml(mutate('domain: example', 'domain: [example]')),
      `${RL}.domain`,
      'expected a string',
    );
  });

  it('reports deprecated fields and enum values unless allowed', () => {
    const legacy = mutate('connect_timeout: 1s', 'connect_timeout: 1s\n      http2_protocol_options: {}');
    expectOnlyProblem(checkEnvoyYaml(legacy), `${RLS_CLUSTER}.http2_protocol_options`, 'deprecated');
    expect(checkEnvoyYaml(legacy, undefined, { allowDeprecated: true })).toEqual([]);
    expectOnlyProblem(
      checkEnvoyYaml(mutate('transport_api_version: V3', 'transport_api_version: V2')),
      `${RL}.rate_limit_service.transport_api_version`,
      'deprecated',
    );
  });

  it('reports a field given under both its proto name and its JSON name', () => {
    const problems = checkEnvoyYaml(
      mutate('stat_prefix: ingress', 'stat_prefix: ingress\n                statPrefix: ingress'),
    );
    expectOnlyProblem(problems, `${HCM}.statPrefix`, 'set twice');
  });

  it('checks Any wrapping a well-known type via "value"', () => {
    const duration = 'type.googleapis.com/google.protobuf.Duration';
    expect(checkEnvoyJson({ '@type': duration, value: '1.5s' }, 'google.protobuf.Any')).toEqual([]);
    expectOnlyProblem(
      checkEnvoyJson({ '@type': duration, value: 5 }, 'google.protobuf.Any'),
      'value',
      'invalid Duration',
    );
  });

  it('reports duplicate YAML keys', () => {
    const problems = checkEnvoyYaml(
      mutate('domain: example', 'domain: example\n                      domain: other'),
    );
    expect(problems.some((p) => p.startsWith('<yaml>: '))).toBe(true);
  });
});
