import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError } from '../../../src/core/errors.js';
import type { CounterCheck } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { ManualClock } from '../../support/manual-clock.js';

function check(key: string, unitSeconds: number, hits = 1, requestsPerUnit = 10): CounterCheck {
  return {
    key,
    tag: '',
    requestsPerUnit,
    unitSeconds,
    algorithm: 'fixed_window',
    burst: requestsPerUnit,
    hits,
    blocking: true,
    chargedWhenRejected: true,
  };
}

describe('MemoryCounterStore', () => {
  let store: MemoryCounterStore;
  afterEach(async () => {
    await store.close();
    vi.useRealTimers();
  });

  it('drops a counter once its window has ended, on the next apply', async () => {
    store = new MemoryCounterStore();
    await store.apply([check('a_', 1), check('b_', 60)], 1_000_000_000);
    expect(store.size()).toBe(2);
    // 1_000_001 s: the SECOND window ended; the MINUTE one (ends 1_000_020) lives on.
    await store.apply([], 1_000_001_000);
    expect(store.size()).toBe(1);
    await store.apply([], 1_000_020_000);
    expect(store.size()).toBe(0);
  });

  it('keeps only the current window of a key that is hit in every window', async () => {
    store = new MemoryCounterStore();
    for (let s = 0; s < 100; s++) await store.apply([check('a_', 1)], (1_000_000 + s) * 1000);
    expect(store.size()).toBe(1);
  });

  it('sweeps expired windows on its unref interval when given a clock, with no traffic', async () => {
    vi.useFakeTimers();
    const clock = new ManualClock(1_000_000_000);
    store = new MemoryCounterStore({ clock, sweepIntervalMs: 1_000 });
    await store.apply([check('a_', 1), check('b_', 1)], clock.nowMs());
    clock.advance(1_000);
    expect(store.size()).toBe(2);
    vi.advanceTimersByTime(1_000);
    expect(store.size()).toBe(0);
  });

  it('stops its sweep interval on close', async () => {
    vi.useFakeTimers();
    store = new MemoryCounterStore({ clock: new ManualClock(0), sweepIntervalMs: 1_000 });
    expect(vi.getTimerCount()).toBe(1);
    await store.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('creates no counter for a 0-hit check', async () => {
    store = new MemoryCounterStore();
    const [decision] = await store.apply([check('a_', 60, 0)], 1_000_000_000);
    expect(decision).toEqual({ overLimit: false, remaining: 10, resetSeconds: 20, used: 0 });
    expect(store.size()).toBe(0);
  });

  it('appends the epoch-aligned window start to the key, so a later window starts from zero', async () => {
    store = new MemoryCounterStore();
    await store.apply([check('a_', 60, 10)], 1_000_019_999);
    const [decision] = await store.apply([check('a_', 60, 1)], 1_000_020_000);
    expect(decision?.used).toBe(1);
  });

  it('charges atomically: concurrent calls never see each other half-applied', async () => {
    store = new MemoryCounterStore();
    const calls = Array.from({ length: 20 }, () => store.apply([check('a_', 1), check('a_', 1)], 5_000));
    const used = (await Promise.all(calls)).map((pair) => pair.map((d) => d.used));
    expect(used).toEqual(Array.from({ length: 20 }, (_, i) => [2 * i + 1, 2 * i + 2]));
  });

  it('rejects with BackendUnavailableError after close and reports not ready', async () => {
    store = new MemoryCounterStore();
    expect(store.isReady()).toBe(true);
    await store.close();
    expect(store.isReady()).toBe(false);
    await expect(store.apply([check('a_', 1)], 0)).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
