// Every descriptor an Envoy config can send to the rate limit service, with the domain it is sent in:
// the HTTP filter's route (and virtual host) rate limit actions, per stage, and the network filter's
// static descriptors. Values Envoy only knows at request time get a representative sample value, so
// that the descriptor can be matched through the service's own RuleSet (config.match).
import { TYPE_URL_PREFIX } from './envoy-proto-root.js';
import {
  connectionManagers,
  NETWORK_RATELIMIT_TYPE,
  pick,
  RATELIMIT_TYPE,
} from './ratelimit-filter-facts.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** A TEST-NET-3 address (RFC 5737): never an exact value of a rule, so it must reach a key-only rule. */
export const SAMPLE_ADDRESS = '203.0.113.7';

export interface ProducedEntry {
  key: string;
  value: string;
  /** True when Envoy fills the value per request/connection (`value` is then a sample). */
  requestTime: boolean;
}

export interface ProducedDescriptor {
  /** Where it comes from: a YAML path. */
  source: string;
  /** The domain of the filter that sends it; undefined when no filter handles its stage. */
  domain: string | undefined;
  entries: ProducedEntry[];
  /** Entries left unexplained (unsupported action): a descriptor with one is a test failure. */
  unsupported: string[];
}

/** The part of a route match a `:path` value always starts with. */
function pathPrefix(match: unknown): string {
  const prefix = pick(match, 'prefix') ?? pick(match, 'path') ?? pick(match, 'path_separated_prefix');
  return typeof prefix === 'string' ? prefix : '/';
}

/** The entry one rate limit action appends (envoy.config.route.v3.RateLimit.Action), or a reason. */
export function actionEntry(action: unknown, routeMatch: unknown): ProducedEntry | string {
  const generic = pick(action, 'generic_key');
  if (generic !== undefined) {
    const key = pick(generic, 'descriptor_key');
    return {
      key: typeof key === 'string' && key ? key : 'generic_key',
      value: String(pick(generic, 'descriptor_value')),
      requestTime: false,
    };
  }
  const headerMatch = pick(action, 'header_value_match');
  if (headerMatch !== undefined) {
    const key = pick(headerMatch, 'descriptor_key');
    return {
      key: typeof key === 'string' && key ? key : 'header_match',
      value: String(pick(headerMatch, 'descriptor_value')),
      requestTime: false,
    };
  }
  if (pick(action, 'remote_address') !== undefined)
    return { key: 'remote_address', value: SAMPLE_ADDRESS, requestTime: true };
  const headers = pick(action, 'request_headers');
  if (headers !== undefined) {
    const name = String(pick(headers, 'header_name')).toLowerCase();
    const value = name === ':path' ? `${pathPrefix(routeMatch)}probe` : `probe-${name.replace(/^:/, '')}`;
    return { key: String(pick(headers, 'descriptor_key')), value, requestTime: true };
  }
  const metadata = pick(action, 'metadata');
  if (metadata !== undefined)
    return { key: String(pick(metadata, 'descriptor_key')), value: 'probe-metadata', requestTime: true };
  return `unsupported action ${JSON.stringify(action)}`;
}

/** Descriptors from a list of envoy.config.route.v3.RateLimit, with the domain of each one's stage. */
export function descriptorsOfRateLimits(
  rateLimits: unknown,
  routeMatch: unknown,
  domainOfStage: (stage: number) => string | undefined,
  source: string,
): ProducedDescriptor[] {
  return list(rateLimits).map((rl, i) => {
    const stage = Number(pick(rl, 'stage') ?? 0);
    const produced = list(pick(rl, 'actions')).map((a) => actionEntry(a, routeMatch));
    return {
      source: `${source}.rate_limits[${i}]`,
      domain: domainOfStage(stage),
      entries: produced.filter((e): e is ProducedEntry => typeof e !== 'string'),
      unsupported: produced.filter((e): e is string => typeof e === 'string'),
    };
  });
}

