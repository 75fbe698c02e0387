/**
 * REDIS_* settings with envoyproxy/ratelimit's names, formats and defaults (its
 * src/settings/settings.go, read by src/redis/driver_impl.go for deployment types,
 * TLS and auth, and src/redis/fixed_cache_impl.go for pipelining and the
 * per-second split). Parsing only: redis-connection.ts turns these
 * into ioredis clients. No secret (REDIS_AUTH, a URL's password) ever appears
 * in an error message or in `describeRedisEndpoint`.
 */
import { SettingError } from '../../core/errors.js';
import { parseBool, parseChoice, parseDurationMs, parseIntIn } from './settings-parsers.js';

type Env = Readonly<Record<string, string | undefined>>;

export type RedisType = 'single' | 'sentinel' | 'cluster';
export type RedisSocketType = 'unix' | 'tcp';
export type RedisAddress = { readonly host: string; readonly port: number } | { readonly path: string };

export interface RedisCredentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** One Redis deployment: the main one (REDIS_*) or the per-second one (REDIS_PERSECOND_*). */
export interface RedisEndpoint {
  /** Env var prefix it was read from, for logs: 'REDIS_' or 'REDIS_PERSECOND_'. */
  readonly prefix: string;
  readonly type: RedisType;
  /** 'unix' when `nodes` is a socket path; always 'tcp' for sentinel and cluster. */
  readonly socketType: RedisSocketType;
  /** single: one address; sentinel: the sentinels; cluster: the startup nodes. */
  readonly nodes: readonly RedisAddress[];
  /** sentinel only: the monitored master's name (first item of REDIS_URL). */
  readonly masterName: string | undefined;
  /** From a `redis://host/db` URL; 0 otherwise (cluster: always 0). */
  readonly db: number;
  readonly auth: RedisCredentials;
  readonly sentinelAuth: RedisCredentials;
  /** REDIS_TLS, or a `rediss://` URL. */
  readonly tls: boolean;
  /**
   * REDIS_POOL_SIZE (10). Validated, not used: ioredis multiplexes every
   * command over one connection per node with auto-pipelining, which is what
   * the reference's pool of 10 approximates.
   */
  readonly poolSize: number;
  /** REDIS_TIMEOUT (10s) in ms: per-command timeout, and connect timeout (at least 1 s); 0 = none. */
  readonly timeoutMs: number;
  /**
   * REDIS_PIPELINE_WINDOW (0) in ms and REDIS_PIPELINE_LIMIT (0, deprecated
   * upstream). Accepted, not used: ioredis auto-pipelining (always on) sends
   * every command issued in one event-loop tick as one write, which is the
   * reference's implicit pipelining with a window of "one tick" and no limit.
   */
  readonly pipelineWindowMs: number;
  readonly pipelineLimit: number;
  /**
   * REDIS_CLUSTER_PIPELINE_PARALLELISM (1). Accepted, not used: ioredis sends
   * to every cluster node in parallel.
   */
  readonly clusterPipelineParallelism: number;
}

export interface RedisTlsFiles {
  /** Paths of PEM files shared by both endpoints (REDIS_TLS_CLIENT_CERT / _KEY / REDIS_TLS_CACERT). */
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
  readonly caCert: string | undefined;
  readonly skipHostnameVerification: boolean;
}

export interface RedisSettings {
  readonly main: RedisEndpoint;
  /** Set when REDIS_PERSECOND=true: SECOND-unit limits live there. */
  readonly perSecond: RedisEndpoint | undefined;
  readonly tlsFiles: RedisTlsFiles;
  /** Startup connect backoff, ms (REDIS_STARTUP_INITIAL_INTERVAL 1s, _MAX_INTERVAL 30s, _MAX_ELAPSED_TIME 0 = forever). */
  readonly startup: {
    readonly initialIntervalMs: number;
    readonly maxIntervalMs: number;
    readonly maxElapsedMs: number;
  };
  /** EXPIRATION_JITTER_MAX_SECONDS (300): random extra TTL bound, seconds. */
  readonly expirationJitterMaxSeconds: number;
  /** REDIS_HEALTH_CHECK_ACTIVE_CONNECTION (false): health also drops while the connection is lost. */
  readonly healthCheckActiveConnection: boolean;
}

