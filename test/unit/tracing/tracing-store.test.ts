import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { TracingSettings } from '../../../src/config/settings/tracing-settings.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { createTracing } from '../../../src/tracing/create-tracing.js';
import { BACKEND_SPAN, TracingCounterStore } from '../../../src/tracing/tracing-store.js';

const ON: TracingSettings = {
  enabled: true,
  serviceName: 'RateLimit',
  serviceNamespace: 'edge',
  serviceInstanceId: 'pod-1',
  protocol: 'http',
  endpoint: undefined,
  samplingRate: 1,
};

const CHECK: CounterCheck = {
  key: 'shop_user_alice',
  tag: '',
  requestsPerUnit: 3,
  unitSeconds: 60,
  algorithm: 'fixed_window',
  burst: 3,
  hits: 1,
  blocking: true,
  chargedWhenRejected: true,
};

function fakeStore(answer: () => Promise<CounterDecision[]>): CounterStore {
  return { kind: 'fake', apply: answer, isReady: () => true, close: async () => {} };
}

function setup(answer: () => Promise<CounterDecision[]>) {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing(ON, { spanProcessor: new SimpleSpanProcessor(exporter) });
  if (tracing === undefined) throw new Error('tracing should be on');
  return { exporter, tracing, store: new TracingCounterStore(fakeStore(answer), tracing) };
}

const OK: CounterDecision = { overLimit: false, remaining: 2, resetSeconds: 60, used: 1 };

describe('createTracing', () => {
  it('builds nothing when tracing is off', () => {
    expect(createTracing({ ...ON, enabled: false })).toBeUndefined();
  });
});

describe('TracingCounterStore', () => {
  it('records a backend apply span, child of the current call span, with backend kind and check count', async () => {
    const { exporter, tracing, store } = setup(async () => [OK, OK]);
    const parent = tracing.tracer.startSpan('call');
    const decisions = await tracing.runWithin(parent, () => store.apply([CHECK, CHECK], 0));
    parent.end();
    expect(decisions).toEqual([OK, OK]);
    const child = exporter.getFinishedSpans().find((span) => span.name === BACKEND_SPAN);
    expect(child?.kind).toBe(SpanKind.INTERNAL);
    expect(child?.attributes).toEqual({ 'ratelimit.backend': 'fake', 'ratelimit.checks': 2 });
    expect(child?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child?.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child?.resource.attributes).toMatchObject({
      'service.name': 'RateLimit',
      'service.namespace': 'edge',
      'service.instance.id': 'pod-1',
    });
  });

  it('marks the span as an error and rethrows when the store fails', async () => {
    const { exporter, tracing, store } = setup(() => Promise.reject(new Error('redis down')));
    const parent = tracing.tracer.startSpan('call');
    await expect(tracing.runWithin(parent, () => store.apply([CHECK], 0))).rejects.toThrow('redis down');
    const [child] = exporter.getFinishedSpans();
    expect(child?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'redis down' });
    expect(child?.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('records the degraded answer mode when FAILURE_MODE answered', async () => {
    const { exporter, tracing, store } = setup(async () => [{ ...OK, degraded: 'allow' }]);
    await tracing.runWithin(tracing.tracer.startSpan('call'), () => store.apply([CHECK], 0));
    expect(exporter.getFinishedSpans()[0]?.attributes['ratelimit.degraded']).toBe('allow');
  });

  it('makes no span for a call outside a traced request', async () => {
    const { exporter, store } = setup(async () => [OK]);
    await store.apply([CHECK], 0);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
