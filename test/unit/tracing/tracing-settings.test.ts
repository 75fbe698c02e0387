import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings/settings.js';
import { loadTracingSettings } from '../../../src/config/settings/tracing-settings.js';
import { SettingError } from '../../../src/core/errors.js';

describe('loadTracingSettings', () => {
  it('is off by default, with the reference defaults: RateLimit, http, sampling rate 1', () => {
    expect(loadTracingSettings({})).toEqual({
      enabled: false,
      serviceName: 'RateLimit',
      serviceNamespace: '',
      serviceInstanceId: '',
      protocol: 'http',
      endpoint: undefined,
      samplingRate: 1,
    });
  });

  it('reads every TRACING_ variable', () => {
    expect(
      loadTracingSettings({
        TRACING_ENABLED: 'true',
        TRACING_SERVICE_NAME: 'rl',
        TRACING_SERVICE_NAMESPACE: 'edge',
        TRACING_SERVICE_INSTANCE_ID: 'pod-1',
        TRACING_EXPORTER_PROTOCOL: 'GRPC',
        TRACING_SAMPLING_RATE: '0.25',
      }),
    ).toEqual({
      enabled: true,
      serviceName: 'rl',
      serviceNamespace: 'edge',
      serviceInstanceId: 'pod-1',
      protocol: 'grpc',
      endpoint: undefined,
      samplingRate: 0.25,
    });
  });

  it('turns on when an OTLP endpoint is set, unless TRACING_ENABLED=false or OTEL_SDK_DISABLED=true', () => {
    expect(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }).enabled).toBe(true);
    expect(loadTracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://otel:4318/x' }).enabled).toBe(
      true,
    );
    expect(
      loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', TRACING_ENABLED: 'false' })
        .enabled,
    ).toBe(false);
    expect(loadTracingSettings({ TRACING_ENABLED: 'true', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
  });

  it('appends /v1/traces to the base endpoint for http, keeps it for grpc, and takes the traces endpoint as is', () => {
    expect(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' }).endpoint).toBe(
      'http://otel:4318/v1/traces',
    );
    expect(
      loadTracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4317',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      }),
    ).toMatchObject({ endpoint: 'http://otel:4317', protocol: 'grpc' });
    expect(
      loadTracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example/custom',
      }).endpoint,
    ).toBe('https://otel.example/custom');
  });

  it('takes the protocol from TRACING_EXPORTER_PROTOCOL first, then the OTEL traces and general protocols', () => {
    const env = { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' };
    expect(loadTracingSettings(env).protocol).toBe('http');
    expect(loadTracingSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).protocol).toBe('grpc');
    expect(loadTracingSettings({ ...env, TRACING_EXPORTER_PROTOCOL: 'grpc' }).protocol).toBe('grpc');
  });

  it.each([
    ['TRACING_ENABLED', 'yes'],
    ['TRACING_SAMPLING_RATE', '1.5'],
    ['TRACING_SAMPLING_RATE', 'half'],
    ['TRACING_EXPORTER_PROTOCOL', 'udp'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'thrift'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'otel:4318'],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'ftp://otel/v1/traces'],
  ])('rejects %s=%s with an error naming the variable', (name, value) => {
    expect(() => loadTracingSettings({ [name]: value })).toThrow(SettingError);
    expect(() => loadTracingSettings({ [name]: value })).toThrow(new RegExp(`^${name}: expected`));
  });

  it('is part of Settings, and TRACING_ variables are no longer reported as unsupported', () => {
    const { settings, warnings } = loadSettings({ TRACING_ENABLED: 'true', TRACING_SERVICE_NAME: 'rl' });
    expect(settings.tracing).toMatchObject({ enabled: true, serviceName: 'rl' });
    expect(warnings.filter((warning) => warning.includes('TRACING'))).toEqual([]);
  });
});
