// envoy/adaptive-access-log.yaml (the front proxy of docs/adaptive.md's worked examples) checked against
// Envoy's protos and against its rate limit config, examples/adaptive/ratelimit.yaml. That YAML is read
// with the `yaml` package as plain data: the config loader does not accept `adaptive:` yet.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type DescriptorEntry,
  findNode,
  goDurationNanos,
  grpcAccessLogFacts,
  routeRateLimits,
} from './access-log-facts.js';
import { expectOnlyProblem } from './checker-fixture.js';
import { envoyYamlToJson } from './envoy-yaml.js';
import { checkEnvoyYaml } from './proto-config-checker.js';
import { clusterReferences, pick, rateLimitFilterFacts, speaksHttp2 } from './ratelimit-filter-facts.js';

const read = (rel: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../${rel}`, import.meta.url)), 'utf8');
const ENVOY_TEXT = read('envoy/adaptive-access-log.yaml');
const envoy = envoyYamlToJson(ENVOY_TEXT).value;
interface Controller {
  name: string;
  type: string;
  interval: string;
  match?: { upstream_cluster?: string; route_name?: string; authority?: string };
}
const ratelimit = parse(read('examples/adaptive/ratelimit.yaml')) as {
  domain: string;
  adaptive: Controller[];
  descriptors: unknown[];
};
const clusters = pick(pick(envoy, 'static_resources'), 'clusters') as unknown[];
const clusterNamed = (name: unknown): unknown => clusters.find((c) => pick(c, 'name') === name);
const logs = grpcAccessLogFacts(envoy);
const routes = routeRateLimits(envoy);
const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const ALS = `${HCM}.access_log[0].typed_config`;

/** A descriptor a route sends, with the cluster it routes to. */
interface RoutedDescriptor {
  cluster: unknown;
  descriptor: DescriptorEntry[];
}

/** The nodes of the raw YAML (depth first) with their `adaptive` lists. */
function adaptiveNodes(descriptors: unknown): { key: unknown; value: unknown; adaptive: unknown }[] {
  return (Array.isArray(descriptors) ? descriptors : []).flatMap((n) => [
    ...(n.adaptive === undefined ? [] : [{ key: n.key, value: n.value, adaptive: n.adaptive }]),
    ...adaptiveNodes(n.descriptors),
  ]);
}

describe('envoy/adaptive-access-log.yaml against Envoy protos', () => {
  it('passes the strict check: every typed_config (HCM, gRPC access log, ratelimit, router, HTTP/2 options) resolved', () => {
    expect(checkEnvoyYaml(ENVOY_TEXT)).toEqual([]);
  });

  it('checks inside the access log typed_config and filter (an unknown field is reported there)', () => {
    const once = (from: string, to: string): string => {
      expect(ENVOY_TEXT.split(from)).toHaveLength(2);
      return ENVOY_TEXT.replace(from, to);
    };
    expectOnlyProblem(
      checkEnvoyYaml(once('buffer_flush_interval: 1s', 'buffer_flush_intervall: 1s')),
      `${ALS}.common_config.buffer_flush_intervall`,
      'buffer_flush_intervall',
    );
    const filterProblems = checkEnvoyYaml(once('not_health_check_filter: {}', 'not_health_check_filtr: {}'));
    expect(filterProblems).toEqual([
      expect.stringMatching(/\.access_log\[0\]\.filter\.not_health_check_filtr: unknown field/),
      expect.stringMatching(/\.access_log\[0\]\.filter: oneof 'filter_specifier' .* requires one of/),
    ]);
    expect(checkEnvoyYaml(once('log_name: ingress', 'log_name: ""')).join('\n')).toContain(
      `${ALS}.common_config.log_name`,
    );
  });
});

describe('envoy/adaptive-access-log.yaml against examples/adaptive/ratelimit.yaml', () => {
  it('streams HTTP entries over V3 gRPC to the service: the ratelimit cluster, defined, HTTP/2, port 8081', () => {
    expect(logs).toHaveLength(1);
    const [rlFilter] = rateLimitFilterFacts(envoy);
    for (const log of logs) {
      expect(typeof log.logName === 'string' && log.logName.length > 0, `${log.path} log_name`).toBe(true);
      expect(log.transportApiVersion, `${log.path} transport_api_version`).toBe('V3');
      expect(clusterNamed(log.grpcCluster), `cluster ${String(log.grpcCluster)} is defined`).toBeDefined();
      expect(
        speaksHttp2(clusterNamed(log.grpcCluster)),
        `cluster ${String(log.grpcCluster)} speaks HTTP/2`,
      ).toBe(true);
      expect(log.grpcCluster, 'the same service answers ShouldRateLimit and StreamAccessLogs').toBe(
        rlFilter!.grpcCluster,
      );
      expect(log.filter, 'only health checks are filtered out').toEqual({ not_health_check_filter: {} });
    }
    expect(rlFilter!.clusterEndpoints).toEqual(['127.0.0.1:8081']);
  });

  it('the ratelimit filter asks for the example domain', () => {
    expect(rateLimitFilterFacts(envoy).map((f) => f.domain)).toEqual([ratelimit.domain]);
  });

  it('every error_rate controller matches a cluster (or route) that an access-logged HCM routes to', () => {
    const errorRate = ratelimit.adaptive.filter((c) => c.type === 'error_rate');
    expect(errorRate.map((c) => c.name)).toEqual(['checkout-health']);
    const routedTo = clusterReferences(envoy).routedTo;
    for (const c of errorRate) {
      expect(c.match, `${c.name}.match`).toBeDefined();
      const logged = routes.filter((r) => logs.some((l) => l.hcmPath === r.hcmPath));
      if (c.match!.upstream_cluster !== undefined) {
        expect(routedTo, `${c.name}.match.upstream_cluster`).toContain(c.match!.upstream_cluster);
        expect(logged.map((r) => r.cluster)).toContain(c.match!.upstream_cluster);
      }
      if (c.match!.route_name !== undefined)
        expect(logged.map((r) => r.routeName)).toContain(c.match!.route_name);
    }
  });

  it('the access log flushes at most every interval/5 of each error_rate controller', () => {
    for (const c of ratelimit.adaptive.filter((x) => x.type === 'error_rate')) {
      const interval = goDurationNanos(c.interval);
      expect(interval, `${c.name}.interval`).toBeDefined();
      for (const log of logs)
        expect(log.flushNanos! * 5n <= interval!, `${log.path} vs ${c.name}`).toBe(true);
    }
  });

  it('every descriptor the routes produce reaches a node with a limit', () => {
    const all = routes.flatMap((r) => r.descriptors);
    expect(all.length).toBeGreaterThan(0);
    for (const d of all) {
      const node = findNode(ratelimit.descriptors, d);
      expect(node, JSON.stringify(d)).toBeDefined();
      expect(node!.rate_limit, JSON.stringify(d)).toBeDefined();
    }
  });

  it('the checkout-health node is reached from the checkout route, the abusers node from remote_address', () => {
    const reaching = (name: string): RoutedDescriptor[] =>
      routes.flatMap((r) =>
        r.descriptors
          .filter((d) =>
            (findNode(ratelimit.descriptors, d)?.adaptive as unknown[] | undefined)?.includes(name),
          )
          .map((d) => ({ cluster: r.cluster, descriptor: d })),
      );
    const health = reaching('checkout-health');
    expect(health.length).toBeGreaterThan(0);
    for (const h of health) expect(h.cluster).toBe('checkout');
    const abusers = reaching('abusers');
    expect(abusers.map((a) => a.cluster).sort()).toEqual(['catalog', 'checkout']);
    for (const a of abusers) expect(a.descriptor).toEqual([{ key: 'remote_address', value: undefined }]);
  });

  it('nodes name only declared controllers, and every controller is used', () => {
    const declared = ratelimit.adaptive.map((c) => c.name);
    const used = adaptiveNodes(ratelimit.descriptors).flatMap((n) => n.adaptive as string[]);
    for (const name of used) expect(declared).toContain(name);
    expect([...new Set(used)].sort()).toEqual([...declared].sort());
  });
});

describe('access-log facts helpers', () => {
  const tree = [
    { key: 'path', value: '/checkout', rate_limit: {} },
    { key: 'path', value: '/api/*', rate_limit: {} },
    { key: 'user', descriptors: [{ key: 'path', rate_limit: {} }] },
  ];
  it('findNode takes the exact value, then a wildcard, then key-only; a request-time value needs key-only', () => {
    expect(findNode(tree, [{ key: 'path', value: '/checkout' }])).toBe(tree[0]);
    expect(findNode(tree, [{ key: 'path', value: '/api/x' }])).toBe(tree[1]);
    expect(findNode(tree, [{ key: 'path', value: '/other' }])).toBeUndefined();
    expect(findNode(tree, [{ key: 'path', value: undefined }])).toBeUndefined();
    expect(findNode(tree, [{ key: 'remote_address', value: undefined }])).toBeUndefined();
    expect(
      findNode(tree, [
        { key: 'user', value: undefined },
        { key: 'path', value: '/a' },
      ]),
    ).toBe(tree[2]!.descriptors![0]);
  });

  it('goDurationNanos reads one-unit Go durations only', () => {
    expect(goDurationNanos('5s')).toBe(5_000_000_000n);
    expect(goDurationNanos('250ms')).toBe(250_000_000n);
    expect(goDurationNanos('1h')).toBe(3_600_000_000_000n);
    expect(goDurationNanos('1h30m')).toBeUndefined();
    expect(goDurationNanos(5)).toBeUndefined();
  });
});