/** stage -> domain of the HTTP ratelimit filters of one HttpConnectionManager. */
export function stageDomains(httpFilters: unknown): (stage: number) => string | undefined {
  const domains = new Map<number, string>();
  for (const f of list(httpFilters)) {
    const config = pick(f, 'typed_config');
    if (!isObject(config) || config['@type'] !== RATELIMIT_TYPE) continue;
    const stage = Number(pick(config, 'stage') ?? 0);
    if (!domains.has(stage)) domains.set(stage, String(pick(config, 'domain')));
  }
  return (stage) => domains.get(stage);
}

/** Every descriptor of the static listeners of a bootstrap: HTTP route actions and network filters. */
export function producibleDescriptors(bootstrap: unknown): ProducedDescriptor[] {
  const http = connectionManagers(bootstrap).flatMap(({ path, hcm }) => {
    const domainOf = stageDomains(pick(hcm, 'http_filters'));
    return list(pick(pick(hcm, 'route_config'), 'virtual_hosts')).flatMap((vh, v) => {
      const vhPath = `${path}.route_config.virtual_hosts[${v}]`;
      return [
        ...descriptorsOfRateLimits(pick(vh, 'rate_limits'), {}, domainOf, vhPath),
        ...list(pick(vh, 'routes')).flatMap((route, r) =>
          descriptorsOfRateLimits(
            pick(pick(route, 'route'), 'rate_limits'),
            pick(route, 'match'),
            domainOf,
            `${vhPath}.routes[${r}].route`,
          ),
        ),
      ];
    });
  });
  const network = list(pick(pick(bootstrap, 'static_resources'), 'listeners'))
    .flatMap((l) => list(pick(l, 'filter_chains')))
    .flatMap((c) => list(pick(c, 'filters')))
    .map((f) => pick(f, 'typed_config'))
    .filter((t): t is Json => isObject(t) && t['@type'] === NETWORK_RATELIMIT_TYPE)
    .flatMap((t) => networkDescriptors(t));
  return [...http, ...network];
}

/** The static descriptors of a network ratelimit filter; `%...%` values are per-connection formatters. */
export function networkDescriptors(config: Json): ProducedDescriptor[] {
  return list(pick(config, 'descriptors')).map((d, i) => ({
    source: `network ratelimit ${String(pick(config, 'stat_prefix'))}.descriptors[${i}]`,
    domain: String(pick(config, 'domain')),
    entries: list(pick(d, 'entries')).map((e) => {
      const value = String(pick(e, 'value'));
      const requestTime = /%[A-Z_]+(\([^)]*\))?%/.test(value);
      const sample = value.includes('%DOWNSTREAM_REMOTE_ADDRESS') ? SAMPLE_ADDRESS : 'probe-formatted';
      return { key: String(pick(e, 'key')), value: requestTime ? sample : value, requestTime };
    }),
    unsupported: [],
  }));
}

export const SET_FILTER_STATE_TYPE = `${TYPE_URL_PREFIX}envoy.extensions.filters.http.set_filter_state.v3.Config`;
export const HITS_ADDEND_KEY = 'envoy.ratelimit.hits_addend';

/**
 * For each HTTP filter chain: the index of the set_filter_state filter that sets the request's
 * hits_addend, and the indices and stages of its ratelimit filters (to check the cost is set before
 * the token filter and after the per-request one).
 */
export function hitsAddendLayout(bootstrap: unknown): { setAt: number; rateLimits: [number, number][] }[] {
  return connectionManagers(bootstrap).map(({ hcm }) => {
    const configs = list(pick(hcm, 'http_filters')).map((f) => pick(f, 'typed_config'));
    const setAt = configs.findIndex(
      (c) =>
        isObject(c) &&
        c['@type'] === SET_FILTER_STATE_TYPE &&
        list(pick(c, 'on_request_headers')).some((v) => pick(v, 'object_key') === HITS_ADDEND_KEY),
    );
    const rateLimits = configs.flatMap((c, i): [number, number][] =>
      isObject(c) && c['@type'] === RATELIMIT_TYPE ? [[i, Number(pick(c, 'stage') ?? 0)]] : [],
    );
    return { setAt, rateLimits };
  });
}
