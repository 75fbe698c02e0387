import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings/settings.js';
import { loadXdsSettings } from '../../../src/config/settings/xds-settings.js';
import { backoffDelay } from '../../../src/config/xds/xds-client.js';

describe('xDS settings (the reference names and defaults)', () => {
  it('defaults', () => {
    expect(loadXdsSettings({})).toEqual({
      serverUrl: 'localhost:18000',
      nodeId: 'default',
      nodeMetadata: {},
      additionalHeaders: {},
      connectRetryIntervalMs: 3_000,
      backoff: { initialMs: 10_000, maxMs: 60_000, factor: 0.5, jitter: true },
      maxReceiveMessageBytes: undefined,
      tls: undefined,
    });
  });

  it('reads every setting', () => {
    const files: Record<string, string> = { '/ca': 'CA', '/c': 'CERT', '/k': 'KEY' };
    const xds = loadXdsSettings(
      {
        CONFIG_GRPC_XDS_SERVER_URL: 'eg:18001',
        CONFIG_GRPC_XDS_NODE_ID: 'n1',
        CONFIG_GRPC_XDS_NODE_METADATA: 'a=1,b=x=y',
        CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS: 'authorization:Bearer t,x-a:b',
        CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL: '500ms',
        XDS_CLIENT_BACKOFF_INITIAL_INTERVAL: '1s',
        XDS_CLIENT_BACKOFF_MAX_INTERVAL: '8s',
        XDS_CLIENT_BACKOFF_RANDOM_FACTOR: '2',
        XDS_CLIENT_BACKOFF_JITTER: 'false',
        XDS_CLIENT_MAX_MSG_SIZE_IN_BYTES: '10000000',
        CONFIG_GRPC_XDS_SERVER_USE_TLS: 'true',
        CONFIG_GRPC_XDS_SERVER_TLS_CACERT: '/ca',
        CONFIG_GRPC_XDS_CLIENT_TLS_CERT: '/c',
        CONFIG_GRPC_XDS_CLIENT_TLS_KEY: '/k',
        CONFIG_GRPC_XDS_SERVER_TLS_SAN: 'xds.internal',
      },
      (path) => files[path]!,
    );
    expect(xds).toMatchObject({
      serverUrl: 'eg:18001',
      nodeId: 'n1',
      nodeMetadata: { a: '1', b: 'x=y' },
      additionalHeaders: { authorization: 'Bearer t', 'x-a': 'b' },
      connectRetryIntervalMs: 500,
      backoff: { initialMs: 1_000, maxMs: 8_000, factor: 2, jitter: false },
      maxReceiveMessageBytes: 10_000_000,
    });
    expect(xds.tls?.caCert?.toString()).toBe('CA');
    expect(xds.tls?.clientCert?.toString()).toBe('CERT');
    expect(xds.tls?.clientKey?.toString()).toBe('KEY');
    expect(xds.tls?.serverName).toBe('xds.internal');
  });

  it('refuses what would weaken or break TLS, and malformed values, without quoting headers', () => {
    const on = { CONFIG_GRPC_XDS_SERVER_USE_TLS: 'true' };
    expect(() => loadXdsSettings({ ...on, CONFIG_GRPC_XDS_CLIENT_TLS_CERT: '/c' }, () => 'x')).toThrow(
      /CONFIG_GRPC_XDS_CLIENT_TLS_KEY is not set/,
    );
    expect(() =>
      loadXdsSettings({ ...on, CONFIG_GRPC_XDS_SERVER_TLS_CACERT: '/missing' }, () => {
        throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      }),
    ).toThrow(/CONFIG_GRPC_XDS_SERVER_TLS_CACERT: cannot read '\/missing' \(ENOENT\)/);
    let message = '';
    try {
      loadXdsSettings({ CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS: 'secret-token' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS');
    expect(message).not.toContain('secret-token');
    expect(() => loadXdsSettings({ XDS_CLIENT_BACKOFF_INITIAL_INTERVAL: '2m' })).toThrow(/must not be below/);
  });

  it('CONFIG_TYPE selects the source; xDS settings exist only with GRPC_XDS_SOTW', () => {
    expect(loadSettings({}).settings).toMatchObject({ configType: 'FILE', xds: undefined });
    const { settings, warnings } = loadSettings({
      CONFIG_TYPE: 'GRPC_XDS_SOTW',
      CONFIG_GRPC_XDS_NODE_ID: 'n',
    });
    expect(settings.configType).toBe('GRPC_XDS_SOTW');
    expect(settings.xds?.nodeId).toBe('n');
    expect(warnings).toEqual([]);
    expect(loadSettings({ CONFIG_GRPC_XDS_NODE_ID: 'n' }).warnings).toEqual([
      'CONFIG_GRPC_XDS_NODE_ID is set but ignored: it is read only with CONFIG_TYPE=GRPC_XDS_SOTW',
    ]);
    expect(() => loadSettings({ CONFIG_TYPE: 'XDS' })).toThrow(/CONFIG_TYPE/);
  });
});

describe('reconnect backoff', () => {
  it('grows by the factor up to the cap; a factor below 1 (the default 0.5) stays at the initial interval', () => {
    const grow = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: false };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(grow, n))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    const reference = { initialMs: 10_000, maxMs: 60_000, factor: 0.5, jitter: true };
    expect(backoffDelay(reference, 3, () => 0.9)).toBe(10_000);
    expect(backoffDelay({ ...grow, jitter: true }, 2, () => 0.5)).toBe(250);
  });
});
