// A small structural schema for the Envoy Gateway / AI Gateway resources we ship (no CRD schemas here):
// objects with known fields (unknown ones rejected), required fields, string enums, integers, lists.
// Built by hand from the documented fields:
//   https://gateway.envoyproxy.io/docs/api/extension_types/  (EnvoyGateway, BackendTrafficPolicy, ...)
//   https://aigateway.envoyproxy.io/docs/api/                (AIGatewayRoute, LLMRequestCost)
export type Schema =
  | { obj: Record<string, Schema>; required?: string[]; open?: boolean }
  | { str: true; oneOf?: string[] }
  | { int: true; min?: number }
  | { list: Schema; minItems?: number }
  | { any: true };

export const str = (oneOf?: string[]): Schema => (oneOf ? { str: true, oneOf } : { str: true });
export const int = (min?: number): Schema => (min === undefined ? { int: true } : { int: true, min });
export const list = (items: Schema, minItems = 0): Schema => ({ list: items, minItems });
export const obj = (fields: Record<string, Schema>, required: string[] = []): Schema => ({
  obj: fields,
  required,
});
/** Kubernetes-owned parts (metadata, core resources) are not checked here. */
export const ANY: Schema = { any: true };

/** Problems of `value` against `schema`, as "<path>: message". */
export function checkSchema(value: unknown, schema: Schema, path = ''): string[] {
  const at = path || '<root>';
  if ('any' in schema) return [];
  if ('str' in schema) {
    if (typeof value !== 'string') return [`${at}: expected a string, got ${JSON.stringify(value)}`];
    return schema.oneOf && !schema.oneOf.includes(value)
      ? [`${at}: '${value}' is not one of ${schema.oneOf.join(', ')}`]
      : [];
  }
  if ('int' in schema) {
    if (!Number.isInteger(value)) return [`${at}: expected an integer, got ${JSON.stringify(value)}`];
    return schema.min !== undefined && (value as number) < schema.min
      ? [`${at}: must be >= ${schema.min}`]
      : [];
  }
  if ('list' in schema) {
    if (!Array.isArray(value)) return [`${at}: expected a list`];
    const size = value.length < (schema.minItems ?? 0) ? [`${at}: needs >= ${schema.minItems} items`] : [];
    return [...size, ...value.flatMap((v, i) => checkSchema(v, schema.list, `${path}[${i}]`))];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return [`${at}: expected an object`];
  const v = value as Record<string, unknown>;
  return [
    ...(schema.required ?? []).filter((k) => v[k] === undefined).map((k) => `${at}: '${k}' is required`),
    ...Object.entries(v).flatMap(([k, item]) => {
      const field = schema.obj[k];
      const p = path ? `${path}.${k}` : k;
      if (field) return checkSchema(item, field, p);
      return schema.open ? [] : [`${p}: unknown field '${k}'`];
    }),
  ];
}

// --- Envoy Gateway (gateway.envoyproxy.io/v1alpha1) ---
const UNITS = ['Second', 'Minute', 'Hour', 'Day', 'Month', 'Year'];
const targetRef = obj({ group: str(), kind: str(), name: str(), sectionName: str() }, [
  'group',
  'kind',
  'name',
]);
const headerMatch = obj(
  { name: str(), type: str(['Exact', 'RegularExpression', 'Distinct']), value: str(), invert: ANY },
  ['name'],
);
const sourceMatch = obj({ type: str(['Exact', 'Distinct']), value: str() }, ['value']);
const costSpecifier = obj(
  {
    from: str(['Number', 'Metadata']),
    number: int(0),
    metadata: obj({ namespace: str(), key: str() }, ['namespace', 'key']),
  },
  ['from'],
);
const rateLimitRule = obj(
  {
    clientSelectors: list(
      obj({ headers: list(headerMatch), sourceCIDR: sourceMatch, methods: ANY, path: ANY }),
    ),
    limit: obj({ requests: int(0), unit: str(UNITS) }, ['requests', 'unit']),
    cost: obj({ request: costSpecifier, response: costSpecifier }),
    shared: ANY,
    shadowMode: ANY,
  },
  ['limit'],
);
export const BACKEND_TRAFFIC_POLICY_SPEC = obj(
  {
    targetRefs: list(targetRef, 1),
    rateLimit: obj(
      {
        type: str(['Global', 'Local']),
        global: obj({ rules: list(rateLimitRule, 1), shared: ANY }, ['rules']),
        local: ANY,
      },
      ['type'],
    ),
  },
  ['targetRefs'],
);

const kubernetesDeployment = obj({
  replicas: int(0),
  container: obj({ image: str(), imageRepository: str(), env: ANY, resources: ANY, securityContext: ANY }),
  patch: ANY,
  pod: ANY,
  strategy: ANY,
  name: str(),
  initContainers: ANY,
});
export const ENVOY_GATEWAY = obj(
  {
    apiVersion: str(['gateway.envoyproxy.io/v1alpha1']),
    kind: str(['EnvoyGateway']),
    gateway: obj({ controllerName: str() }),
    logging: ANY,
    admin: ANY,
    telemetry: ANY,
    extensionApis: ANY,
    provider: obj(
      {
        type: str(['Kubernetes', 'Custom']),
        kubernetes: obj({
          rateLimitDeployment: kubernetesDeployment,
          rateLimitHpa: ANY,
          deploy: ANY,
          watch: ANY,
        }),
      },
      ['type'],
    ),
    rateLimit: obj(
      {
        backend: obj({ type: str(['Redis']), redis: obj({ url: str(), tls: ANY }, ['url']) }, [
          'type',
          'redis',
        ]),
        timeout: str(),
        failClosed: ANY,
        telemetry: ANY,
      },
      ['backend'],
    ),
  },
  ['apiVersion', 'kind', 'provider', 'rateLimit'],
);

// --- Envoy AI Gateway (aigateway.envoyproxy.io/v1alpha1) ---
export const AI_GATEWAY_ROUTE_SPEC = obj(
  {
    parentRefs: list(obj({ name: str(), kind: str(), group: str(), namespace: str() }, ['name']), 1),
    rules: list(
      obj({ matches: ANY, backendRefs: list(obj({ name: str() }, ['name']), 1), timeouts: ANY }),
      1,
    ),
    llmRequestCosts: list(
      obj(
        {
          metadataKey: str(),
          type: str([
            'InputToken',
            'CachedInputToken',
            'CachedWriteInputToken',
            'OutputToken',
            'TotalToken',
            'CEL',
          ]),
          cel: str(),
        },
        ['metadataKey', 'type'],
      ),
      1,
    ),
    filterConfig: ANY,
  },
  ['parentRefs', 'rules'],
);
