// The Envoy configs we ship (envoy/*.yaml) checked against Envoy's own API protos, since Envoy itself
// cannot run here (negative cases for the checker: proto-config-checker.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIXTURE } from './checker-fixture.js';
import { envoyYamlToJson, plainScalar } from './envoy-yaml.js';
import { checkEnvoyYaml } from './proto-config-checker.js';
import {
  clusterReferences,
  DEFAULT_TIMEOUT_NANOS,
  MAX_TIMEOUT_NANOS,
  pick,
  rateLimitFilterFacts,
} from './ratelimit-filter-facts.js';

const envoyDir = fileURLToPath(new URL('../../../envoy/', import.meta.url));
// ratelimit-config.yaml is the rules file of the service, not an Envoy config (front-proxy.test.ts).
const shipped = readdirSync(envoyDir)
  .filter((f) => /\.ya?ml$/.test(f) && f !== 'ratelimit-config.yaml')
  .sort();
const read = (file: string): string => readFileSync(path.join(envoyDir, file), 'utf8');

describe('envoy/*.yaml', () => {
  it('includes at least front-proxy.yaml', () => {
    expect(shipped).toContain('front-proxy.yaml');
  });

  it.each(shipped)('%s passes the strict check against envoy.config.bootstrap.v3.Bootstrap', (file) => {
    expect(checkEnvoyYaml(read(file))).toEqual([]);
  });

  it.each(shipped)(
    '%s has ratelimit filters with a domain, V3 transport, HTTP/2 cluster, 20-100 ms timeout, failure mode stated',
    (file) => {
      const facts = rateLimitFilterFacts(envoyYamlToJson(read(file)).value);
      expect(facts.length).toBeGreaterThan(0);
      for (const f of facts) {
        expect(typeof f.domain === 'string' && f.domain.length > 0, `${f.path}.domain`).toBe(true);
        expect(f.transportApiVersion, `${f.path}.rate_limit_service.transport_api_version`).toBe('V3');
        expect(
          f.clusterSpeaksHttp2,
          `cluster '${String(f.grpcCluster)}' needs explicit http2_protocol_options`,
        ).toBe(true);
        expect(f.timeoutNanos, `${f.path}.timeout`).toBeDefined();
        expect(
          f.timeoutNanos! >= DEFAULT_TIMEOUT_NANOS && f.timeoutNanos! <= MAX_TIMEOUT_NANOS,
          `${f.path}.timeout must be within 0.02s..0.1s`,
        ).toBe(true);
        expect(typeof f.failureModeDeny, `${f.path}.failure_mode_deny must be stated`).toBe('boolean');
        expect(f.clusterEndpoints.length).toBeGreaterThan(0);
        for (const e of f.clusterEndpoints)
          expect(e, 'the service listens for gRPC on 8081').toMatch(/:8081$/);
        expect(
          f.precedesTerminalRouter,
          `${f.path}: the router (HTTP) or tcp_proxy (network) must be the last filter`,
        ).toBe(true);
      }
    },
  );

  it.each(shipped)('%s routes only to clusters it defines (Envoy rejects unknown route clusters)', (file) => {
    const { defined, routedTo } = clusterReferences(envoyYamlToJson(read(file)).value);
    expect(routedTo.length).toBeGreaterThan(0);
    for (const name of routedTo) expect(defined, `route cluster ${String(name)}`).toContain(name);
  });
});

describe('envoy YAML reading and ratelimit facts', () => {
  it('converts plain scalars like yaml-cpp in Envoy: flexible-case bools, auto-base int64, the rest strings', () => {
    const cases: [string, unknown][] = [
      ['On', true],
      ['NO', false],
      ['y', true],
      ['oN', 'oN'],
      ['0x1F', 31],
      ['010', 8],
      ['08', '08'],
      ['-7', -7],
      ['3000000000', '3000000000'],
      ['99999999999999999999', '99999999999999999999'],
      ['1.5', '1.5'],
      ['1e3', '1e3'],
      ['~', null],
      ['', null],
      ['0.02s', '0.02s'],
      ['127.0.0.1', '127.0.0.1'],
    ];
    for (const [text, want] of cases) expect(plainScalar(text), text).toEqual(want);
    expect(envoyYamlToJson('a: "yes"\nb: yes\nc: |\n  1\n').value).toEqual({ a: 'yes', b: true, c: '1\n' });
  });

  it('ratelimit facts expose a slow timeout, a V2 transport and a cluster without HTTP/2', () => {
    const bad = FIXTURE.replace('timeout: 0.02s', 'timeout: 0.05s')
      .replace('transport_api_version: V3', 'transport_api_version: V2')
      .replace(
        'explicit_http_config: { http2_protocol_options: {} }',
        'explicit_http_config: { http_protocol_options: {} }',
      );
    const [facts] = rateLimitFilterFacts(envoyYamlToJson(bad).value);
    expect(facts).toMatchObject({ domain: 'example', transportApiVersion: 'V2', clusterSpeaksHttp2: false });
    const routerFirst = envoyYamlToJson(FIXTURE).value as Record<string, unknown>;
    const hcm = pick(
      pick(pick(pick(pick(routerFirst, 'static_resources'), 'listeners'), 0), 'filter_chains'),
      0,
    );
    (pick(pick(pick(pick(hcm, 'filters'), 0), 'typed_config'), 'http_filters') as unknown[]).reverse();
    expect(rateLimitFilterFacts(routerFirst)[0]!.precedesTerminalRouter).toBe(false);
    expect(facts!.timeoutNanos).toBe(50_000_000n);
    const noTimeout = rateLimitFilterFacts(
      envoyYamlToJson(FIXTURE.replace('timeout: 0.02s', 'stage: 0')).value,
    );
    expect(noTimeout[0]!.timeoutNanos, 'unset means Envoy default 20 ms').toBe(DEFAULT_TIMEOUT_NANOS);
  });
});
