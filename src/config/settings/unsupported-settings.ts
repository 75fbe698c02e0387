import { GRPC_SERVER_TLS_COMPANIONS, UNREAD_CA_SETTING } from './transport-security.js';

/**
 * Env vars of envoyproxy/ratelimit this version does not implement yet. Each
 * one that is set is reported at startup (never silently ignored); the reason
 * says what happens instead.
 */
const NOT_YET: ReadonlyArray<readonly [prefixOrName: string, reason: string]> = [
  ['MEMCACHE_', 'the Memcached backend is not supported'],
  ['GRPC_UDS', 'listening on a Unix socket is not supported'],
  [
    'USE_DOG_STATSD_MOGRIFIERS',
    'DogStatsD mogrifiers are not supported: stats keep their reference names, EXTRA_TAGS as tags (docs/metrics.md)',
  ],
  ['DOG_STATSD_', 'DogStatsD mogrifiers are not supported'],
  [
    'USE_PROMETHEUS',
    'Prometheus metrics are always served at /metrics on the HTTP port (PORT), not on PROMETHEUS_ADDR',
  ],
  ['PROMETHEUS_', 'Prometheus metrics are always served at /metrics on the HTTP port'],
];

/** Set but meaningless here or deprecated upstream; accepted silently for drop-in manifests. */
const ACCEPTED = new Set([
  'REDIS_POOL_ON_EMPTY_WAIT_DURATION',
  'REDIS_PERSECOND_POOL_ON_EMPTY_WAIT_DURATION',
  'CONFIG_TYPE',
]);

/** xDS client settings: read only with CONFIG_TYPE=GRPC_XDS_SOTW. */
const XDS_ONLY = ['CONFIG_GRPC_XDS_', 'XDS_CLIENT_'];

/** xDS TLS files and name: read only with CONFIG_GRPC_XDS_SERVER_USE_TLS=true (as in the reference). */
const XDS_TLS_ONLY = [
  'CONFIG_GRPC_XDS_CLIENT_TLS_CERT',
  'CONFIG_GRPC_XDS_CLIENT_TLS_KEY',
  'CONFIG_GRPC_XDS_SERVER_TLS_CACERT',
  'CONFIG_GRPC_XDS_SERVER_TLS_SAN',
];

/** Redis-only settings: read with the redis backend, reported as ignored with the memory backend. */
const REDIS_ONLY = ['REDIS_', 'EXPIRATION_JITTER_MAX_SECONDS'];

/**
 * One warning per reference env var that is set but not supported, and, with
 * the memory backend, per Redis setting that is set but ignored. Values are
 * never quoted (REDIS_AUTH and URLs carry secrets).
 */
export function unsupportedSettingWarnings(
  env: Readonly<Record<string, string | undefined>>,
  backend: 'memory' | 'redis' = 'memory',
  configType: 'FILE' | 'GRPC_XDS_SOTW' = 'FILE',
): string[] {
  const warnings: string[] = [];
  const grpcTls = isTrue(env.GRPC_SERVER_USE_TLS);
  const xdsTls = configType === 'GRPC_XDS_SOTW' && isTrue(env.CONFIG_GRPC_XDS_SERVER_USE_TLS);
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || ACCEPTED.has(name) || ACCEPTED.has(`${name}=${value}`)) continue;
    if (XDS_ONLY.some((prefix) => name.startsWith(prefix))) {
      // an empty value means unset; the TLS switch off asks for nothing
      if (value === '' || (name === 'CONFIG_GRPC_XDS_SERVER_USE_TLS' && !isTrue(value))) continue;
      if (configType !== 'GRPC_XDS_SOTW') {
        warnings.push(`${name} is set but ignored: it is read only with CONFIG_TYPE=GRPC_XDS_SOTW`);
      } else if (XDS_TLS_ONLY.includes(name) && !xdsTls && value !== '') {
        warnings.push(
          `${name} is set but ignored: it is read only with CONFIG_GRPC_XDS_SERVER_USE_TLS=true (as in the reference)`,
        );
      }
      continue;
    }
    if (backend === 'memory' && REDIS_ONLY.some((prefix) => name.startsWith(prefix))) {
      warnings.push(
        `${name} is set but ignored: the backend is memory (set BACKEND_TYPE=redis to use Redis)`,
      );
      continue;
    }
    if (GRPC_SERVER_TLS_COMPANIONS.includes(name)) {
      if (!grpcTls && value !== '') {
        warnings.push(
          `${name} is set but ignored: it is read only with GRPC_SERVER_USE_TLS=true (as in the reference)`,
        );
      }
      continue;
    }
    if (name === UNREAD_CA_SETTING && value !== '') {
      warnings.push(
        `${name} is set but ignored: the reference does not read it either; client certificates are ` +
          'required and verified only with GRPC_CLIENT_TLS_CACERT',
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

/** A Go bool spelling of true (a malformed value is refused by the settings that read it). */
function isTrue(raw: string | undefined): boolean {
  return raw !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw);
}
