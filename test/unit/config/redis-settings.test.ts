import { describe, expect, it } from 'vitest';
import {
  describeRedisEndpoint,
  loadRedisSettings,
  type RedisSettings,
  redactUrl,
  splitAuth,
} from '../../../src/config/settings/redis-settings.js';
import { loadSettings } from '../../../src/config/settings/settings.js';

function redis(env: Record<string, string>): RedisSettings {
  return loadRedisSettings(env).redis;
}

describe('backend selection', () => {
  it.each([
    ['nothing set', {}, {}, 'memory'],
    ['REDIS_URL alone', { REDIS_URL: 'redis:6379' }, {}, 'redis'],
    ['BACKEND_TYPE=redis', { BACKEND_TYPE: 'redis' }, {}, 'redis'],
    ['BACKEND_TYPE=REDIS', { BACKEND_TYPE: 'REDIS' }, {}, 'redis'],
    ['--backend redis', {}, { backend: 'redis' }, 'redis'],
    ['BACKEND_TYPE=memory with REDIS_URL', { BACKEND_TYPE: 'memory', REDIS_URL: 'redis:6379' }, {}, 'memory'],
    [
      '--backend memory beating BACKEND_TYPE=redis',
      { BACKEND_TYPE: 'redis' },
      { backend: 'memory' },
      'memory',
    ],
  ])('picks the backend from %s', (_name, env, flags, backend) => {
    const { settings } = loadSettings(env, flags);
    expect(settings.backend).toBe(backend);
    expect(settings.redis === undefined).toBe(backend === 'memory');
  });

  it('uses the reference default socket path when redis is named without REDIS_URL', () => {
    const { settings } = loadSettings({ BACKEND_TYPE: 'redis' });
    expect(settings.redis?.main).toMatchObject({
      type: 'single',
      socketType: 'unix',
      nodes: [{ path: '/var/run/nutcracker/ratelimit.sock' }],
    });
  });

  it('reports Redis settings as ignored, without their values, when the backend is memory', () => {
    const { warnings } = loadSettings({
      BACKEND_TYPE: 'memory',
      REDIS_AUTH: 'hunter2',
      EXPIRATION_JITTER_MAX_SECONDS: '5',
    });
    expect(warnings).toEqual([
      'EXPIRATION_JITTER_MAX_SECONDS is set but ignored: the backend is memory (set BACKEND_TYPE=redis to use Redis)',
      'REDIS_AUTH is set but ignored: the backend is memory (set BACKEND_TYPE=redis to use Redis)',
    ]);
  });

  it('does not warn about REDIS_*, EXPIRATION_JITTER_MAX_SECONDS or the local cache with the redis backend', () => {
    const { warnings } = loadSettings({
      REDIS_URL: 'redis:6379',
      REDIS_SOCKET_TYPE: 'tcp',
      REDIS_POOL_SIZE: '20',
      EXPIRATION_JITTER_MAX_SECONDS: '5',
      LOCAL_CACHE_SIZE_IN_BYTES: '1000',
    });
    expect(warnings).toEqual([]);
  });
});

