import { availableParallelism } from 'node:os';
import { SettingError } from '../../core/errors.js';
import type { KeyFormat } from '../../core/key-layout.js';
import { DEFAULT_OVER_LIMIT_STATUS } from '../../http/auth-request.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../../service/request-validation.js';
import {
  DEFAULT_SERVICE_OPTIONS,
  type ResponseHeaderOptions,
  type ServiceOptions,
} from '../../service/service-options.js';
import { type ConfigLoadSettings, loadConfigLoadSettings } from './config-load-settings.js';
import { type ConnectionSettings, loadConnectionSettings } from './connection-settings.js';
import { loadKeyFormat } from './key-format-settings.js';
import { loadRedisSettings, type RedisSettings } from './redis-settings.js';
import { loadResilienceSettings, type ResilienceSettings } from './resilience-settings.js';
import {
  parseBool,
  parseChoice,
  parseDurationMs,
  parseIntIn,
  parsePort,
  parseRatio,
  parseWorkerCount,
} from './settings-parsers.js';
import { loadSignalSettings, type ReadTextFile, type SignalSettings } from './signal-settings.js';
import { loadStatsSettings, type StatsSettings } from './stats-settings.js';
import { loadTracingSettings, type TracingSettings } from './tracing-settings.js';
import { type GrpcServerTls, loadGrpcServerTls } from './transport-security.js';
import { unsupportedSettingWarnings } from './unsupported-settings.js';
import { type ConfigType, loadConfigType, loadXdsSettings, type XdsSettings } from './xds-settings.js';

export type BackendType = 'memory' | 'redis';
export type LogFormat = 'json' | 'text';

/**
 * Everything the service is configured with, from env vars named as in
 * envoyproxy/ratelimit (src/settings/settings.go) and CLI flags; a flag beats the env var.
 */
export interface Settings {
  readonly grpcHost: string;
  readonly grpcPort: number;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly debugHost: string;
  readonly debugPort: number;
  /**
   * Files or directories to load: from --config, else the one directory
   * RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY (defaults `/srv/runtime_data/current`,
   * empty, `config`; empty parts dropped).
   *
   * Both modes of the reference's RUNTIME_WATCH_ROOT load the files of that directory:
   * - `false` (directory mode): goruntime's root is `ROOT/SUBDIRECTORY` and its
   *   subdirectory `APPDIRECTORY` — the same directory.
   * - `true` (symlink-swap mode): goruntime walks `ROOT/SUBDIRECTORY` and keeps keys starting
   *   with `APPDIRECTORY.`, i.e. the files under `APPDIRECTORY`.
   *
   * The flag therefore does not change what loads, only what the reference watches; our
   * `ConfigSource` watches both ways at once (the directories, and the parent of every
   * symlink on the path to them, so `ln -s new tmp && mv -T tmp current` on RUNTIME_ROOT is
   * seen). Deliberate differences: with `RUNTIME_WATCH_ROOT=true` and an empty subdirectory
   * the reference loads nothing (goruntime's "nil loader"), we load the directory; its key
   * prefix quirk (a file `ROOT/SUBDIRECTORY/config.x.yaml` also matching `config.`) is not
   * reproduced.
   */
  readonly configPaths: readonly string[];
  /** CONFIG_TYPE: FILE (default, `configPaths`) or GRPC_XDS_SOTW (pushed by an xDS server, docs/xds.md). */
  readonly configType: ConfigType;
  /** Set exactly when `configType` is GRPC_XDS_SOTW (CONFIG_GRPC_XDS_*, XDS_CLIENT_*). */
  readonly xds: XdsSettings | undefined;
  readonly runtimeIgnoreDotfiles: boolean;
  readonly mergeDomainConfig: boolean;
  readonly forceStartWithoutInitialConfig: boolean;
  /** HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED (false): health also waits for a config with a domain. */
  readonly healthyWithAtLeastOneConfigLoaded: boolean;
  /**
   * --backend / BACKEND_TYPE; when neither is given, redis if REDIS_URL is set,
   * else memory (the reference defaults to redis; we start without one).
   */
  readonly backend: BackendType;
  /** Set exactly when `backend` is 'redis'. */
  readonly redis: RedisSettings | undefined;
  /** FAILURE_MODE, BACKEND_TIMEOUT, circuit breaker, local over-limit cache. */
  readonly resilience: ResilienceSettings;
  /** OpenTelemetry tracing (TRACING_*, OTEL_EXPORTER_OTLP_*); off by default. */
  readonly tracing: TracingSettings;
  /** statsd / DogStatsD push (USE_STATSD, STATSD_*, USE_DOG_STATSD, EXTRA_TAGS, STATS_FLUSH_INTERVAL). */
  readonly stats: StatsSettings;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  readonly shadowMode: boolean;
  readonly quotaMode: boolean;
  readonly nearLimitRatio: number;
  readonly cacheKeyPrefix: string;
  /** CACHE_KEY_FORMAT: escaped (default) | reference (envoyproxy/ratelimit's keys, for a migration). */
  readonly cacheKeyFormat: KeyFormat;
  readonly stopCacheKeyIncrementWhenOverlimit: boolean;
  /** LIMIT_RESPONSE_HEADERS_ENABLED, LIMIT_LIMIT_HEADER, LIMIT_REMAINING_HEADER, LIMIT_RESET_HEADER. */
  readonly responseHeaders: ResponseHeaderOptions;
  readonly responseDynamicMetadata: boolean;
  /** HTTP status of an over-limit answer on /auth (AUTH_REQUEST_OVER_LIMIT_STATUS): 403 for nginx, 429 for forward-auth gateways. */
  readonly authOverLimitStatus: number;
  /** MAX_DESCRIPTORS_PER_REQUEST, MAX_ENTRIES_PER_DESCRIPTOR, MAX_DESCRIPTOR_KEY_BYTES, MAX_DESCRIPTOR_VALUE_BYTES, MAX_DOMAIN_BYTES. */
  readonly requestLimits: RequestLimits;
  /** gRPC server keepalive, ms (GRPC_MAX_CONNECTION_AGE / _GRACE). */
  /** GRPC_SERVER_USE_TLS=true: TLS (mutual with GRPC_CLIENT_TLS_CACERT) on the gRPC port; undefined: plaintext. */
  readonly grpcTls: GrpcServerTls | undefined;
  readonly grpcMaxConnectionAgeMs: number;
  readonly grpcMaxConnectionAgeGraceMs: number;
  /** Per-port connection caps, handshake and idle timeouts, HTTP/2 streams, header sizes (connection-settings.ts). */
  readonly connections: ConnectionSettings;
  /** How long in-flight calls may run after SIGTERM before connections are cut. */
  readonly shutdownGraceMs: number;
  /** Debounce of config file events before a reload. */
  readonly configReloadDebounceMs: number;
  /** CONFIG_MAX_* limits and the loader thread's CONFIG_LOAD_TIMEOUT / CONFIG_LOAD_MAX_HEAP. */
  readonly configLoad: ConfigLoadSettings;
  /**
   * Processes serving the ports (--workers / WORKERS, default 1; 0 or auto =
   * one per CPU). Above 1 a primary forks that many workers (node:cluster);
   * only with a shared backend (redis), see docs/workers.md.
   */
  readonly workers: number;
  /** The adaptive module's inputs: signal API token and bounds, access-log bounds (signal-settings.ts). */
  readonly signals: SignalSettings;
}