const DEFAULT_URL: Readonly<Record<string, string>> = {
  REDIS_: '/var/run/nutcracker/ratelimit.sock',
  REDIS_PERSECOND_: '/var/run/nutcracker/ratelimitpersecond.sock',
};

/** Reads every REDIS_* variable; throws SettingError naming the variable. Warnings are for accepted no-ops. */
export function loadRedisSettings(env: Env): { redis: RedisSettings; warnings: string[] } {
  const warnings: string[] = [];
  const read = <T>(name: string, fallback: T, parse: (n: string, r: string) => T): T => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : parse(name, raw);
  };
  const duration = (name: string, fallback: number) => read(name, fallback, parseDurationMs);
  const endpoint = (prefix: string): RedisEndpoint => {
    const type = read(`${prefix}TYPE`, 'single', (n, r) =>
      parseChoice<RedisType>(n, r, ['single', 'sentinel', 'cluster']),
    );
    const socketType = read<RedisSocketType | undefined>(`${prefix}SOCKET_TYPE`, undefined, (n, r) =>
      parseChoice<RedisSocketType>(n, r, ['unix', 'tcp']),
    );
    const url = parseRedisUrl(
      `${prefix}URL`,
      env[`${prefix}URL`] || (DEFAULT_URL[prefix] ?? ''),
      type,
      socketType,
    );
    if (type !== 'single' && socketType === 'unix') {
      throw new SettingError(`${prefix}SOCKET_TYPE`, 'unix', `tcp with ${prefix}TYPE=${type}`);
    }
    const pipelineLimit = read(`${prefix}PIPELINE_LIMIT`, 0, (n, r) => parseIntIn(n, r, 0, 1_000_000));
    if (pipelineLimit > 0) warnings.push(`${prefix}PIPELINE_LIMIT is deprecated upstream and ignored`);
    const onEmpty = read(`${prefix}POOL_ON_EMPTY_BEHAVIOR`, 'wait', (n, r) =>
      parseChoice(n, r, ['wait', 'create', 'error'] as const),
    );
    if (onEmpty !== 'wait') {
      warnings.push(
        `${prefix}POOL_ON_EMPTY_BEHAVIOR=${onEmpty.toUpperCase()} is ignored: there is no pool to run empty`,
      );
    }
    const auth = read(`${prefix}AUTH`, undefined, (_n, r) => splitAuth(r));
    return {
      prefix,
      type,
      socketType: url.nodes.some((node) => 'path' in node) ? 'unix' : 'tcp',
      nodes: url.nodes,
      masterName: url.masterName,
      db: url.db,
      auth: auth ?? url.auth,
      sentinelAuth: read(`${prefix}SENTINEL_AUTH`, {}, (_n, r) => splitAuth(r)),
      tls: read(`${prefix}TLS`, false, parseBool) || url.tls,
      poolSize: read(`${prefix}POOL_SIZE`, 10, (n, r) => parseIntIn(n, r, 1, 100_000)),
      timeoutMs: duration(`${prefix}TIMEOUT`, 10_000),
      pipelineWindowMs: duration(`${prefix}PIPELINE_WINDOW`, 0),
      pipelineLimit,
      clusterPipelineParallelism: read(`${prefix}CLUSTER_PIPELINE_PARALLELISM`, 1, (n, r) =>
        parseIntIn(n, r, 0, 100_000),
      ),
    };
  };
  const file = (name: string) => (env[name] === '' ? undefined : env[name]);
  const redis: RedisSettings = {
    main: endpoint('REDIS_'),
    perSecond: read('REDIS_PERSECOND', false, parseBool) ? endpoint('REDIS_PERSECOND_') : undefined,
    tlsFiles: {
      clientCert: file('REDIS_TLS_CLIENT_CERT'),
      clientKey: file('REDIS_TLS_CLIENT_KEY'),
      caCert: file('REDIS_TLS_CACERT'),
      skipHostnameVerification: read('REDIS_TLS_SKIP_HOSTNAME_VERIFICATION', false, parseBool),
    },
    startup: {
      initialIntervalMs: duration('REDIS_STARTUP_INITIAL_INTERVAL', 1_000),
      maxIntervalMs: duration('REDIS_STARTUP_MAX_INTERVAL', 30_000),
      maxElapsedMs: duration('REDIS_STARTUP_MAX_ELAPSED_TIME', 0),
    },
    expirationJitterMaxSeconds: read('EXPIRATION_JITTER_MAX_SECONDS', 300, (n, r) =>
      parseIntIn(n, r, 0, 31_536_000),
    ),
    healthCheckActiveConnection: read('REDIS_HEALTH_CHECK_ACTIVE_CONNECTION', false, parseBool),
  };
  warnings.push(...unknownNameWarnings(env, redis.perSecond !== undefined));
  if ((redis.tlsFiles.clientCert === undefined) !== (redis.tlsFiles.clientKey === undefined)) {
    throw new SettingError('REDIS_TLS_CLIENT_CERT/REDIS_TLS_CLIENT_KEY', 'only one set', 'both or neither');
  }
  return { redis, warnings };
}

