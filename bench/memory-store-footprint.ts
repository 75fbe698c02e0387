/**
 * Heap and RSS per live key of MemoryCounterStore, measured in a process of its own (run
 * with --expose-gc) so rows do not disturb one another: gc, measure, fill N distinct keys
 * through `apply` with the checks the service builds, gc, measure again.
 */

import { stateKey } from '../src/core/key-layout.js';
import { MODELS } from '../src/core/models.js';
import { MemoryCounterStore } from '../src/storage/memory-store.js';
import { FOOTPRINT_CASES, FootprintChecks } from './footprint-check.js';
import type { MemoryStoreRow } from './memory-footprint-report.js';

/** The floor row: a Map from the same key strings to one small integer, nothing else. */
export const MAP_FLOOR = 'floor: Map<key, 0>';

/** A fixed service clock (no sweep runs: nothing expires at this instant). */
const NOW_MS = 1_700_000_040_000;

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage();
}

/** Measures one row: a FOOTPRINT_CASES name or MAP_FLOOR. */
export async function measureMemoryStoreRow(
  name: string,
  n: number,
  keyLength: number,
): Promise<MemoryStoreRow> {
  const c = name === MAP_FLOOR ? FOOTPRINT_CASES[0]! : FOOTPRINT_CASES.find((x) => x.name === name);
  if (c === undefined) throw new Error(`unknown case ${name}`);
  n = Math.round(n * (name === MAP_FLOOR ? 1 : c.keyShare));
  const checks = new FootprintChecks(c, keyLength);
  const windowed = MODELS[c.algorithm].windowed;
  const meanKeyLength = stateKey(checks.check(0), windowed, NOW_MS).length;
  const before = collect();
  const started = performance.now();
  let live: () => number;
  if (name === MAP_FLOOR) {
    const map = new Map<string, number>();
    for (let i = 0; i < n; i++) map.set(stateKey(checks.check(i), windowed, NOW_MS), 0);
    live = () => map.size;
  } else {
    const store = new MemoryCounterStore({ sweepIntervalMs: 0 });
    for (let round = 0; round < c.rounds; round++) {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        pending.push(store.apply([checks.check(i)], NOW_MS + round));
        if (pending.length === 10_000) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
    }
    live = () => store.size();
  }
  const fillMs = performance.now() - started;
  const after = collect();
  if (live() !== n) throw new Error(`${name}: expected ${n} live keys, found ${live()}`);
  const perKey = (delta: number) => +(delta / n).toFixed(1);
  const mb = (bytes: number) => +(bytes / 1e6).toFixed(1);
  return {
    name,
    algorithm: name === MAP_FLOOR ? undefined : c.algorithm,
    keys: n,
    eventsPerKey: name === MAP_FLOOR ? 0 : c.rounds,
    meanKeyLength,
    heapBytesPerKey: perKey(after.heapUsed - before.heapUsed),
    rssBytesPerKey: perKey(after.rss - before.rss),
    heapUsedMb: mb(after.heapUsed),
    rssMb: mb(after.rss),
    heapDeltaMb: mb(after.heapUsed - before.heapUsed),
    rssDeltaMb: mb(after.rss - before.rss),
    baselineRssMb: mb(before.rss),
    fillSeconds: +(fillMs / 1000).toFixed(1),
  };
}
