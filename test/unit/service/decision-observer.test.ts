import { describe, expect, it } from 'vitest';
import type { DescriptorEntry } from '../../../src/core/descriptor.js';
import { BackendUnavailableError } from '../../../src/core/errors.js';
import type { Limit, LimitMatch } from '../../../src/core/limit.js';
import { combineObservers, type DecisionObserver } from '../../../src/service/decision-observer.js';
import { RateLimitService } from '../../../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS } from '../../../src/service/service-options.js';
import type { CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { ManualClock } from '../../support/manual-clock.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, request } from './service-fixture.js';

/** Records every call as a line, e.g. `charged d key=value hits=1 limit=10 over=false`. */
class RecordingObserver implements DecisionObserver {
  readonly calls: string[] = [];

  charged(
    domain: string,
    _match: LimitMatch,
    entries: readonly DescriptorEntry[],
    hits: number,
    limit: Limit,
    decision: CounterDecision,
  ): void {
    const pairs = entries.map((e) => `${e.key}=${e.value}`).join(',');
    this.calls.push(
      `charged ${domain} ${pairs} hits=${hits} limit=${limit.requestsPerUnit} over=${decision.overLimit}`,
    );
  }

  domainNotFound(domain: string): void {
    this.calls.push(`domainNotFound ${domain}`);
  }

  failed(error: unknown): void {
    this.calls.push(`failed ${(error as Error).name}`);
  }
}

const rules = () => new TestRuleSet().add('d', [['key', 'value']], { requestsPerUnit: 1, unit: 'MINUTE' });

function serviceWith(observers: readonly DecisionObserver[], store: CounterStore = new MemoryCounterStore()) {
  return new RateLimitService({
    rules: () => rules(),
    store,
    clock: new ManualClock(1_000_000_000),
    options: DEFAULT_SERVICE_OPTIONS,
    observers,
  });
}

const failingStore: CounterStore = {
  kind: 'broken',
  apply: () => Promise.reject(new Error('connection refused')),
  isReady: () => false,
  close: () => Promise.resolve(),
};

describe('combineObservers', () => {
  it('is undefined for no observers, so the service does no observing work', () => {
    expect(combineObservers([])).toBeUndefined();
  });

  it('uses a single observer as is, without a wrapper', () => {
    const only = new RecordingObserver();
    expect(combineObservers([only])).toBe(only);
  });

  it('calls every observer, in registration order', () => {
    const order: string[] = [];
    const named = (name: string): DecisionObserver => ({
      charged: () => order.push(`${name}.charged`),
      domainNotFound: () => order.push(`${name}.domainNotFound`),
      failed: () => order.push(`${name}.failed`),
    });
    const both = combineObservers([named('a'), named('b')])!;
    both.domainNotFound('x');
    both.failed(new Error('x'));
    expect(order).toEqual(['a.domainNotFound', 'b.domainNotFound', 'a.failed', 'b.failed']);
  });
});

describe('RateLimitService observers', () => {
  it('reports every charged descriptor to each of two observers', async () => {
    const first = new RecordingObserver();
    const second = new RecordingObserver();
    const service = serviceWith([first, second]);
    const req = request('d', [descriptor([['key', 'value']])]);
    await service.shouldRateLimit(req);
    await service.shouldRateLimit(req);
    const expected = [
      'charged d key=value hits=1 limit=1 over=false',
      'charged d key=value hits=1 limit=1 over=true',
    ];
    expect(first.calls).toEqual(expected);
    expect(second.calls).toEqual(expected);
  });

  it('reports an unknown domain to each of two observers', async () => {
    const first = new RecordingObserver();
    const second = new RecordingObserver();
    await serviceWith([first, second]).shouldRateLimit(request('nope', [descriptor([['key', 'value']])]));
    expect(first.calls).toEqual(['domainNotFound nope']);
    expect(second.calls).toEqual(['domainNotFound nope']);
  });

  it('reports a failed decision to each of two observers before the error propagates', async () => {
    const first = new RecordingObserver();
    const second = new RecordingObserver();
    const service = serviceWith([first, second], failingStore);
    await expect(
      service.shouldRateLimit(request('d', [descriptor([['key', 'value']])])),
    ).rejects.toBeInstanceOf(BackendUnavailableError);
    expect(first.calls).toEqual(['failed BackendUnavailableError']);
    expect(second.calls).toEqual(['failed BackendUnavailableError']);
  });
});
