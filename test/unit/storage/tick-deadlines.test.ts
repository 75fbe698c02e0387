import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DeadlineCall, TickDeadlines } from '../../../src/storage/tick-deadlines.js';

function call(): DeadlineCall & { expired: number } {
  const c = {
    settled: false,
    expired: 0,
    expire() {
      c.settled = true;
      c.expired++;
    },
  };
  return c;
}

describe('TickDeadlines', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires the unsettled calls of a tick once, after the budget counted from the end of the tick', () => {
    const deadlines = new TickDeadlines(100);
    const [a, b] = [call(), call()];
    deadlines.add(a);
    const group = deadlines.add(b);
    deadlines.done(group); // b answered
    (b as { settled: boolean }).settled = true;
    vi.advanceTimersByTime(99);
    expect(a.expired).toBe(0);
    vi.advanceTimersByTime(2);
    expect([a.expired, b.expired]).toEqual([1, 0]);
    vi.advanceTimersByTime(1_000);
    expect(a.expired).toBe(1);
  });

  it('shares one timer per tick and clears it once every call is settled', () => {
    const deadlines = new TickDeadlines(100);
    const calls = Array.from({ length: 10 }, call);
    const groups = calls.map((c) => deadlines.add(c));
    expect(new Set(groups).size).toBe(1);
    vi.advanceTimersByTime(0); // the setImmediate arms the timer
    expect(vi.getTimerCount()).toBe(1);
    for (const c of calls) {
      (c as { settled: boolean }).settled = true;
      deadlines.done(groups[0]!);
    }
    expect(vi.getTimerCount()).toBe(0);
    expect(groups[0]!.calls).toHaveLength(0);
  });

  it('starts a new group in the next tick', () => {
    const deadlines = new TickDeadlines(100);
    const first = deadlines.add(call());
    vi.advanceTimersByTime(0);
    const second = deadlines.add(call());
    expect(second).not.toBe(first);
  });
});
