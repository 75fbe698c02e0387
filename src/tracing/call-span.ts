import type { Metadata } from '@grpc/grpc-js';
import { type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { RateLimitResult } from '../core/decision.js';
import type { RateLimitRequest } from '../core/descriptor.js';
import type { CarrierReader, Tracing } from './tracing.js';

const METADATA_READER: CarrierReader<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get(metadata, key) {
    const value = metadata.get(key)[0];
    return typeof value === 'string' ? value : undefined;
  },
};

const RLS_SERVICE = 'envoy.service.ratelimit.v3.RateLimitService';

/**
 * The server span of one gRPC call: parent from the call's W3C trace context,
 * request and decision as attributes, error status on failures. One object per
 * traced call; never built when tracing is off.
 */
export class GrpcCallSpan {
  private readonly span: Span;

  constructor(
    private readonly tracing: Tracing,
    method: string,
    metadata: Metadata,
  ) {
    this.span = tracing.startFromCarrier(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'rpc.system': 'grpc', 'rpc.service': RLS_SERVICE, 'rpc.method': method },
      },
      metadata,
      METADATA_READER,
    );
  }

  /** Runs the use case with this span current, so backend spans become its children. */
  run<T>(fn: () => T): T {
    return this.tracing.runWithin(this.span, fn);
  }

  request(request: RateLimitRequest): void {
    if (!this.span.isRecording()) return;
    this.span.setAttribute('ratelimit.domain', request.domain);
    this.span.setAttribute('ratelimit.descriptors', request.descriptors.length);
  }

  decided(result: RateLimitResult): void {
    this.span.setAttribute('ratelimit.overall_code', result.overallCode);
    this.span.setAttribute('rpc.grpc.status_code', 0);
  }

  failed(code: number, details: string): void {
    this.span.setAttribute('rpc.grpc.status_code', code);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  }

  end(): void {
    this.span.end();
  }
}