const ENDPOINT_NAMES = (
  'TYPE SOCKET_TYPE URL AUTH SENTINEL_AUTH TLS POOL_SIZE TIMEOUT PIPELINE_WINDOW PIPELINE_LIMIT ' +
  'CLUSTER_PIPELINE_PARALLELISM POOL_ON_EMPTY_BEHAVIOR POOL_ON_EMPTY_WAIT_DURATION'
).split(' ');
const GLOBAL_NAMES = new Set([
  ...ENDPOINT_NAMES.map((suffix) => `REDIS_${suffix}`),
  ...['PERSECOND', 'TLS_CLIENT_CERT', 'TLS_CLIENT_KEY', 'TLS_CACERT', 'TLS_SKIP_HOSTNAME_VERIFICATION'].map(
    (suffix) => `REDIS_${suffix}`,
  ),
  ...['STARTUP_INITIAL_INTERVAL', 'STARTUP_MAX_INTERVAL', 'STARTUP_MAX_ELAPSED_TIME'].map(
    (s) => `REDIS_${s}`,
  ),
  'REDIS_HEALTH_CHECK_ACTIVE_CONNECTION',
]);
const PER_SECOND_NAMES = new Set(ENDPOINT_NAMES.map((suffix) => `REDIS_PERSECOND_${suffix}`));

/** A misspelt REDIS_* name, or REDIS_PERSECOND_* without REDIS_PERSECOND=true, is reported, not ignored silently. */
function unknownNameWarnings(env: Env, perSecond: boolean): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('REDIS_') || env[name] === undefined || GLOBAL_NAMES.has(name)) continue;
    if (!PER_SECOND_NAMES.has(name)) warnings.push(`${name} is set but is not a known Redis setting`);
    else if (!perSecond) warnings.push(`${name} is set but ignored: REDIS_PERSECOND is not true`);
  }
  return warnings;
}

/** `password` or `user:password`, split at the first ':' (reference behaviour); '' user = none. */
export function splitAuth(raw: string): RedisCredentials {
  const colon = raw.indexOf(':');
  if (colon < 0) return { password: raw };
  const username = raw.slice(0, colon);
  return { username: username === '' ? undefined : username, password: raw.slice(colon + 1) };
}

interface ParsedUrl {
  readonly nodes: RedisAddress[];
  readonly masterName: string | undefined;
  readonly db: number;
  readonly auth: RedisCredentials;
  readonly tls: boolean;
}

