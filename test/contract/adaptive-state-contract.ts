import { describe, expect, it } from 'vitest';
import type { AdaptiveStateStore, ControllerId, ErrorRateRecord } from '../../src/adaptive/adaptive-state.js';
import type { PenaltyParams } from '../../src/adaptive/controller-params.js';
import type { FlagResult } from '../../src/adaptive/penalty-box.js';

/**
 * Two handles on one shared state, as two replicas see it: two stores over one Redis
 * (separate connections), or the same memory store twice (scope 'process').
 */
export interface AdaptiveStatePair {
  readonly first: AdaptiveStateStore;
  readonly second: AdaptiveStateStore;
  /** Deletes the controller's record behind the stores' back (undefined: the store has no outside). */
  readonly deleteRecord?: (id: ControllerId) => Promise<void>;
}

export type AdaptiveStateFactory = (options: { maxPenaltyEntries?: number }) => Promise<AdaptiveStatePair>;

const T = 1_700_000_000_000;
const INTERVAL = 10_000;
const PENALTY: PenaltyParams = { factor: 0.1, ttlMs: 1_000, escalate: 2, maxTtlMs: 8_000 };

let unique = 0;
/** A controller no other test (or earlier run on the same Redis) touches. */
function controller(name = 'c'): ControllerId {
  unique++;
  return { domain: `d${Date.now().toString(36)}${unique}`, name };
}

function record(closedStartMs: number, factor: number, sinceMs?: number): ErrorRateRecord {
  return { factor, decision: 'decrease', closedStartMs, samples: 40, errors: 20, sinceMs };
}

