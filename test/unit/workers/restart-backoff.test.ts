import { describe, expect, it } from 'vitest';
import { restartDelay } from '../../../src/workers/restart-backoff.js';

describe('restartDelay', () => {
  it('doubles the delay for each failure in a row of a worker that dies quickly', () => {
    let failures = 0;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const next = restartDelay(failures, 50);
      delays.push(next.delayMs);
      failures = next.failuresInARow;
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_600]);
  });

  it('never waits longer than 30 s, however long the crash loop', () => {
    expect(restartDelay(12, 0).delayMs).toBe(30_000);
    expect(restartDelay(10_000, 0).delayMs).toBe(30_000);
  });

  it('starts again from 100 ms once a worker ran for 10 s', () => {
    expect(restartDelay(6, 10_000)).toEqual({ delayMs: 100, failuresInARow: 1 });
    expect(restartDelay(6, 9_999)).toEqual({ delayMs: 6_400, failuresInARow: 7 });
  });
});
