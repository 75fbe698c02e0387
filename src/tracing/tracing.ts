import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

/** Reads W3C trace context headers out of a transport's metadata (gRPC Metadata, HTTP headers). */
export interface CarrierReader<Carrier> {
  keys(carrier: Carrier): string[];
  get(carrier: Carrier, key: string): string | undefined;
}

/**
 * The service's tracer, built by createTracing only when tracing is on (so
 * callers hold `Tracing | undefined` and pay nothing when it is off).
 *
 * Nothing is registered globally (no global tracer provider, propagator or
 * context manager): the tracer is injected, and the span of the current call
 * travels to the store decorator in this instance's AsyncLocalStorage.
 */
export class Tracing {
  readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly active = new AsyncLocalStorage<Context>();

  constructor(private readonly provider: BasicTracerProvider) {
    this.tracer = provider.getTracer('ratelimit');
  }

  /**
   * Starts a span whose parent is the `traceparent`/`tracestate` found in
   * `carrier` (a new trace when there is none or it is malformed).
   */
  startFromCarrier<Carrier>(
    name: string,
    options: SpanOptions,
    carrier: Carrier,
    reader: CarrierReader<Carrier>,
  ): Span {
    const getter: TextMapGetter<Carrier> = reader;
    const parent = this.propagator.extract(ROOT_CONTEXT, carrier, getter);
    return this.tracer.startSpan(name, options, parent);
  }

  /** Runs `fn` with `span` as the current span for spans started by startChild. */
  runWithin<T>(span: Span, fn: () => T): T {
    return this.active.run(trace.setSpan(ROOT_CONTEXT, span), fn);
  }

  /** A child of the current span; undefined outside runWithin (work no traced call asked for). */
  startChild(name: string, options: SpanOptions): Span | undefined {
    const parent = this.active.getStore();
    return parent === undefined ? undefined : this.tracer.startSpan(name, options, parent);
  }

  /** Exports the spans still queued, then stops; bounded by `timeoutMs`. */
  async shutdown(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`span export did not finish in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.provider.shutdown(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
