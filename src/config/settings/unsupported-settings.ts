import { SECURITY_COMPANIONS, SECURITY_SWITCH_NAMES } from './transport-security.js';

/**
 * Env vars of envoyproxy/ratelimit this version does not implement yet. Each
 * one that is set is reported at startup (never silently ignored); the reason
 * says what happens instead. Transport security is not here: asking for it
 * stops the start (transport-security.ts).
 */
const NOT_YET: ReadonlyArray<readonly [prefixOrName: string, reason: string]> = [
  ['MEMCACHE_', 'the Memcached backend is not supported'],
  ['CONFIG_TYPE', 'only file config (CONFIG_TYPE=FILE) is supported; xDS config is not'],
  ['CONFIG_GRPC_XDS_', 'xDS config is not supported'],
  ['XDS_CLIENT_', 'xDS config is not supported'],
  ['GRPC_UDS', 'listening on a Unix socket is not supported'],
  ['USE_STATSD', 'statsd is not supported; Prometheus metrics are served at /metrics on the HTTP port'],
  ['STATSD_', 'statsd is not supported'],
  ['USE_DOG_STATSD', 'DogStatsD is not supported'],
  ['DOG_STATSD_', 'DogStatsD is not supported'],
  [
    'USE_PROMETHEUS',
    'Prometheus metrics are always served at /metrics on the HTTP port (PORT), not on PROMETHEUS_ADDR',
  ],
  ['PROMETHEUS_', 'Prometheus metrics are always served at /metrics on the HTTP port'],
  ['EXTRA_TAGS', 'stats tags are not supported'],
  ['STATS_FLUSH_INTERVAL', 'stats are not pushed'],
  ['DISABLE_STATS', 'stats are not pushed'],
];

/** Set but meaningless here or deprecated upstream; accepted silently for drop-in manifests. */
const ACCEPTED = new Set([
  'REDIS_POOL_ON_EMPTY_WAIT_DURATION',
  'REDIS_PERSECOND_POOL_ON_EMPTY_WAIT_DURATION',
  'CONFIG_TYPE=FILE',
  'USE_STATSD=false',
  'DISABLE_STATS=true',
]);

/** Redis-only settings: read with the redis backend, reported as ignored with the memory backend. */
const REDIS_ONLY = ['REDIS_', 'EXPIRATION_JITTER_MAX_SECONDS'];

/**
 * One warning per reference env var that is set but not supported, and, with
 * the memory backend, per Redis setting that is set but ignored. Values are
 * never quoted (REDIS_AUTH and URLs carry secrets). Expects an env that
 * checkTransportSecurity has accepted (the TLS switches are off).
 */
export function unsupportedSettingWarnings(
  env: Readonly<Record<string, string | undefined>>,
  backend: 'memory' | 'redis' = 'memory',
): string[] {
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || ACCEPTED.has(name) || ACCEPTED.has(`${name}=${value}`)) continue;
    if (backend === 'memory' && REDIS_ONLY.some((prefix) => name.startsWith(prefix))) {
      warnings.push(
        `${name} is set but ignored: the backend is memory (set BACKEND_TYPE=redis to use Redis)`,
      );
      continue;
    }
    // true was refused by checkTransportSecurity before this runs; false asks for nothing
    if (SECURITY_SWITCH_NAMES.has(name)) continue;
    const securitySwitch = SECURITY_COMPANIONS.get(name);
    if (securitySwitch !== undefined) {
      warnings.push(
        `${name} is set but ignored: it is read only with ${securitySwitch}=true (as in the reference), ` +
          'which this version refuses: TLS is not implemented yet',
      );
      continue;
    }
    const entry = NOT_YET.find(([prefix]) =>
      prefix.endsWith('_') ? name.startsWith(prefix) : name === prefix,
    );
    if (entry !== undefined) warnings.push(`${name} is set but not supported: ${entry[1]}`);
  }
  return warnings.sort();
}
