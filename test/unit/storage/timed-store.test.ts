import { describe, expect, it } from 'vitest';
import type { CounterCheck, CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { TimedCounterStore } from '../../../src/storage/timed-store.js';

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

const OK: CounterDecision = { overLimit: false, remaining: 2, resetSeconds: 60, used: 1 };

interface Timing {
  readonly kind: string;
  readonly outcome: 'ok' | 'error';
  readonly seconds: number;
}

/** A monotonic clock that moves only when told. */
const clock = { ms: 1_000, now: () => clock.ms };

function timed(inner: Partial<CounterStore>): { store: TimedCounterStore; timings: Timing[] } {
  const timings: Timing[] = [];
  const store = new TimedCounterStore(
    { kind: 'redis', apply: async () => [OK], isReady: () => true, close: async () => {}, ...inner },
    (kind, outcome, seconds) => timings.push({ kind, outcome, seconds }),
    clock.now,
  );
  return { store, timings };
}

describe('TimedCounterStore', () => {
  it('reports one ok call with its time in seconds, by the inner store kind, and returns its answer', async () => {
    const { store, timings } = timed({
      apply: async () => {
        clock.ms += 2.5;
        return [OK];
      },
    });
    await expect(store.apply([CHECK], 0)).resolves.toEqual([OK]);
    expect(timings).toEqual([{ kind: 'redis', outcome: 'ok', seconds: 0.0025 }]);
  });

  it('reports a failed call as error and rejects with the inner error', async () => {
    const failure = new Error('connection lost');
    const { store, timings } = timed({
      apply: async () => {
        clock.ms += 250;
        throw failure;
      },
    });
    await expect(store.apply([CHECK], 0)).rejects.toBe(failure);
    expect(timings).toEqual([{ kind: 'redis', outcome: 'error', seconds: 0.25 }]);
  });

  it('passes kind, readiness and close through to the inner store', async () => {
    let closed = false;
    const { store, timings } = timed({
      isReady: () => false,
      close: async () => {
        closed = true;
      },
    });
    expect(store.kind).toBe('redis');
    expect(store.isReady()).toBe(false);
    await store.close();
    expect(closed).toBe(true);
    expect(timings).toEqual([]);
  });
});
