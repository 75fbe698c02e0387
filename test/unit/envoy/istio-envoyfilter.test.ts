// deploy/istio/envoyfilter-ratelimit.yaml: no Istio here, so the Kubernetes envelope is checked by hand
// against Istio's documented EnvoyFilter API, each patch `value` (Envoy config) against Envoy's protos,
// and the gateway Envoy the patches describe (a bootstrap assembled from them) like envoy/*.yaml: its
// ratelimit filter facts, and every descriptor its actions produce against envoy/ratelimit-config.yaml.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { producibleDescriptors } from './descriptor-facts.js';
import { checkEnvoyJson } from './proto-config-checker.js';
import { HCM_TYPE, ROUTER_TYPE, rateLimitFilterFacts } from './ratelimit-filter-facts.js';
import { loadRules, matchAll, readRepoFile, show } from './ratelimit-rules.js';

// Istio's EnvoyFilter reference, https://istio.io/latest/docs/reference/config/networking/envoy-filter/:
// the enums EnvoyFilter.ApplyTo, EnvoyFilter.PatchContext and EnvoyFilter.Patch.Operation, and the
// fields of EnvoyFilter.EnvoyConfigObjectMatch (INVALID is listed there but rejected by Istio).
const APPLY_TO = new Set([
  'LISTENER',
  'FILTER_CHAIN',
  'NETWORK_FILTER',
  'HTTP_FILTER',
  'ROUTE_CONFIGURATION',
  'VIRTUAL_HOST',
  'HTTP_ROUTE',
  'CLUSTER',
  'EXTENSION_CONFIG',
  'BOOTSTRAP',
  'LISTENER_FILTER',
]);
const CONTEXTS = new Set(['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY']);
const OPERATIONS = new Set([
  'MERGE',
  'ADD',
  'REMOVE',
  'INSERT_BEFORE',
  'INSERT_AFTER',
  'INSERT_FIRST',
  'REPLACE',
]);
const MATCH_FIELDS = new Set(['context', 'proxy', 'listener', 'routeConfiguration', 'cluster']);
/** The Envoy message a patch value of each applyTo is (same reference, "Patch.value"). */
const VALUE_TYPES: Record<string, string> = {
  HTTP_FILTER: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  VIRTUAL_HOST: 'envoy.config.route.v3.VirtualHost',
  HTTP_ROUTE: 'envoy.config.route.v3.Route',
  CLUSTER: 'envoy.config.cluster.v3.Cluster',
  LISTENER: 'envoy.config.listener.v3.Listener',
  NETWORK_FILTER: 'envoy.config.listener.v3.Filter',
};

interface Patch {
  applyTo: string;
  match: Record<string, unknown>;
  patch: { operation: string; value?: Record<string, unknown> };
}
const doc = parse(readRepoFile('deploy/istio/envoyfilter-ratelimit.yaml')) as {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string };
  spec: { workloadSelector?: { labels?: Record<string, string> }; configPatches: Patch[] };
};
const patches = doc.spec.configPatches;
const patchValue = (applyTo: string): Record<string, unknown> =>
  patches.find((p) => p.applyTo === applyTo)!.patch.value!;

/**
 * Problems of a patch value. A MERGE value is a partial message: rules on fields it leaves unset
 * (required, min_len, min_items) are the merged-into object's business, so they are dropped.
 */
function valueProblems({ applyTo, patch }: Patch): string[] {
  const problems = checkEnvoyJson(patch.value, VALUE_TYPES[applyTo]);
  if (patch.operation !== 'MERGE') return problems;
  const set = new Set(Object.keys(patch.value ?? {}));
  return problems.filter((p) => set.has(p.split(/[.:[]/)[0]!));
}

/** The gateway Envoy the patches describe: one HTTP listener with the filter, vhost and cluster. */
function assembledBootstrap(): unknown {
  return {
    static_resources: {
      listeners: [
        {
          name: 'gateway',
          address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': HCM_TYPE,
                    stat_prefix: 'gateway',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'gateway',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }],
                          ...patchValue('VIRTUAL_HOST'),
                        },
                      ],
                    },
                    http_filters: [
                      patchValue('HTTP_FILTER'),
                      { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [patchValue('CLUSTER'), { name: 'backend', type: 'STATIC' }],
    },
  };
}