/**
 * REDIS_URL: single `host:port` or a socket path; sentinel
 * `masterName,host:port,host:port…`; cluster `host:port,host:port…`. Any
 * address may also be `redis://[user:pass@]host[:port][/db]` (`rediss://` = TLS).
 * A socket path is used when REDIS_SOCKET_TYPE=unix, or when it is unset and
 * the value starts with '/' (the reference defaults to unix; we infer it so a
 * bare `REDIS_URL=redis:6379` just works).
 */
function parseRedisUrl(
  name: string,
  raw: string,
  type: RedisType,
  socketType: RedisSocketType | undefined,
): ParsedUrl {
  const fail = (expected: string): never => {
    throw new SettingError(name, redactUrl(raw), expected);
  };
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) fail('no empty items in the comma-separated list');
  let masterName: string | undefined;
  if (type === 'sentinel') {
    masterName = items.shift();
    if (masterName === undefined || items.length === 0 || /[:/]/.test(masterName)) {
      fail('masterName,host:port[,host:port…] for a sentinel deployment');
    }
  }
  if (type === 'single' && items.length !== 1) {
    fail('one host:port or socket path (a comma list needs REDIS_TYPE=sentinel or cluster)');
  }
  const parsed = items.map((item) => {
    if (/^rediss?:\/\//i.test(item)) return parseUrlItem(item, type === 'sentinel' ? 26_379 : 6_379, fail);
    const unix =
      type === 'single' && (socketType === 'unix' || (socketType === undefined && item.startsWith('/')));
    if (unix) return { address: { path: item }, db: 0, auth: {}, tls: false };
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(item) ?? /^([^:/[\]]+)(?::(\d+))?$/.exec(item);
    if (match === null) return fail('host:port, a socket path, or a redis:// URL');
    const port = match[2] === undefined ? (type === 'sentinel' ? 26_379 : 6_379) : Number(match[2]);
    if (port < 1 || port > 65_535) fail('a port from 1 to 65535');
    return { address: { host: match[1] ?? '', port }, db: 0, auth: {}, tls: false };
  });
  const first = parsed[0];
  const db = first?.db ?? 0;
  if (type === 'cluster' && parsed.some((item) => item.db !== 0))
    fail('no database number (Redis Cluster has only db 0)');
  return {
    nodes: parsed.map((item) => item.address),
    masterName,
    db,
    auth: first?.auth ?? {},
    tls: parsed.some((item) => item.tls),
  };
}

function parseUrlItem(item: string, defaultPort: number, fail: (expected: string) => never) {
  let url: URL;
  try {
    url = new URL(item);
  } catch {
    return fail('a valid redis://[user:pass@]host:port[/db] URL');
  }
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) fail('a database number after the / in the URL');
  const port = url.port === '' ? defaultPort : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') fail('a host in the URL');
  const auth: RedisCredentials =
    url.password === '' && url.username === ''
      ? {}
      : url.password === ''
        ? { password: decodeURIComponent(url.username) } // redis://secret@host: the reference-style single password
        : {
            username: decodeURIComponent(url.username) || undefined,
            password: decodeURIComponent(url.password),
          };
  return { address: { host, port }, db, auth, tls: url.protocol.toLowerCase() === 'rediss:' };
}

/** Hides the credentials of every `scheme://user:pass@` in `text` (up to the last '@' before the next scheme, so ',' '/' '@' in a password are covered). */
export function redactUrl(text: string): string {
  return text.replace(/(\w+:\/\/)(?:(?!\w+:\/\/).)*@/gs, '$1***@');
}

/** One log-safe line: type and addresses, never credentials. */
export function describeRedisEndpoint(endpoint: RedisEndpoint): string {
  const nodes = endpoint.nodes.map((node) => ('path' in node ? node.path : `${node.host}:${node.port}`));
  const master = endpoint.masterName === undefined ? '' : ` master=${endpoint.masterName}`;
  return `${endpoint.type}${master} ${nodes.join(',')}${endpoint.tls ? ' (tls)' : ''}`;
}
