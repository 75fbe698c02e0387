import { SettingError } from '../../core/errors.js';
import { parseBool, parseChoice, parseRatio } from './settings-parsers.js';

export type TracingProtocol = 'http' | 'grpc';

/**
 * OpenTelemetry tracing, from envoyproxy/ratelimit's TRACING_* variables (its
 * src/settings/settings.go and src/trace/trace.go) and the standard OTEL_* ones.
 * Off unless asked for.
 */
export interface TracingSettings {
  /**
   * TRACING_ENABLED; when unset, on as soon as OTEL_EXPORTER_OTLP_ENDPOINT or
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (an operator who names a
   * collector wants traces). OTEL_SDK_DISABLED=true turns it off regardless.
   */
  readonly enabled: boolean;
  /** TRACING_SERVICE_NAME, resource `service.name` (default "RateLimit", as the reference). */
  readonly serviceName: string;
  /** TRACING_SERVICE_NAMESPACE, resource `service.namespace`; '' = not set. */
  readonly serviceNamespace: string;
  /** TRACING_SERVICE_INSTANCE_ID, resource `service.instance.id`; '' = a random UUID at startup. */
  readonly serviceInstanceId: string;
  /**
   * TRACING_EXPORTER_PROTOCOL (http | grpc), else OTEL_EXPORTER_OTLP_TRACES_PROTOCOL /
   * OTEL_EXPORTER_OTLP_PROTOCOL (grpc | http/protobuf | http/json); default http.
   */
  readonly protocol: TracingProtocol;
  /**
   * Full URL spans are sent to: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or
   * OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces" for http). Undefined = the
   * exporter's default (http://localhost:4318/v1/traces, http://localhost:4317).
   */
  readonly endpoint: string | undefined;
  /** TRACING_SAMPLING_RATE, 0..1, for ParentBased(TraceIdRatio(rate)) (default 1). */
  readonly samplingRate: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the tracing settings; throws SettingError naming the variable on a bad value. */
export function loadTracingSettings(env: Env): TracingSettings {
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw;
  };
  const tracesEndpoint = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  const enabledRaw = value('TRACING_ENABLED');
  const sdkDisabledRaw = value('OTEL_SDK_DISABLED');
  const sdkDisabled = sdkDisabledRaw !== undefined && parseBool('OTEL_SDK_DISABLED', sdkDisabledRaw);
  const enabled =
    !sdkDisabled &&
    (enabledRaw === undefined
      ? tracesEndpoint !== undefined || baseEndpoint !== undefined
      : parseBool('TRACING_ENABLED', enabledRaw));
  const protocol = readProtocol(value);
  const rateRaw = value('TRACING_SAMPLING_RATE');
  return {
    enabled,
    serviceName: value('TRACING_SERVICE_NAME') ?? 'RateLimit',
    serviceNamespace: value('TRACING_SERVICE_NAMESPACE') ?? '',
    serviceInstanceId: value('TRACING_SERVICE_INSTANCE_ID') ?? '',
    protocol,
    endpoint:
      tracesEndpoint !== undefined
        ? checkUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
        : baseEndpoint !== undefined
          ? signalUrl(checkUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint), protocol)
          : undefined,
    samplingRate: rateRaw === undefined ? 1 : parseRatio('TRACING_SAMPLING_RATE', rateRaw),
  };
}

function readProtocol(value: (name: string) => string | undefined): TracingProtocol {
  const own = value('TRACING_EXPORTER_PROTOCOL');
  if (own !== undefined) return parseChoice('TRACING_EXPORTER_PROTOCOL', own, ['http', 'grpc'] as const);
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const raw = value(name);
    if (raw === undefined) continue;
    const choice = parseChoice(name, raw, ['grpc', 'http/protobuf', 'http/json'] as const);
    return choice === 'grpc' ? 'grpc' : 'http';
  }
  return 'http';
}

function checkUrl(name: string, raw: string): string {
  const text = raw.trim();
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) {
    throw new SettingError(name, raw, 'an http:// or https:// URL');
  }
  return text;
}

/** The OTLP spec: the base endpoint gets the signal path for http; gRPC uses it as is. */
function signalUrl(base: string, protocol: TracingProtocol): string {
  return protocol === 'grpc' ? base : `${base.replace(/\/+$/, '')}/v1/traces`;
}