describe('REDIS_URL', () => {
  it.each([
    ['host:port', {}, [{ host: 'redis', port: 6380 }], 'tcp'],
    ['host alone (default port)', {}, [{ host: 'redis', port: 6379 }], 'tcp'],
    ['[IPv6]:port', {}, [{ host: '::1', port: 6379 }], 'tcp'],
    ['a socket path', {}, [{ path: '/run/redis.sock' }], 'unix'],
    [
      'a relative socket path with REDIS_SOCKET_TYPE=unix',
      { REDIS_SOCKET_TYPE: 'unix' },
      [{ path: 'redis.sock' }],
      'unix',
    ],
  ])('reads a single address: %s', (name, extra, nodes, socketType) => {
    const url = {
      'host:port': 'redis:6380',
      'host alone (default port)': 'redis',
      '[IPv6]:port': '[::1]:6379',
      'a socket path': '/run/redis.sock',
      'a relative socket path with REDIS_SOCKET_TYPE=unix': 'redis.sock',
    }[name] as string;
    expect(redis({ REDIS_URL: url, ...extra }).main).toMatchObject({ type: 'single', nodes, socketType });
  });

  it('reads redis:// and rediss:// URLs with credentials and a database', () => {
    expect(redis({ REDIS_URL: 'redis://app:p%40ss@cache:6390/2' }).main).toMatchObject({
      nodes: [{ host: 'cache', port: 6390 }],
      db: 2,
      auth: { username: 'app', password: 'p@ss' },
      tls: false,
    });
    expect(redis({ REDIS_URL: 'rediss://:secret@cache' }).main).toMatchObject({
      nodes: [{ host: 'cache', port: 6379 }],
      auth: { password: 'secret' },
      tls: true,
    });
  });

  it('lets REDIS_AUTH beat the credentials of the URL', () => {
    expect(redis({ REDIS_URL: 'redis://a:b@cache', REDIS_AUTH: 'c:d' }).main.auth).toEqual({
      username: 'c',
      password: 'd',
    });
  });

  it('reads a sentinel list: masterName,host:port,…', () => {
    expect(redis({ REDIS_TYPE: 'SENTINEL', REDIS_URL: 'mymaster, s1:26380 ,s2' }).main).toMatchObject({
      type: 'sentinel',
      masterName: 'mymaster',
      socketType: 'tcp',
      nodes: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
      ],
    });
  });

  it('reads a cluster list: host:port,host:port', () => {
    expect(redis({ REDIS_TYPE: 'Cluster', REDIS_URL: 'n1:7000,n2:7001,redis://n3:7002' }).main).toMatchObject(
      {
        type: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
          { host: 'n3', port: 7002 },
        ],
      },
    );
  });

  it.each([
    [
      { REDIS_URL: 'a:1,b:2' },
      'REDIS_URL: expected one host:port or socket path (a comma list needs REDIS_TYPE=sentinel or cluster)',
    ],
    [{ REDIS_TYPE: 'sentinel', REDIS_URL: 's1:26379' }, 'REDIS_URL: expected masterName,host:port'],
    [{ REDIS_TYPE: 'sentinel', REDIS_URL: 'mymaster' }, 'REDIS_URL: expected masterName,host:port'],
    [{ REDIS_TYPE: 'cluster', REDIS_URL: 'n1:7000,,n2:7001' }, 'REDIS_URL: expected no empty items'],
    [{ REDIS_TYPE: 'cluster', REDIS_URL: 'redis://n1:7000/1' }, 'REDIS_URL: expected no database number'],
    [
      { REDIS_TYPE: 'cluster', REDIS_URL: '/tmp/s.sock' },
      'REDIS_URL: expected host:port, a socket path, or a redis:// URL',
    ],
    [{ REDIS_URL: 'redis:99999' }, 'REDIS_URL: expected a port from 1 to 65535'],
    [{ REDIS_URL: 'redis://cache/x' }, 'REDIS_URL: expected a database number'],
    [
      { REDIS_TYPE: 'cluster', REDIS_SOCKET_TYPE: 'unix', REDIS_URL: 'n1:7000' },
      'REDIS_SOCKET_TYPE: expected tcp with REDIS_TYPE=cluster',
    ],
    [{ REDIS_TYPE: 'replicated' }, "REDIS_TYPE: expected one of single, sentinel, cluster, got 'replicated'"],
    [{ REDIS_SOCKET_TYPE: 'udp' }, 'REDIS_SOCKET_TYPE: expected one of unix, tcp'],
  ])('rejects a bad value naming the variable (%#)', (env, message) => {
    expect(() => redis(env)).toThrow(message);
  });

  it('never shows the password of a URL in an error', () => {
    expect(() => redis({ REDIS_URL: 'redis://u:topsecret@a:1,redis://u:topsecret@b:2' })).toThrow(
      "REDIS_URL: expected one host:port or socket path (a comma list needs REDIS_TYPE=sentinel or cluster), got 'redis://***@a:1,redis://***@b:2'",
    );
    expect(redactUrl('rediss://user:p@ss/w,rd@host:1')).toBe('rediss://***@host:1');
  });
});

