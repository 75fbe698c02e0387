// deploy/envoy-gateway/*.yaml: no Envoy Gateway or AI Gateway here, so the resources are checked against
// hand-written structural schemas of their documented fields (gateway-crd-schema.ts), and across files:
// targetRefs/parentRefs name resources of the file, the rate limit image is ours, token costs are charged
// from the AI Gateway's metadata keys.
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import {
  AI_GATEWAY_ROUTE_SPEC,
  BACKEND_TRAFFIC_POLICY_SPEC,
  checkSchema,
  ENVOY_GATEWAY,
} from './gateway-crd-schema.js';
import { readRepoFile } from './ratelimit-rules.js';

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
const resources = (rel: string): Resource[] =>
  parseAllDocuments(readRepoFile(rel)).map((d) => {
    expect(d.errors, rel).toEqual([]);
    return d.toJS() as Resource;
  });
const DIR = 'deploy/envoy-gateway/';
const config = resources(`${DIR}envoy-gateway-config.yaml`);
const policy = resources(`${DIR}backendtrafficpolicy.yaml`);
const ai = resources(`${DIR}ai-gateway-llm-token-limits.yaml`);
const ofKind = (rs: Resource[], kind: string): Resource[] => rs.filter((r) => r.kind === kind);
const envoyGateway = parseYaml(config[0]!.data!['envoy-gateway.yaml']!) as {
  provider: { kubernetes: { rateLimitDeployment: { container: { image: string } } } };
  rateLimit: { backend: { type: string } };
};
interface Rule {
  cost?: {
    request?: { from: string; number?: number };
    response?: { from: string; metadata?: { key: string } };
  };
}
const rulesOf = (r: Resource): Rule[] =>
  ((r.spec!.rateLimit as { global: { rules: Rule[] } }).global.rules ?? []) as Rule[];

/** Each targetRefs/parentRefs entry of `from` names a resource of `within` of that kind. */
function danglingRefs(from: Resource[], within: Resource[]): string[] {
  return from.flatMap((r) =>
    [...((r.spec?.targetRefs as unknown[]) ?? []), ...((r.spec?.parentRefs as unknown[]) ?? [])]
      .map((ref) => ref as { kind?: string; name: string })
      .filter(
        (ref) => !within.some((t) => t.kind === (ref.kind ?? 'Gateway') && t.metadata.name === ref.name),
      )
      .map((ref) => `${r.kind}/${r.metadata.name} -> ${ref.kind}/${ref.name}`),
  );
}

describe('deploy/envoy-gateway/envoy-gateway-config.yaml', () => {
  it('is the envoy-gateway-config ConfigMap whose envoy-gateway.yaml fits the EnvoyGateway schema', () => {
    expect(config).toHaveLength(1);
    expect(config[0]).toMatchObject({
      kind: 'ConfigMap',
      metadata: { name: 'envoy-gateway-config', namespace: 'envoy-gateway-system' },
    });
    expect(checkSchema(envoyGateway, ENVOY_GATEWAY)).toEqual([]);
    expect(envoyGateway.rateLimit.backend.type).toBe('Redis');
  });

  it('runs our image (as deploy/kubernetes names it), which provides the /bin/ratelimit Envoy Gateway runs', () => {
    const image = envoyGateway.provider.kubernetes.rateLimitDeployment.container.image;
    expect(image).not.toMatch(/envoyproxy\/ratelimit/);
    // the image and tag deploy/kubernetes/base/kustomization.yaml sets
    const base = parseYaml(readRepoFile('deploy/kubernetes/base/kustomization.yaml')) as {
      images: { name: string; newTag: string }[];
    };
    expect(base.images.map((i) => `${i.name}:${i.newTag}`)).toContain(image);
    expect(readRepoFile('deploy/docker/Dockerfile')).toMatch(
      /^COPY deploy\/docker\/ratelimit \/bin\/ratelimit$/m,
    );
    expect(readRepoFile('deploy/docker/ratelimit')).toMatch(/^exec node \/app\/dist\/cli\.js serve "\$@"$/m);
  });

  it('the schema rejects an unknown field and a wrong enum value', () => {
    const bad = {
      ...envoyGateway,
      rateLimit: { backend: { type: 'Memcache', redis: { url: 'x' } }, extra: 1 },
    };
    expect(checkSchema(bad, ENVOY_GATEWAY)).toEqual([
      "rateLimit.backend.type: 'Memcache' is not one of Redis",
      "rateLimit.extra: unknown field 'extra'",
    ]);
  });
});

describe('deploy/envoy-gateway/backendtrafficpolicy.yaml', () => {
  it('has a Global BackendTrafficPolicy fitting the schema, with header and source CIDR selectors', () => {
    const [btp] = ofKind(policy, 'BackendTrafficPolicy');
    expect(btp!.apiVersion).toBe('gateway.envoyproxy.io/v1alpha1');
    expect(checkSchema(btp!.spec, BACKEND_TRAFFIC_POLICY_SPEC)).toEqual([]);
    expect(btp!.spec!.rateLimit).toMatchObject({ type: 'Global' });
    const text = JSON.stringify(btp!.spec);
    expect(text).toContain('"headers"');
    expect(text).toContain('"sourceCIDR"');
  });

  it('targets a route of the same file', () => {
    expect(danglingRefs(ofKind(policy, 'BackendTrafficPolicy'), policy)).toEqual([]);
  });
});

describe('deploy/envoy-gateway/ai-gateway-llm-token-limits.yaml', () => {
  const [route] = ofKind(ai, 'AIGatewayRoute');
  const [btp] = ofKind(ai, 'BackendTrafficPolicy');

  it('has an AIGatewayRoute with llmRequestCosts and a BackendTrafficPolicy, both fitting their schemas', () => {
    expect(route!.apiVersion).toBe('aigateway.envoyproxy.io/v1alpha1');
    expect(checkSchema(route!.spec, AI_GATEWAY_ROUTE_SPEC)).toEqual([]);
    expect(checkSchema(btp!.spec, BACKEND_TRAFFIC_POLICY_SPEC)).toEqual([]);
  });

  it('charges each rule the tokens of a metadata key the route records, checking only on the request', () => {
    const keys = (route!.spec!.llmRequestCosts as { metadataKey: string }[]).map((c) => c.metadataKey);
    const rules = rulesOf(btp!);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.cost?.request).toEqual({ from: 'Number', number: 0 });
      expect(rule.cost?.response).toMatchObject({
        from: 'Metadata',
        metadata: { namespace: 'io.envoy.ai_gateway' },
      });
      expect(keys).toContain(rule.cost!.response!.metadata!.key);
    }
  });

  it('the route and the policy refer to the Gateway of the same file', () => {
    expect(danglingRefs([route!, btp!], ai)).toEqual([]);
  });
});
