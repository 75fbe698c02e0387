import { describe, expect, it } from 'vitest';
import { loadSettings, serviceOptionsOf } from '../../../src/config/settings/settings.js';
import { parseDurationMs } from '../../../src/config/settings/settings-parsers.js';
import { DEFAULT_OVER_LIMIT_STATUS } from '../../../src/http/auth-request.js';
import { DEFAULT_SERVICE_OPTIONS } from '../../../src/service/service-options.js';

describe('loadSettings', () => {
  it("uses the reference's defaults when nothing is set", () => {
    const { settings, warnings } = loadSettings({});
    expect(settings).toMatchObject({
      grpcPort: 8081,
      httpPort: 8080,
      debugPort: 6070,
      grpcHost: '0.0.0.0',
      configPaths: ['/srv/runtime_data/current/config'],
      backend: 'memory',
      nearLimitRatio: 0.8,
      responseHeaders: {
        enabled: false,
        limitHeader: 'RateLimit-Limit',
        remainingHeader: 'RateLimit-Remaining',
        resetHeader: 'RateLimit-Reset',
      },
      requestLimits: {
        maxDescriptors: 64,
        maxEntries: 32,
        maxKeyBytes: 256,
        maxValueBytes: 1024,
        maxDomainBytes: 256,
      },
      grpcMaxConnectionAgeMs: 86_400_000,
    });
    expect(warnings).toEqual([]);
  });

  it("leaves the service's options at the service's own defaults when nothing is set", () => {
    const { settings } = loadSettings({});
    expect(serviceOptionsOf(settings)).toEqual(DEFAULT_SERVICE_OPTIONS);
    expect(settings.authOverLimitStatus).toBe(DEFAULT_OVER_LIMIT_STATUS);
  });

  it('hands the service the options its env vars set', () => {
    const { settings } = loadSettings({
      CACHE_KEY_PREFIX: 'p_',
      CACHE_KEY_FORMAT: 'reference',
      SHADOW_MODE: 'true',
      QUOTA_MODE: 'true',
      LIMIT_RESPONSE_HEADERS_ENABLED: 'true',
      LIMIT_LIMIT_HEADER: 'X-L',
      RESPONSE_DYNAMIC_METADATA: 'true',
      MAX_DESCRIPTORS_PER_REQUEST: '5',
      MAX_DOMAIN_BYTES: '64',
    });
    expect(serviceOptionsOf(settings)).toEqual({
      cacheKeyPrefix: 'p_',
      cacheKeyFormat: 'reference',
      shadowMode: true,
      quotaMode: true,
      responseHeaders: { ...DEFAULT_SERVICE_OPTIONS.responseHeaders, enabled: true, limitHeader: 'X-L' },
      dynamicMetadata: true,
      requestLimits: { ...DEFAULT_SERVICE_OPTIONS.requestLimits, maxDescriptors: 5, maxDomainBytes: 64 },
    });
  });

  it('reads the reference env var names', () => {
    const { settings } = loadSettings({
      GRPC_PORT: '9081',
      PORT: '9080',
      DEBUG_PORT: '9070',
      RUNTIME_ROOT: '/data',
      RUNTIME_SUBDIRECTORY: 'ratelimit',
      RUNTIME_APPDIRECTORY: 'config',
      RUNTIME_IGNOREDOTFILES: 'true',
      MERGE_DOMAIN_CONFIG: 'True',
      SHADOW_MODE: '1',
      LIMIT_RESPONSE_HEADERS_ENABLED: 'true',
      LIMIT_RESET_HEADER: 'X-Reset',
      LOG_LEVEL: 'WARNING',
      LOG_FORMAT: 'text',
      GRPC_MAX_CONNECTION_AGE: '1h30m',
    });
    expect(settings).toMatchObject({
      grpcPort: 9081,
      httpPort: 9080,
      debugPort: 9070,
      configPaths: ['/data/ratelimit/config'],
      runtimeIgnoreDotfiles: true,
      mergeDomainConfig: true,
      shadowMode: true,
      logLevel: 'warn',
      logFormat: 'text',
      grpcMaxConnectionAgeMs: 5_400_000,
    });
    expect(settings.responseHeaders).toMatchObject({ enabled: true, resetHeader: 'X-Reset' });
  });

  it('loads the same RUNTIME_* directory whatever RUNTIME_WATCH_ROOT says', () => {
    const env = { RUNTIME_ROOT: '/srv/runtime_data/current', RUNTIME_SUBDIRECTORY: 'ratelimit' };
    for (const watchRoot of ['true', 'false']) {
      expect(loadSettings({ ...env, RUNTIME_WATCH_ROOT: watchRoot }).settings.configPaths).toEqual([
        '/srv/runtime_data/current/ratelimit/config',
      ]);
    }
  });

  it('uses RUNTIME_ROOT itself when subdirectory and app directory are empty', () => {
    const { settings } = loadSettings({ RUNTIME_ROOT: '/etc/rl', RUNTIME_APPDIRECTORY: '' });
    expect(settings.configPaths).toEqual(['/etc/rl']);
  });

  it('lets a flag beat its env var', () => {
    const { settings } = loadSettings(
      { GRPC_PORT: '9081', LOG_LEVEL: 'debug', RUNTIME_ROOT: '/data' },
      { grpcPort: '0', logLevel: 'error', config: ['a.yaml', 'dir'] },
    );
    expect(settings).toMatchObject({ grpcPort: 0, logLevel: 'error', configPaths: ['a.yaml', 'dir'] });
  });

  it.each([
    [{ GRPC_PORT: 'eighty' }, "GRPC_PORT: expected an integer from 0 to 65535, got 'eighty'"],
    [{ PORT: '70000' }, 'PORT: expected an integer from 0 to 65535'],
    [{ SHADOW_MODE: 'yes' }, "SHADOW_MODE: expected true or false, got 'yes'"],
    [{ RUNTIME_WATCH_ROOT: 'yes' }, "RUNTIME_WATCH_ROOT: expected true or false, got 'yes'"],
    [{ NEAR_LIMIT_RATIO: '2' }, 'NEAR_LIMIT_RATIO: expected a number from 0 to 1'],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT: expected one of json, text'],
    [{ GRPC_MAX_CONNECTION_AGE: 'soon' }, 'GRPC_MAX_CONNECTION_AGE: expected a duration'],
    [
      { BACKEND_TYPE: 'memcache' },
      "BACKEND_TYPE: expected memory or redis (memcache is not supported), got 'memcache'",
    ],
    [{ BACKEND_TYPE: 'etcd' }, 'BACKEND_TYPE: expected one of memory, redis, memcache'],
    [
      { AUTH_REQUEST_OVER_LIMIT_STATUS: '400' },
      'AUTH_REQUEST_OVER_LIMIT_STATUS: expected an integer from 401 to 499',
    ],
  ])('rejects a bad value naming the variable (%#)', (env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });

  it('names the flag when a flag value is bad', () => {
    expect(() => loadSettings({}, { httpPort: '-1' })).toThrow(
      "--http-port: expected an integer from 0 to 65535, got '-1'",
    );
  });

  it('warns about each reference env var it does not support, and accepts harmless ones silently', () => {
    const { warnings } = loadSettings({
      BACKEND_TYPE: 'memory',
      REDIS_URL: 'redis:6379',
      USE_STATSD: 'true',
      DOG_STATSD_MOGRIFIER_TENANT_PATTERN: '^x$',
      GRPC_UDS: '/tmp/s',
      USE_STATSD_OFF: undefined,
      CONFIG_TYPE: 'FILE',
      HEALTHY_WITH_AT_LEAST_ONE_CONFIG_LOADED: 'true',
      REDIS_POOL_ON_EMPTY_WAIT_DURATION: '1s',
    });
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^DOG_STATSD_MOGRIFIER_TENANT_PATTERN is set but not supported/);
    expect(warnings[1]).toMatch(/^GRPC_UDS is set but not supported/);
    expect(warnings[2]).toBe(
      'REDIS_URL is set but ignored: the backend is memory (set BACKEND_TYPE=redis to use Redis)',
    );
    // USE_STATSD is implemented now: no warning
  });
});