describe('REDIS_AUTH and REDIS_SENTINEL_AUTH', () => {
  it.each([
    ['pass', { password: 'pass' }],
    ['user:pass', { username: 'user', password: 'pass' }],
    ['user:pa:ss', { username: 'user', password: 'pa:ss' }],
    [':pass', { username: undefined, password: 'pass' }],
  ])('splits %s at the first colon', (raw, expected) => {
    expect(splitAuth(raw)).toEqual(expected);
  });

  it('reads both for the main and the per-second Redis', () => {
    const settings = redis({
      REDIS_URL: 'm,s:1',
      REDIS_TYPE: 'sentinel',
      REDIS_AUTH: 'a',
      REDIS_SENTINEL_AUTH: 'u:b',
      REDIS_PERSECOND: 'true',
      REDIS_PERSECOND_URL: 'm2,s:2',
      REDIS_PERSECOND_TYPE: 'sentinel',
      REDIS_PERSECOND_AUTH: 'c',
      REDIS_PERSECOND_SENTINEL_AUTH: 'd',
    });
    expect(settings.main).toMatchObject({
      auth: { password: 'a' },
      sentinelAuth: { username: 'u', password: 'b' },
    });
    expect(settings.perSecond).toMatchObject({ auth: { password: 'c' }, sentinelAuth: { password: 'd' } });
  });
});

