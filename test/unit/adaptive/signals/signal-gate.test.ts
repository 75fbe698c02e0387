import { describe, expect, it } from 'vitest';
import type { SignalSink } from '../../../../src/adaptive/signal-sink.js';
import { deliverSignal, SignalRateBound } from '../../../../src/adaptive/signals/signal-gate.js';
import { ManualClock } from '../../../support/manual-clock.js';

describe('SignalRateBound', () => {
  it('lets a burst of perSecond through, then answers the whole seconds to wait', () => {
    const clock = new ManualClock(1_000_000);
    const bound = new SignalRateBound(3, clock);
    expect([bound.take(), bound.take(), bound.take()]).toEqual([undefined, undefined, undefined]);
    expect(bound.take()).toBe(1);
    clock.advance(333);
    expect(bound.take()).toBe(1); // 0.999 of a token
    clock.advance(1);
    expect(bound.take()).toBeUndefined();
    expect(bound.take()).toBe(1);
  });

  it('refills at perSecond up to the burst, and a clock stepping back adds nothing', () => {
    const clock = new ManualClock(5_000);
    const bound = new SignalRateBound(2, clock);
    bound.take();
    bound.take();
    clock.advance(60_000);
    expect([bound.take(), bound.take(), bound.take()]).toEqual([undefined, undefined, 1]);
    clock.set(0);
    expect(bound.take()).toBe(1);
    clock.set(65_500);
    expect(bound.take()).toBeUndefined();
  });

  it('a fractional wait below one second is answered as 1 (Retry-After is whole seconds)', () => {
    const clock = new ManualClock();
    const bound = new SignalRateBound(1, clock);
    bound.take();
    expect(bound.take()).toBe(1);
  });
});

describe('deliverSignal', () => {
  it('sends each kind of signal to its sink method and returns its answer', () => {
    const calls: unknown[][] = [];
    const sink: SignalSink = {
      errorRate: (...args) => {
        calls.push(['errorRate', ...args]);
        return { ok: true };
      },
      penalize: (...args) => {
        calls.push(['penalize', ...args]);
        return { ok: false, reason: 'no controller "x"' };
      },
    };
    expect(
      deliverSignal(sink, { kind: 'error_rate', domain: 'd', controller: 'c', total: 10, errors: 2 }),
    ).toEqual({ ok: true });
    expect(
      deliverSignal(sink, {
        kind: 'penalty',
        domain: 'd',
        controller: 'x',
        value: 'v',
        ttlMs: 5,
        reason: '',
      }),
    ).toEqual({ ok: false, reason: 'no controller "x"' });
    expect(calls).toEqual([
      ['errorRate', 'd', 'c', 10, 2],
      ['penalize', 'd', 'x', 'v', 5, ''],
    ]);
  });
});
