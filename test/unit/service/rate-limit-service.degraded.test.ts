import { describe, expect, it } from 'vitest';
import type { CounterCheck, CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, request } from './service-fixture.js';

/** A store that answers like FAILURE_MODE=allow would: OK, uncounted, marked degraded. */
const failOpenStore: CounterStore = {
  kind: 'fail-open',
  apply: (checks: readonly CounterCheck[]) =>
    Promise.resolve(
      checks.map(
        (c): CounterDecision => ({
          overLimit: false,
          remaining: c.requestsPerUnit,
          resetSeconds: c.unitSeconds,
          used: 0,
          degraded: 'allow',
        }),
      ),
    ),
  isReady: () => true,
  close: () => Promise.resolve(),
};

describe('RateLimitService with a degraded backend answer', () => {
  const rules = () => new TestRuleSet().add('d', [['user', 'a']], { requestsPerUnit: 5, unit: 'MINUTE' });

  it('marks the answer with X-RateLimit-Degraded even without RateLimit-* headers', async () => {
    const h = harness(rules(), {}, failOpenStore);
    const result = await h.service.shouldRateLimit(request('d', [descriptor([['user', 'a']])]));
    expect(result.overallCode).toBe('OK');
    expect(result.responseHeadersToAdd).toEqual([{ key: 'X-RateLimit-Degraded', value: 'allow' }]);
  });

  it('adds no marker to answers the backend gave', async () => {
    const h = harness(rules());
    const result = await h.service.shouldRateLimit(request('d', [descriptor([['user', 'a']])]));
    expect(result.responseHeadersToAdd).toEqual([]);
  });
});