/** CLI flags of `serve`; undefined = not given (the env var or default applies). */
export interface SettingFlags {
  readonly config?: readonly string[] | undefined;
  readonly grpcPort?: string | undefined;
  readonly httpPort?: string | undefined;
  readonly debugPort?: string | undefined;
  readonly backend?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly logFormat?: string | undefined;
  readonly forceStartWithoutInitialConfig?: boolean | undefined;
  readonly workers?: string | undefined;
}

/** What the settings need to know about the machine; tests pass their own. */
export interface SystemInfo {
  /** CPUs this process may use (os.availableParallelism()). */
  readonly cpuCount: () => number;
  /** Reads a secret file named by a setting (ADAPTIVE_SIGNAL_TOKEN_FILE); by default fs.readFileSync. */
  readonly readTextFile?: ReadTextFile;
}

const SYSTEM: SystemInfo = { cpuCount: availableParallelism };

export type Env = Readonly<Record<string, string | undefined>>;

/** The service's own defaults (service-options.ts, request-validation.ts): settings only read overrides. */
const SERVICE = DEFAULT_SERVICE_OPTIONS;
const HEADERS = DEFAULT_SERVICE_OPTIONS.responseHeaders;
const LIMITS = DEFAULT_REQUEST_LIMITS;

const LOG_LEVELS = [
  'trace',
  'debug',
  'info',
  'warn',
  'warning',
  'error',
  'fatal',
  'panic',
  'silent',
] as const;

/**
 * Builds Settings from env vars and flags; throws SettingError on a bad value
 * (a TLS file that cannot be read included). Also returns startup warnings.
 */
