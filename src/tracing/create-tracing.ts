import { randomUUID } from 'node:crypto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from '../config/settings/tracing-settings.js';
import { Tracing } from './tracing.js';

export interface TracingDeps {
  /** Replaces the batch processor + OTLP exporter (tests pass a SimpleSpanProcessor over an in-memory exporter). */
  readonly spanProcessor?: SpanProcessor | undefined;
}

/**
 * The tracer the settings ask for, or undefined when tracing is off (then no
 * span object is ever made). Spans go through a batch processor to an OTLP
 * exporter over http or gRPC; the exporter itself reads the other
 * OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression, certificates).
 */
export function createTracing(settings: TracingSettings, deps: TracingDeps = {}): Tracing | undefined {
  if (!settings.enabled) return undefined;
  const provider = new BasicTracerProvider({
    resource: tracingResource(settings),
    // as the reference: honour the caller's sampling decision, sample new traces at the rate
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplingRate) }),
    spanProcessors: [deps.spanProcessor ?? new BatchSpanProcessor(otlpExporter(settings))],
  });
  return new Tracing(provider);
}

function otlpExporter(settings: TracingSettings): SpanExporter {
  const config = settings.endpoint === undefined ? {} : { url: settings.endpoint };
  return settings.protocol === 'grpc' ? new GrpcTraceExporter(config) : new HttpTraceExporter(config);
}

/** service.name, service.namespace (when set) and service.instance.id over the SDK's telemetry.sdk.* attributes. */
function tracingResource(settings: TracingSettings): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'service.name': settings.serviceName,
      ...(settings.serviceNamespace === '' ? {} : { 'service.namespace': settings.serviceNamespace }),
      'service.instance.id': settings.serviceInstanceId === '' ? randomUUID() : settings.serviceInstanceId,
    }),
  );
}