describe('deploy/istio/envoyfilter-ratelimit.yaml', () => {
  it('is an EnvoyFilter of networking.istio.io/v1alpha3 for the ingress gateway', () => {
    expect(doc).toMatchObject({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter' });
    expect(doc.metadata.name).toBeTruthy();
    expect(doc.spec.workloadSelector?.labels).toEqual({ istio: 'ingressgateway' });
    expect(Object.keys(doc.spec).sort()).toEqual(['configPatches', 'workloadSelector']);
  });

  it("uses only Istio's documented applyTo, context, match fields and operations", () => {
    expect(patches.map((p) => p.applyTo).sort()).toEqual(['CLUSTER', 'HTTP_FILTER', 'VIRTUAL_HOST']);
    for (const p of patches) {
      expect(Object.keys(p).sort(), p.applyTo).toEqual(['applyTo', 'match', 'patch']);
      expect(APPLY_TO.has(p.applyTo), p.applyTo).toBe(true);
      expect(CONTEXTS.has(String(p.match.context)), `${p.applyTo} context`).toBe(true);
      for (const k of Object.keys(p.match)) expect(MATCH_FIELDS.has(k), `${p.applyTo} match.${k}`).toBe(true);
      expect(OPERATIONS.has(p.patch.operation), `${p.applyTo} operation`).toBe(true);
    }
    const filter = patches.find((p) => p.applyTo === 'HTTP_FILTER')!;
    expect(filter.patch.operation, 'the ratelimit filter must run before the router').toBe('INSERT_BEFORE');
    expect(filter.match).toMatchObject({
      listener: { filterChain: { filter: { subFilter: { name: 'envoy.filters.http.router' } } } },
    });
  });

  it.each(patches.map((p) => [p.applyTo, p] as const))(
    '%s patch value passes the strict check against its Envoy message',
    (_name, p) => {
      expect(VALUE_TYPES[p.applyTo]).toBeDefined();
      expect(valueProblems(p)).toEqual([]);
    },
  );

  it('the MERGE filter drops only rules of unset fields (a wrong field is still reported)', () => {
    const bad: Patch = {
      applyTo: 'VIRTUAL_HOST',
      match: {},
      patch: { operation: 'MERGE', value: { rate_limits: [{ actions: [] }], ratelimits: [] } },
    };
    expect(valueProblems(bad)).toHaveLength(2);
  });

  it('assembles into a gateway Envoy that passes the strict check, with a proper ratelimit filter', () => {
    const bootstrap = assembledBootstrap();
    expect(checkEnvoyJson(bootstrap)).toEqual([]);
    const [facts] = rateLimitFilterFacts(bootstrap);
    expect(facts).toMatchObject({
      domain: 'edge',
      transportApiVersion: 'V3',
      clusterSpeaksHttp2: true,
      failureModeDeny: false,
      precedesTerminalRouter: true,
      clusterEndpoints: ['ratelimit.ratelimit.svc.cluster.local:8081'],
    });
    expect(facts!.timeoutNanos! >= 20_000_000n && facts!.timeoutNanos! <= 100_000_000n).toBe(true);
  });

  it('produces only descriptors that envoy/ratelimit-config.yaml limits', () => {
    const produced = producibleDescriptors(assembledBootstrap());
    expect(produced.length).toBe(2);
    const unmatched = matchAll(loadRules('envoy/ratelimit-config.yaml'), produced).filter((m) => !m.rule);
    expect(unmatched.map((m) => show(m.descriptor))).toEqual([]);
  });
});