export function loadSettings(
  env: Env,
  flags: SettingFlags = {},
  system: SystemInfo = SYSTEM,
): { settings: Settings; warnings: string[] } {
  const str = (name: string, fallback: string): string => env[name] ?? fallback;
  const read = <T>(name: string, fallback: T, parse: (name: string, raw: string) => T): T => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : parse(name, raw);
  };
  const flagOr = <T>(
    flag: string | undefined,
    flagName: string,
    fallback: T,
    parse: (n: string, r: string) => T,
  ) => (flag === undefined ? fallback : parse(flagName, flag));
  const bool = (name: string, fallback: boolean) => read(name, fallback, parseBool);

  const runtimeRoot = str('RUNTIME_ROOT', '/srv/runtime_data/current');
  const runtimeSubdirectory = str('RUNTIME_SUBDIRECTORY', '');
  const runtimeAppDirectory = str('RUNTIME_APPDIRECTORY', 'config');
  const configFromFlags = flags.config !== undefined && flags.config.length > 0;
  const backend = parseBackend(flags.backend, env);
  const redisPart = backend === 'redis' ? loadRedisSettings(env) : undefined;
  const keyFormat = loadKeyFormat(env);
  const configType = loadConfigType(env);
  const settings: Settings = {
    grpcHost: str('GRPC_HOST', '0.0.0.0'),
    grpcPort: flagOr(flags.grpcPort, '--grpc-port', read('GRPC_PORT', 8081, parsePort), parsePort),
    httpHost: str('HOST', '0.0.0.0'),
    httpPort: flagOr(flags.httpPort, '--http-port', read('PORT', 8080, parsePort), parsePort),
    debugHost: str('DEBUG_HOST', '0.0.0.0'),
    debugPort: flagOr(flags.debugPort, '--debug-port', read('DEBUG_PORT', 6070, parsePort), parsePort),
    configPaths: configFromFlags
      ? [...(flags.config ?? [])]
      : [joinPath(runtimeRoot, runtimeSubdirectory, runtimeAppDirectory)],
    configType,
    xds: configType === 'GRPC_XDS_SOTW' ? loadXdsSettings(env, system.readTextFile) : undefined,
    runtimeIgnoreDotfiles: bool('RUNTIME_IGNOREDOTFILES', false),
    mergeDomainConfig: bool('MERGE_DOMAIN_CONFIG', false),
    forceStartWithoutInitialConfig:
      flags.forceStartWithoutInitialConfig ?? bool('FORCE_START_WITHOUT_INITIAL_CONFIG', false),
    healthyWithAtLeastOneConfigLoaded: bool('HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED', false),
    backend,
    redis: redisPart?.redis,
    resilience: loadResilienceSettings(env),
    tracing: loadTracingSettings(env),
    stats: loadStatsSettings(env),
    logLevel: normaliseLevel(
      flagOr(flags.logLevel, '--log-level', read('LOG_LEVEL', 'info', levelParser), levelParser),
    ),
    logFormat: flagOr(
      flags.logFormat,
      '--log-format',
      read('LOG_FORMAT', 'json' as LogFormat, formatParser),
      formatParser,
    ),
    shadowMode: bool('SHADOW_MODE', SERVICE.shadowMode),
    quotaMode: bool('QUOTA_MODE', SERVICE.quotaMode),
    nearLimitRatio: read('NEAR_LIMIT_RATIO', 0.8, parseRatio),
    cacheKeyPrefix: str('CACHE_KEY_PREFIX', SERVICE.cacheKeyPrefix),
    cacheKeyFormat: keyFormat.format,
    stopCacheKeyIncrementWhenOverlimit: bool('STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT', false),
    responseHeaders: {
      enabled: bool('LIMIT_RESPONSE_HEADERS_ENABLED', HEADERS.enabled),
      limitHeader: str('LIMIT_LIMIT_HEADER', HEADERS.limitHeader),
      remainingHeader: str('LIMIT_REMAINING_HEADER', HEADERS.remainingHeader),
      resetHeader: str('LIMIT_RESET_HEADER', HEADERS.resetHeader),
    },
    responseDynamicMetadata: bool('RESPONSE_DYNAMIC_METADATA', SERVICE.dynamicMetadata),
    // nginx auth_request only understands 2xx/401/403; 400 means "malformed" on /auth
    authOverLimitStatus: read('AUTH_REQUEST_OVER_LIMIT_STATUS', DEFAULT_OVER_LIMIT_STATUS, (n, r) =>
      parseIntIn(n, r, 401, 499),
    ),
    requestLimits: {
      maxDescriptors: read('MAX_DESCRIPTORS_PER_REQUEST', LIMITS.maxDescriptors, (n, r) =>
        parseIntIn(n, r, 1, 100_000),
      ),
      maxEntries: read('MAX_ENTRIES_PER_DESCRIPTOR', LIMITS.maxEntries, (n, r) =>
        parseIntIn(n, r, 1, 100_000),
      ),
      maxKeyBytes: read('MAX_DESCRIPTOR_KEY_BYTES', LIMITS.maxKeyBytes, (n, r) =>
        parseIntIn(n, r, 1, 1_048_576),
      ),
      maxValueBytes: read('MAX_DESCRIPTOR_VALUE_BYTES', LIMITS.maxValueBytes, (n, r) =>
        parseIntIn(n, r, 1, 1_048_576),
      ),
      maxDomainBytes: read('MAX_DOMAIN_BYTES', LIMITS.maxDomainBytes, (n, r) => parseIntIn(n, r, 1, 65_536)),
    },
    grpcTls: loadGrpcServerTls(env, system.readTextFile),
    grpcMaxConnectionAgeMs: read('GRPC_MAX_CONNECTION_AGE', 86_400_000, parseDurationMs),
    grpcMaxConnectionAgeGraceMs: read('GRPC_MAX_CONNECTION_AGE_GRACE', 3_600_000, parseDurationMs),
    connections: loadConnectionSettings(env),
    shutdownGraceMs: read('SHUTDOWN_GRACE_PERIOD', 10_000, parseDurationMs),
    configReloadDebounceMs: read('CONFIG_RELOAD_DEBOUNCE', 250, parseDurationMs),
    configLoad: loadConfigLoadSettings(env),
    workers: parseWorkers(flags.workers, env, backend, system),
    signals: loadSignalSettings(env, system.readTextFile),
  };
  // RUNTIME_WATCH_ROOT changes nothing here (see Settings.configPaths); it is still parsed so
  // a malformed value fails as it does in the reference
  bool('RUNTIME_WATCH_ROOT', true);
  // read only with xDS config, but a malformed switch fails as in the reference (which parses every setting)
  bool('CONFIG_GRPC_XDS_SERVER_USE_TLS', false);
  const warnings = [
    ...keyFormat.warnings,
    ...(redisPart?.warnings ?? []),
    ...unsupportedSettingWarnings(env, backend, configType),
    ...(configType === 'GRPC_XDS_SOTW' && configFromFlags
      ? ['--config is ignored: CONFIG_TYPE=GRPC_XDS_SOTW takes the config from the xDS management server']
      : []),
  ];
  return { settings, warnings };
}

