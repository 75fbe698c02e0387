import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../../src/core/algorithm.js';
import { isChargedWhenRejected } from '../../src/core/limit.js';
import type { CounterCheck } from '../../src/storage/counter-store.js';
import { RedisCounterStore } from '../../src/storage/redis/redis-store.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/**
 * Exactness under concurrency: 3 service instances (3 stores, each with its
 * own client) on one Redis, 200 concurrent callers hammering one key with a
 * 10/s limit for 3 windows, clock = Redis TIME.
 *
 * Every call records when it was sent (s) and answered (r), in ms of the same
 * host clock Redis TIME reads, so it ran in Redis at some e in [s, r]. A bound
 * "at most N admitted in an interval" is then checked on the calls that surely
 * ran inside it (s and r both in it): a sound test, never a flaky one.
 */

const LIMIT = 10;
const CALLERS = 200;
const WINDOWS = 3;

let server: RedisTestServer;
const clients: Redis[] = [];
const stores: RedisCounterStore[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  for (let i = 0; i < 3; i++) {
    const client = new Redis(server.url, { enableAutoPipelining: true });
    clients.push(client);
    stores.push(
      await RedisCounterStore.create({
        client,
        expirationJitterMaxSeconds: 0,
        stopIncrementWhenOverLimit: false,
        clockSource: 'redis',
      }),
    );
  }
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

interface Call {
  /** Sent, answered: ms since the epoch. */
  readonly s: number;
  readonly r: number;
  /** The clock passed to apply (fixed_window's window). */
  readonly nowMs: number;
  readonly admitted: boolean;
}

/** CALLERS callers per check, spread over the stores, until `endMs`; returns every call per check. */
async function hammer(checks: readonly CounterCheck[], endMs: number): Promise<Call[][]> {
  const calls: Call[][] = checks.map(() => []);
  await Promise.all(
    checks.flatMap((check, k) =>
      Array.from({ length: CALLERS }, async (_, caller) => {
        const store = stores[caller % stores.length]!;
        for (;;) {
          const s = Date.now();
          if (s >= endMs) return;
          const [decision] = await store.apply([check], s);
          calls[k]!.push({ s, r: Date.now(), nowMs: s, admitted: !decision!.overLimit });
        }
      }),
    ),
  );
  return calls;
}

function check(algorithm: Algorithm, burst = LIMIT): CounterCheck {
  return {
    key: `conc_${algorithm}_${Date.now()}_`,
    tag: algorithm === 'fixed_window' ? '' : 'c1_',
    requestsPerUnit: LIMIT,
    unitSeconds: 1,
    algorithm,
    burst,
    hits: 1,
    blocking: true,
    chargedWhenRejected: isChargedWhenRejected(algorithm, false),
  };
}

/** The most admitted calls that surely ran in one interval of `lengthMs` ms (s > a, r <= a + lengthMs). */
function mostSurelyInside(admitted: readonly Call[], lengthMs: number): number {
  let most = 0;
  for (const first of admitted) {
    const a = first.s - 1;
    const inside = admitted.filter((c) => c.s > a && c.r <= a + lengthMs).length;
    most = Math.max(most, inside);
  }
  return most;
}

const TOKEN_BURST = 5;

describe('RedisCounterStore under 200 concurrent callers per key on 3 instances', () => {
  // the four keys are hammered at once (800 callers), from a whole second on, for WINDOWS seconds
  let results: Record<Algorithm, Call[]>;
  let startMs = 0;
  let endMs = 0;

  beforeAll(async () => {
    const algorithms: Algorithm[] = ['fixed_window', 'sliding_log', 'token_bucket', 'sliding_window'];
    const checks = algorithms.map((a) => check(a, a === 'token_bucket' ? TOKEN_BURST : LIMIT));
    startMs = Math.ceil((Date.now() + 50) / 1000) * 1000;
    endMs = startMs + WINDOWS * 1000;
    await new Promise((resolve) => setTimeout(resolve, startMs - Date.now()));
    const calls = await hammer(checks, endMs);
    results = Object.fromEntries(algorithms.map((a, k) => [a, calls[k]!])) as Record<Algorithm, Call[]>;
  });

  it('fixed_window admits exactly 10 in every 1 s window', () => {
    const calls = results.fixed_window;
    expect(calls.length).toBeGreaterThan(WINDOWS * 100);
    for (let w = 0; w < WINDOWS; w++) {
      const windowStart = startMs + w * 1000;
      const inWindow = calls.filter((c) => c.nowMs >= windowStart && c.nowMs < windowStart + 1000);
      expect(inWindow.filter((c) => c.admitted).length, `window ${w}`).toBe(LIMIT);
    }
  });

  it('sliding_log never admits more than 10 in any 1 s interval, and admits 10 per second', () => {
    const admitted = results.sliding_log.filter((c) => c.admitted);
    expect(mostSurelyInside(admitted, 1000)).toBeLessThanOrEqual(LIMIT);
    expect(admitted.length).toBeGreaterThanOrEqual(WINDOWS * LIMIT);
    expect(admitted.length).toBeLessThanOrEqual((WINDOWS + 1) * LIMIT);
  });

  it('token_bucket never admits more than burst + rate × elapsed', () => {
    const admitted = results.token_bucket.filter((c) => c.admitted);
    for (const first of admitted) {
      for (const last of admitted) {
        if (last.r < first.s) continue;
        const inside = admitted.filter((c) => c.s >= first.s && c.r <= last.r).length;
        expect(inside).toBeLessThanOrEqual(TOKEN_BURST + (LIMIT * (last.r - first.s)) / 1000);
      }
    }
    // a full bucket at the start, then 10 per second
    const runMs = endMs - startMs;
    expect(admitted.length).toBeGreaterThanOrEqual(TOKEN_BURST + (LIMIT * (runMs - 300)) / 1000);
    expect(admitted.length).toBeLessThanOrEqual(TOKEN_BURST + (LIMIT * (runMs + 300)) / 1000);
  });

  it('sliding_window stays within its bound: at most 10 per aligned window, fewer than 20 in any 1 s', () => {
    const admitted = results.sliding_window.filter((c) => c.admitted);
    for (let w = 0; w < WINDOWS; w++) {
      const windowStart = startMs + w * 1000;
      const inside = admitted.filter((c) => c.s >= windowStart && c.r < windowStart + 1000).length;
      expect(inside, `window ${w}`).toBeLessThanOrEqual(LIMIT);
    }
    expect(mostSurelyInside(admitted, 1000)).toBeLessThan(2 * LIMIT);
    expect(admitted.length).toBeGreaterThanOrEqual(LIMIT);
    expect(admitted.length).toBeLessThanOrEqual((WINDOWS + 1) * LIMIT);
  });

  it('answers every caller quickly enough for the bounds above to bite (median round trip under 100 ms)', () => {
    for (const calls of Object.values(results)) {
      const rtts = calls.map((c) => c.r - c.s).sort((a, b) => a - b);
      expect(rtts[Math.floor(rtts.length / 2)]!).toBeLessThan(100);
    }
  });
});
