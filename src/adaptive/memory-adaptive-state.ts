import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/system-clock.js';
import type {
  AdaptiveStateStore,
  ControllerId,
  ErrorRateRead,
  ErrorRateRecord,
  PenaltyEntry,
  SampleAdd,
} from './adaptive-state.js';
import type { PenaltyParams } from './controller-params.js';
import type { IntervalTotals } from './error-rate-controller.js';
import { type FlagOptions, type FlagResult, PenaltyBox } from './penalty-box.js';

export interface MemoryAdaptiveStateOptions {
  /** Values one penalty box keeps at most (PenaltyBox maxEntries); default 100 000. */
  readonly maxPenaltyEntries?: number;
  /** Clock of the records' ttl (writeErrorRate's `ttlMs`); default the system clock. */
  readonly clock?: Clock;
}

/** Intervals of sums kept behind the newest one added (the Redis store's keys live as long). */
const SAMPLE_INTERVALS_KEPT = 4;

/**
 * The adaptive module's state for one process (the memory backend): the same semantics as
 * storage/redis/redis-adaptive-state.ts, held in Maps, with one PenaltyBox per abuse
 * controller (so escalation is PenaltyBox's, i.e. nextPenalty's). Nothing here is async
 * work; the methods return promises for the interface.
 *
 * A controller's box is rebuilt empty when it is flagged with other PenaltyParams than
 * it was built with (a config reload that changed `penalty`).
 */
export function createMemoryAdaptiveState(options: MemoryAdaptiveStateOptions = {}): AdaptiveStateStore {
  const clock = options.clock ?? systemClock;
  const records = new Map<string, { record: ErrorRateRecord; expiresAtMs: number }>();
  const sums = new Map<string, Map<number, { total: number; errors: number }>>();
  const boxes = new Map<string, PenaltyBox>();

  const recordOf = (id: string): ErrorRateRecord | undefined => {
    const stored = records.get(id);
    if (stored === undefined) return undefined;
    if (clock.nowMs() < stored.expiresAtMs) return stored.record;
    records.delete(id);
    return undefined;
  };

  return {
    scope: 'process',

    addSamples(adds: readonly SampleAdd[]): Promise<void> {
      for (const add of adds) {
        const id = controllerKey(add.id);
        let intervals = sums.get(id);
        if (intervals === undefined) {
          intervals = new Map();
          sums.set(id, intervals);
        }
        const oldest = add.intervalStartMs - SAMPLE_INTERVALS_KEPT * add.intervalMs;
        for (const start of intervals.keys()) if (start < oldest) intervals.delete(start);
        const totals = intervals.get(add.intervalStartMs);
        if (totals === undefined)
          intervals.set(add.intervalStartMs, { total: add.total, errors: add.errors });
        else {
          totals.total += add.total;
          totals.errors += add.errors;
        }
      }
      return Promise.resolve();
    },

    readErrorRate(id: ControllerId, intervalStartMs: number): Promise<ErrorRateRead> {
      const key = controllerKey(id);
      const found = sums.get(key)?.get(intervalStartMs);
      const totals: IntervalTotals = { total: found?.total ?? 0, errors: found?.errors ?? 0 };
      return Promise.resolve({ record: recordOf(key), totals });
    },

    writeErrorRate(
      id: ControllerId,
      expectedClosedStartMs: number | undefined,
      next: ErrorRateRecord,
      ttlMs: number,
    ): Promise<ErrorRateRecord | undefined> {
      const key = controllerKey(id);
      const current = recordOf(key);
      if (current?.closedStartMs !== expectedClosedStartMs) return Promise.resolve(current);
      const record = { ...next };
      records.set(key, { record, expiresAtMs: clock.nowMs() + ttlMs });
      return Promise.resolve(record);
    },

    flag(
      id: ControllerId,
      penalty: PenaltyParams,
      value: string,
      nowMs: number,
      flagOptions: FlagOptions,
    ): Promise<FlagResult> {
      const key = controllerKey(id);
      let box = boxes.get(key);
      if (box === undefined || !samePenalty(box.penalty, penalty)) {
        box = new PenaltyBox({ ...penalty }, { maxEntries: options.maxPenaltyEntries });
        boxes.set(key, box);
      }
      return Promise.resolve(box.flag(value, nowMs, flagOptions));
    },

    penalties(id: ControllerId, nowMs: number, limit: number): Promise<PenaltyEntry[]> {
      const box = boxes.get(controllerKey(id));
      if (box === undefined || !(limit >= 1)) return Promise.resolve([]);
      // O(values remembered): the box keeps flag order, this view wants latest expiry first
      const boxed = box.snapshot(nowMs, Number.MAX_SAFE_INTEGER).entries;
      const latestFirst = [...boxed].sort((a, b) => b.expiresAtMs - a.expiresAtMs).slice(0, limit);
      return Promise.resolve(
        latestFirst.map(({ value, expiresAtMs, reason, offences }) => ({
          value,
          expiresAtMs,
          reason,
          offences,
        })),
      );
    },

    close(): Promise<void> {
      records.clear();
      sums.clear();
      boxes.clear();
      return Promise.resolve();
    },
  };
}

/** One Map key per (domain, name), injective whatever characters they hold. */
function controllerKey(id: ControllerId): string {
  return JSON.stringify([id.domain, id.name]);
}

function samePenalty(a: PenaltyParams, b: PenaltyParams): boolean {
  return (
    a.factor === b.factor && a.ttlMs === b.ttlMs && a.escalate === b.escalate && a.maxTtlMs === b.maxTtlMs
  );
}