/** The AdaptiveStateStore contract (adaptive-state.ts doc comments), against any implementation. */
export function runAdaptiveStateContract(
  name: string,
  make: AdaptiveStateFactory,
  { outside = false }: { readonly outside?: boolean } = {},
): void {
  describe(`AdaptiveStateStore contract: ${name}`, () => {
    const pair = async (options: { maxPenaltyEntries?: number } = {}) => make(options);

    it('sums samples per interval over both handles and several adds of one call', async () => {
      const { first, second } = await pair();
      const a = controller('a');
      const b = controller('b');
      const add = (id: ControllerId, total: number, errors: number, start = T) => ({
        id,
        intervalStartMs: start,
        intervalMs: INTERVAL,
        total,
        errors,
      });
      await first.addSamples([add(a, 10, 1), add(b, 5, 5), add(a, 3, 2)]);
      await second.addSamples([add(a, 7, 0), add(a, 100, 100, T + INTERVAL)]);
      await second.addSamples([]);
      expect((await first.readErrorRate(a, T)).totals).toEqual({ total: 20, errors: 3 });
      expect((await second.readErrorRate(b, T)).totals).toEqual({ total: 5, errors: 5 });
      expect((await first.readErrorRate(a, T + INTERVAL)).totals).toEqual({ total: 100, errors: 100 });
      expect(await first.readErrorRate(a, T - INTERVAL)).toEqual({
        record: undefined,
        totals: { total: 0, errors: 0 },
      });
    });

    it('writes a record only over the expected one, returning what is stored either way', async () => {
      const { first, second } = await pair();
      const id = controller();
      const r1 = record(T, 0.5);
      expect(await first.writeErrorRate(id, undefined, r1, 60_000)).toEqual(r1);
      // expected "none" but there is one: not written, the stored one returned
      expect(await second.writeErrorRate(id, undefined, record(T, 0.25), 60_000)).toEqual(r1);
      // a stale expectation loses too
      expect(await second.writeErrorRate(id, T - INTERVAL, record(T + INTERVAL, 0.25), 60_000)).toEqual(r1);
      const r2 = record(T + INTERVAL, 0.1 + 0.2, T + 2 * INTERVAL);
      expect(await second.writeErrorRate(id, T, r2, 60_000)).toEqual(r2);
      expect((await first.readErrorRate(id, T)).record).toEqual(r2);
    });

    it('round-trips every number exactly, sinceMs absent or present', async () => {
      const { first, second } = await pair();
      const id = controller();
      const odd: ErrorRateRecord = {
        factor: 0.1 + 0.2,
        decision: 'insufficient_samples',
        closedStartMs: T + 0.5,
        samples: 2 ** 53 - 1,
        errors: 0,
        sinceMs: undefined,
      };
      await first.writeErrorRate(id, undefined, odd, 60_000);
      const read = (await second.readErrorRate(id, T)).record;
      expect(read).toEqual(odd);
      expect(Object.is(read!.factor, 0.30000000000000004)).toBe(true);
      const next = {
        ...odd,
        factor: 1 / 3,
        decision: 'increase' as const,
        closedStartMs: T + 1,
        sinceMs: 1e21,
      };
      expect(await second.writeErrorRate(id, T + 0.5, next, 60_000)).toEqual(next);
      expect((await first.readErrorRate(id, T)).record).toEqual(next);
    });

    it('lets exactly one of two handles closing the same interval win; both then read its record', async () => {
      const { first, second } = await pair();
      const id = controller();
      await first.writeErrorRate(id, undefined, record(T, 1), 60_000);
      const mine = record(T + INTERVAL, 0.5);
      const theirs = { ...record(T + INTERVAL, 0.75), samples: 41 };
      const [a, b] = await Promise.all([
        first.writeErrorRate(id, T, mine, 60_000),
        second.writeErrorRate(id, T, theirs, 60_000),
      ]);
      expect(a).toEqual(b);
      expect([mine, theirs]).toContainEqual(a);
      expect((await first.readErrorRate(id, T)).record).toEqual(a);
      expect((await second.readErrorRate(id, T)).record).toEqual(a);
    });

    it('shows a flag made through one handle to the other, with its reason and offences', async () => {
      const { first, second } = await pair();
      const id = controller();
      expect(await second.penalties(id, T, 10)).toEqual([]);
      expect(await first.flag(id, PENALTY, '1.2.3.4', T, { reason: 'spike' })).toEqual({
        expiresAtMs: T + 1_000,
        offences: 1,
        newOffence: true,
      });
      expect(await second.penalties(id, T, 10)).toEqual([
        { value: '1.2.3.4', expiresAtMs: T + 1_000, reason: 'spike', offences: 1 },
      ]);
      expect(await second.penalties(id, T + 1_000, 10)).toEqual([]); // expired at its expiry
      expect(await second.penalties(id, T, 0)).toEqual([]);
    });

    it('escalates 1, 2, 4, 8 (capped) across handles and forgets after max_ttl past the penalty', async () => {
      const { first, second } = await pair();
      const id = controller();
      const v = 'v';
      const at = [first, second, first, second, first];
      const flags: FlagResult[] = [];
      let now = T;
      for (const store of at) {
        const result = await store.flag(id, PENALTY, v, now, { reason: 'over_limit_ratio' });
        flags.push(result);
        now = result.expiresAtMs + 1; // behaves until just after release, then offends again
      }
      expect(flags.map((f) => f.offences)).toEqual([1, 2, 3, 4, 5]);
      expect(flags.every((f) => f.newOffence)).toBe(true);
      const lengths = flags.map((f, i) => f.expiresAtMs - (i === 0 ? T : flags[i - 1]!.expiresAtMs + 1));
      expect(lengths).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
      // forgotten once max_ttl has passed since the last penalty ended: offence 1 again
      const last = flags[4]!.expiresAtMs;
      const before = await second.flag(id, PENALTY, 'w', T, { reason: 'x' }); // unrelated value
      expect(before.offences).toBe(1);
      const again = await first.flag(id, PENALTY, v, last + PENALTY.maxTtlMs, { reason: 'spike' });
      expect(again).toEqual({ expiresAtMs: last + PENALTY.maxTtlMs + 1_000, offences: 1, newOffence: true });
    });

    it('extends a still-boxed value by its current offence ttl without escalating, never shortening', async () => {
      const { first, second } = await pair();
      const id = controller();
      await first.flag(id, PENALTY, 'v', T, { reason: 'a' });
      const extended = await second.flag(id, PENALTY, 'v', T + 500, { reason: 'b' });
      expect(extended).toEqual({ expiresAtMs: T + 1_500, offences: 1, newOffence: false });
      // an explicit short ttl while boxed: the expiry stays
      const kept = await first.flag(id, PENALTY, 'v', T + 600, { reason: 'c', ttlMs: 10 });
      expect(kept).toEqual({ expiresAtMs: T + 1_500, offences: 1, newOffence: false });
      expect(await second.penalties(id, T + 700, 10)).toEqual([
        { value: 'v', expiresAtMs: T + 1_500, reason: 'c', offences: 1 },
      ]);
    });

    it('uses an explicit ttl as given (not capped) and counts it as an offence', async () => {
      const { first, second } = await pair();
      const id = controller();
      const long = await first.flag(id, PENALTY, 'v', T, { reason: 'waf', ttlMs: 60_000 });
      expect(long).toEqual({ expiresAtMs: T + 60_000, offences: 1, newOffence: true });
      const next = await second.flag(id, PENALTY, 'v', T + 60_000, { reason: 'spike' });
      expect(next).toEqual({ expiresAtMs: T + 62_000, offences: 2, newOffence: true });
    });

    it('counts one offence when both handles flag the same value at once', async () => {
      const { first, second } = await pair();
      const id = controller();
      const results = await Promise.all([
        first.flag(id, PENALTY, 'v', T, { reason: 'a' }),
        second.flag(id, PENALTY, 'v', T, { reason: 'b' }),
      ]);
      expect(results.map((r) => r.offences)).toEqual([1, 1]);
      expect(results.filter((r) => r.newOffence)).toHaveLength(1);
    });

    it('lists the latest expiry first, at most `limit`', async () => {
      const { first, second } = await pair();
      const id = controller();
      await first.flag(id, PENALTY, 'short', T, { reason: 'r', ttlMs: 100 });
      await second.flag(id, PENALTY, 'long', T, { reason: 'r', ttlMs: 3_000 });
      await first.flag(id, PENALTY, 'mid', T, { reason: 'r', ttlMs: 2_000 });
      const values = async (now: number, limit: number) =>
        (await second.penalties(id, now, limit)).map((p) => p.value);
      expect(await values(T, 10)).toEqual(['long', 'mid', 'short']);
      expect(await values(T, 2)).toEqual(['long', 'mid']);
      expect(await values(T + 100, 10)).toEqual(['long', 'mid']);
    });

    it('keeps at most maxPenaltyEntries values, dropping the earliest expiring', async () => {
      const { first, second } = await pair({ maxPenaltyEntries: 3 });
      const id = controller();
      // each later flag expires later, so "least recently flagged" and "earliest expiring" agree
      for (let i = 1; i <= 5; i++) {
        await (i % 2 ? first : second).flag(id, PENALTY, `v${i}`, T, { reason: 'r', ttlMs: i * 1_000 });
      }
      expect((await first.penalties(id, T, 10)).map((p) => p.value)).toEqual(['v5', 'v4', 'v3']);
    });

    it('keeps values and controller names with special characters apart and intact', async () => {
      const { first, second } = await pair();
      const stamp = `${Date.now().toString(36)}${++unique}`;
      const tricky: ControllerId = { domain: `d{o}m_a\\in ${stamp}`, name: 'n}a{m_e\\ 名前' };
      const values = ['{a}', '}', 'x_y', 'back\\slash', '日本語 😀', 'with space', ''];
      for (const [i, value] of values.entries()) {
        await first.flag(tricky, PENALTY, value, T, { reason: `why ${value} now`, ttlMs: 10_000 - i });
      }
      const listed = await second.penalties(tricky, T, 100);
      expect(listed.map((p) => p.value)).toEqual(values);
      expect(listed.map((p) => p.reason)).toEqual(values.map((v) => `why ${v} now`));
      // (a_b, c) and (a, b_c) are different controllers
      const left: ControllerId = { domain: `a_b${stamp}`, name: 'c' };
      const right: ControllerId = { domain: `a${stamp}`, name: 'b_c' };
      await first.flag(left, PENALTY, 'only-left', T, { reason: 'r' });
      await first.writeErrorRate(left, undefined, record(T, 0.5), 60_000);
      expect(await second.penalties(right, T, 10)).toEqual([]);
      expect((await second.readErrorRate(right, T)).record).toBeUndefined();
    });

    // only a store with an outside (Redis) can lose its record behind the stores' back
    if (outside) {
      it('reads no record once it is deleted (factor 1 again)', async () => {
        const { first, second, deleteRecord } = await pair();
        const id = controller();
        await first.writeErrorRate(id, undefined, record(T, 0.5), 60_000);
        await deleteRecord!(id);
        expect((await second.readErrorRate(id, T)).record).toBeUndefined();
        const fresh = record(T + INTERVAL, 0.5);
        expect(await second.writeErrorRate(id, undefined, fresh, 60_000)).toEqual(fresh);
      });
    }
  });
}