describe('defaults and the other REDIS_* settings', () => {
  it("uses the reference's defaults", () => {
    const settings = redis({ REDIS_URL: 'redis:6379' });
    expect(settings).toEqual({
      main: {
        prefix: 'REDIS_',
        type: 'single',
        socketType: 'tcp',
        nodes: [{ host: 'redis', port: 6379 }],
        masterName: undefined,
        db: 0,
        auth: {},
        sentinelAuth: {},
        tls: false,
        poolSize: 10,
        timeoutMs: 10_000,
        pipelineWindowMs: 0,
        pipelineLimit: 0,
        clusterPipelineParallelism: 1,
      },
      perSecond: undefined,
      tlsFiles: {
        clientCert: undefined,
        clientKey: undefined,
        caCert: undefined,
        skipHostnameVerification: false,
      },
      startup: { initialIntervalMs: 1_000, maxIntervalMs: 30_000, maxElapsedMs: 0 },
      expirationJitterMaxSeconds: 300,
      healthCheckActiveConnection: false,
    });
  });

  it('reads every setting with its format', () => {
    const settings = redis({
      REDIS_URL: 'redis:6379',
      REDIS_TLS: 'true',
      REDIS_TLS_CLIENT_CERT: '/c.pem',
      REDIS_TLS_CLIENT_KEY: '/k.pem',
      REDIS_TLS_CACERT: '/ca.pem',
      REDIS_TLS_SKIP_HOSTNAME_VERIFICATION: 'true',
      REDIS_POOL_SIZE: '4',
      REDIS_TIMEOUT: '15ms',
      REDIS_PIPELINE_WINDOW: '150us',
      REDIS_CLUSTER_PIPELINE_PARALLELISM: '0',
      REDIS_STARTUP_INITIAL_INTERVAL: '100ms',
      REDIS_STARTUP_MAX_INTERVAL: '2s',
      REDIS_STARTUP_MAX_ELAPSED_TIME: '1m',
      REDIS_HEALTH_CHECK_ACTIVE_CONNECTION: 'true',
      EXPIRATION_JITTER_MAX_SECONDS: '0',
    });
    expect(settings.main).toMatchObject({
      tls: true,
      poolSize: 4,
      timeoutMs: 15,
      pipelineWindowMs: 0.15,
      clusterPipelineParallelism: 0,
    });
    expect(settings.tlsFiles).toEqual({
      clientCert: '/c.pem',
      clientKey: '/k.pem',
      caCert: '/ca.pem',
      skipHostnameVerification: true,
    });
    expect(settings.startup).toEqual({ initialIntervalMs: 100, maxIntervalMs: 2_000, maxElapsedMs: 60_000 });
    expect(settings.expirationJitterMaxSeconds).toBe(0);
    expect(settings.healthCheckActiveConnection).toBe(true);
  });

  it('reads the per-second Redis only with REDIS_PERSECOND=true, with its own defaults', () => {
    expect(redis({ REDIS_URL: 'r:1', REDIS_PERSECOND_URL: 'p:2' }).perSecond).toBeUndefined();
    const settings = redis({
      REDIS_URL: 'r:1',
      REDIS_PERSECOND: 'true',
      REDIS_PERSECOND_TYPE: 'cluster',
      REDIS_PERSECOND_URL: 'p1:7000,p2:7001',
      REDIS_PERSECOND_TLS: 'true',
      REDIS_PERSECOND_POOL_SIZE: '3',
      REDIS_PERSECOND_TIMEOUT: '50ms',
    });
    expect(settings.main).toMatchObject({ type: 'single', tls: false, timeoutMs: 10_000 });
    expect(settings.perSecond).toMatchObject({
      prefix: 'REDIS_PERSECOND_',
      type: 'cluster',
      nodes: [
        { host: 'p1', port: 7000 },
        { host: 'p2', port: 7001 },
      ],
      tls: true,
      poolSize: 3,
      timeoutMs: 50,
    });
    expect(redis({ REDIS_URL: 'r:1', REDIS_PERSECOND: '1' }).perSecond?.nodes).toEqual([
      { path: '/var/run/nutcracker/ratelimitpersecond.sock' },
    ]);
  });

  it.each([
    [{ REDIS_POOL_SIZE: '0' }, 'REDIS_POOL_SIZE: expected an integer from 1'],
    [{ REDIS_TIMEOUT: '10' }, 'REDIS_TIMEOUT: expected a duration'],
    [{ REDIS_TLS: 'yes' }, 'REDIS_TLS: expected true or false'],
    [{ REDIS_PERSECOND: 'on' }, 'REDIS_PERSECOND: expected true or false'],
    [{ REDIS_PERSECOND: 'true', REDIS_PERSECOND_TYPE: 'x' }, 'REDIS_PERSECOND_TYPE: expected one of'],
    [
      { REDIS_PERSECOND: 'true', REDIS_PERSECOND_TIMEOUT: 'x' },
      'REDIS_PERSECOND_TIMEOUT: expected a duration',
    ],
    [{ EXPIRATION_JITTER_MAX_SECONDS: '-1' }, 'EXPIRATION_JITTER_MAX_SECONDS: expected an integer from 0'],
    [{ REDIS_STARTUP_MAX_INTERVAL: 'later' }, 'REDIS_STARTUP_MAX_INTERVAL: expected a duration'],
    [
      { REDIS_POOL_ON_EMPTY_BEHAVIOR: 'block' },
      'REDIS_POOL_ON_EMPTY_BEHAVIOR: expected one of wait, create, error',
    ],
    [
      { REDIS_TLS_CLIENT_CERT: '/c.pem' },
      'REDIS_TLS_CLIENT_CERT/REDIS_TLS_CLIENT_KEY: expected both or neither',
    ],
  ])('rejects a bad value naming the variable (%#)', (env, message) => {
    expect(() => redis({ REDIS_URL: 'r:1', ...env })).toThrow(message);
  });

  it('never puts REDIS_AUTH in an error', () => {
    expect(() => redis({ REDIS_URL: 'a:1,b:2', REDIS_AUTH: 'hunter2' })).toThrow(/^(?!.*hunter2)/s);
  });

  it('warns about accepted no-ops, misspelt names and per-second settings without REDIS_PERSECOND', () => {
    const { warnings } = loadRedisSettings({
      REDIS_URL: 'r:1',
      REDIS_PIPELINE_LIMIT: '8',
      REDIS_POOL_ON_EMPTY_BEHAVIOR: 'CREATE',
      REDIS_POOL_ON_EMPTY_WAIT_DURATION: '1s',
      REDIS_URLS: 'x',
      REDIS_PERSECOND_URL: 'p:1',
    });
    expect(warnings).toEqual([
      'REDIS_PIPELINE_LIMIT is deprecated upstream and ignored',
      'REDIS_POOL_ON_EMPTY_BEHAVIOR=CREATE is ignored: there is no pool to run empty',
      'REDIS_PERSECOND_URL is set but ignored: REDIS_PERSECOND is not true',
      'REDIS_URLS is set but is not a known Redis setting',
    ]);
  });
});

describe('describeRedisEndpoint', () => {
  it('names type and addresses and never credentials', () => {
    const settings = redis({
      REDIS_TYPE: 'sentinel',
      REDIS_URL: 'm,rediss://u:pw@s1:26379,s2:1',
      REDIS_AUTH: 'x:y',
    });
    expect(describeRedisEndpoint(settings.main)).toBe('sentinel master=m s1:26379,s2:1 (tls)');
  });
});