/** The service's options (its own type) as these settings set them. */
export function serviceOptionsOf(settings: Settings): ServiceOptions {
  return {
    cacheKeyPrefix: settings.cacheKeyPrefix,
    cacheKeyFormat: settings.cacheKeyFormat,
    shadowMode: settings.shadowMode,
    quotaMode: settings.quotaMode,
    responseHeaders: settings.responseHeaders,
    dynamicMetadata: settings.responseDynamicMetadata,
    requestLimits: settings.requestLimits,
  };
}

function parseBackend(flag: string | undefined, env: Env): BackendType {
  const raw = flag ?? env.BACKEND_TYPE;
  const name = flag === undefined ? 'BACKEND_TYPE' : '--backend';
  if (raw === undefined || raw === '') return env.REDIS_URL ? 'redis' : 'memory';
  const choice = parseChoice(name, raw, ['memory', 'redis', 'memcache'] as const);
  if (choice === 'memcache') throw new SettingError(name, raw, 'memory or redis (memcache is not supported)');
  return choice;
}

function parseWorkers(flag: string | undefined, env: Env, backend: BackendType, system: SystemInfo): number {
  const raw = flag ?? env.WORKERS;
  const name = flag === undefined ? 'WORKERS' : '--workers';
  if (raw === undefined || raw === '') return 1;
  const workers = parseWorkerCount(name, raw, system.cpuCount);
  if (workers > 1 && backend === 'memory') {
    // each process would count on its own: N workers would admit up to N times every limit
    const given = String(workers) === raw.trim() ? `${name} ${raw}` : `${name} ${raw} (${workers} workers)`;
    throw new SettingError(
      `${given} cannot be used with the memory backend: it keeps counters inside each process, ` +
        `so each of the ${workers} workers would enforce every limit on its own and the pod would admit ` +
        `up to ${workers}x each limit. Use the redis backend (--backend redis, REDIS_URL) to share ` +
        `counters between workers, or run one worker.`,
    );
  }
  return workers;
}

function levelParser(name: string, raw: string): string {
  return parseChoice(name, raw, LOG_LEVELS);
}

function formatParser(name: string, raw: string): LogFormat {
  return parseChoice(name, raw, ['json', 'text'] as const);
}

/** logrus level names the reference accepts, mapped onto pino's. */
function normaliseLevel(level: string): string {
  if (level === 'warning') return 'warn';
  if (level === 'panic') return 'fatal';
  return level;
}

function joinPath(...parts: string[]): string {
  return parts
    .filter((part) => part !== '')
    .join('/')
    .replace(/\/{2,}/g, '/');
}