describe('loadSettings: workers', () => {
  const fourCpus = { cpuCount: () => 4 };
  const redis = { REDIS_URL: 'redis://127.0.0.1:6379' };

  it('runs one process unless told otherwise', () => {
    expect(loadSettings({}).settings.workers).toBe(1);
    expect(loadSettings({ WORKERS: '' }).settings.workers).toBe(1);
  });

  it('reads WORKERS and lets --workers beat it', () => {
    expect(loadSettings({ ...redis, WORKERS: '3' }).settings.workers).toBe(3);
    expect(loadSettings({ ...redis, WORKERS: '3' }, { workers: '2' }).settings.workers).toBe(2);
  });

  it.each(['0', 'auto', 'AUTO'])('starts one worker per CPU for %s', (raw) => {
    expect(loadSettings(redis, { workers: raw }, fourCpus).settings.workers).toBe(4);
  });

  it('allows --workers 1 and auto on one CPU with the memory backend: one process counts alone', () => {
    expect(loadSettings({}, { workers: '1' }).settings).toMatchObject({ workers: 1, backend: 'memory' });
    expect(loadSettings({}, { workers: 'auto' }, { cpuCount: () => 1 }).settings.workers).toBe(1);
  });

  it.each([
    [
      { workers: '-1' },
      "--workers: expected an integer from 1 to 1024, or 0 / auto for one per CPU, got '-1'",
    ],
    [
      { workers: 'many' },
      "--workers: expected an integer from 1 to 1024, or 0 / auto for one per CPU, got 'many'",
    ],
    [{ workers: '1.5' }, '--workers: expected an integer from 1 to 1024'],
    [{ workers: '1025' }, '--workers: expected an integer from 1 to 1024'],
  ])('rejects a bad count (%#)', (flags, message) => {
    expect(() => loadSettings(redis, flags)).toThrow(message);
  });

  it('refuses more than one worker with the memory backend, saying why and what to use', () => {
    expect(() => loadSettings({}, { workers: '2' })).toThrow(
      '--workers 2 cannot be used with the memory backend: it keeps counters inside each process, ' +
        'so each of the 2 workers would enforce every limit on its own and the pod would admit up to 2x ' +
        'each limit. Use the redis backend (--backend redis, REDIS_URL) to share counters between ' +
        'workers, or run one worker.',
    );
    expect(() => loadSettings({ ...redis, BACKEND_TYPE: 'memory', WORKERS: 'auto' }, {}, fourCpus)).toThrow(
      'WORKERS auto (4 workers) cannot be used with the memory backend',
    );
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['10s', 10_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['0', 0],
    ['1.5s', 1_500],
  ])('parses the Go duration %s', (text, ms) => {
    expect(parseDurationMs('X', text)).toBe(ms);
  });
});
