import { describe, expect, it } from 'vitest';
import {
  defaultMaxConnections,
  loadConnectionSettings,
  parseOpenFileLimit,
  RESERVED_FILES,
} from '../../../src/config/settings/connection-settings.js';
import { loadSettings } from '../../../src/config/settings/settings.js';
import { SettingError } from '../../../src/core/errors.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63704                63704                processes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('connection settings', () => {
  it('derives per-port caps that stay below a 1024 open-file limit', () => {
    const caps = defaultMaxConnections(1024);
    expect(caps).toEqual({ grpc: 656, http: 224, debug: 16 });
    expect(caps.grpc + caps.http + caps.debug + RESERVED_FILES).toBeLessThanOrEqual(1024);
  });

  it('assumes 1024 when the limit is unknown, and stops growing at a cap for large limits', () => {
    expect(defaultMaxConnections(undefined)).toEqual(defaultMaxConnections(1024));
    expect(defaultMaxConnections(1_048_576)).toEqual({ grpc: 16_384, http: 4_096, debug: 16 });
  });

  it('reads the soft "Max open files" of /proc/self/limits', () => {
    expect(parseOpenFileLimit(LIMITS)).toBe(1024);
    expect(parseOpenFileLimit('Max open files unlimited unlimited files\n')).toBeUndefined();
    expect(parseOpenFileLimit('')).toBeUndefined();
  });

  it('has defaults that keep persistent gRPC clients connected', () => {
    expect(loadConnectionSettings({}, 4096)).toEqual({
      openFileLimit: 4096,
      grpcMaxConnections: 2_960,
      httpMaxConnections: 992,
      debugMaxConnections: 16,
      handshakeTimeoutMs: 10_000,
      evictionMinIdleMs: 1_000,
      grpcMaxConnectionIdleMs: 3_600_000,
      grpcMaxConcurrentStreams: 1_000,
      httpIdleTimeoutMs: 65_000,
      httpMaxHeaderBytes: 16_384,
    });
  });

  it('reads every variable', () => {
    const settings = loadConnectionSettings(
      {
        GRPC_MAX_CONNECTIONS: '100',
        HTTP_MAX_CONNECTIONS: '50',
        DEBUG_MAX_CONNECTIONS: '5',
        CONNECTION_HANDSHAKE_TIMEOUT: '2s',
        CONNECTION_EVICTION_MIN_IDLE: '0',
        GRPC_MAX_CONNECTION_IDLE: '5m',
        GRPC_MAX_CONCURRENT_STREAMS: '64',
        HTTP_IDLE_TIMEOUT: '5s',
        HTTP_MAX_HEADER_SIZE: '8192',
      },
      1024,
    );
    expect(settings).toMatchObject({
      grpcMaxConnections: 100,
      httpMaxConnections: 50,
      debugMaxConnections: 5,
      handshakeTimeoutMs: 2_000,
      evictionMinIdleMs: 0,
      grpcMaxConnectionIdleMs: 300_000,
      grpcMaxConcurrentStreams: 64,
      httpIdleTimeoutMs: 5_000,
      httpMaxHeaderBytes: 8_192,
    });
  });

  it.each([
    ['GRPC_MAX_CONNECTIONS', '0'],
    ['HTTP_MAX_CONNECTIONS', 'many'],
    ['DEBUG_MAX_CONNECTIONS', '-1'],
    ['CONNECTION_HANDSHAKE_TIMEOUT', '10'],
    ['CONNECTION_EVICTION_MIN_IDLE', 'soon'],
    ['GRPC_MAX_CONNECTION_IDLE', '48h'],
    ['GRPC_MAX_CONCURRENT_STREAMS', '0'],
    ['HTTP_IDLE_TIMEOUT', '5 seconds'],
    ['HTTP_MAX_HEADER_SIZE', '100'],
  ])('rejects %s=%s with a SettingError naming the variable', (name, raw) => {
    const load = () => loadConnectionSettings({ [name]: raw }, 1024);
    expect(load).toThrow(SettingError);
    expect(load).toThrow(new RegExp(`^${name}: expected`));
  });

  it('is part of the settings', () => {
    const { settings } = loadSettings({ GRPC_MAX_CONNECTIONS: '7' });
    expect(settings.connections.grpcMaxConnections).toBe(7);
  });
});
