/**
 * Memory footprint (`make bench-memory`): Redis bytes per live key for every algorithm next
 * to the floor Redis imposes on a key of the same length, and the heap and RSS of the memory
 * backend holding 1,000,000 live keys. Prints the result as JSON on stdout (progress and the
 * markdown fragment of memory-footprint-report.ts on stderr). About a minute.
 *
 * Run after `make build` and `npx tsc -p bench/tsconfig.json`:
 *   node dist/bench/bench/memory-footprint.js
 * Env: FOOTPRINT_REDIS_KEYS (default 100000), FOOTPRINT_MEMORY_KEYS (default 1000000),
 * FOOTPRINT_KEY_LENGTH (Redis key length, default 40).
 * Internal: `--memory-store-row <name>` measures one memory-backend row in this process.
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FOOTPRINT_CASES } from './footprint-check.js';
import {
  type MemoryFootprintResult,
  type MemoryStoreRow,
  renderMemoryFootprint,
} from './memory-footprint-report.js';
import { MAP_FLOOR, measureMemoryStoreRow } from './memory-store-footprint.js';
import { measureRedisFootprint } from './redis-footprint.js';

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);
/** The repository root: this file runs from dist/bench/bench/. */
const root = resolve(dirname(self), '../../..');
const REDIS_KEYS = Number(process.env.FOOTPRINT_REDIS_KEYS ?? 100_000);
const MEMORY_KEYS = Number(process.env.FOOTPRINT_MEMORY_KEYS ?? 1_000_000);
const KEY_LENGTH = Number(process.env.FOOTPRINT_KEY_LENGTH ?? 40);
const ROW_FLAG = '--memory-store-row';

/** Each memory-backend row in a fresh process, one after the other (no two compete for CPU). */
async function measureMemoryStore(): Promise<MemoryStoreRow[]> {
  const rows: MemoryStoreRow[] = [];
  for (const name of [MAP_FLOOR, ...FOOTPRINT_CASES.filter((c) => !c.redisOnly).map((c) => c.name)]) {
    const { stdout } = await run(process.execPath, ['--expose-gc', self, ROW_FLAG, name], {
      env: process.env,
      maxBuffer: 1 << 20,
    });
    const row = JSON.parse(stdout) as MemoryStoreRow;
    process.stderr.write(
      `memory ${name}: heap ${row.heapBytesPerKey} B/key, RSS ${row.rssBytesPerKey} B/key (${row.fillSeconds} s)\n`,
    );
    rows.push(row);
  }
  return rows;
}

async function main(): Promise<void> {
  const rowIndex = process.argv.indexOf(ROW_FLAG);
  if (rowIndex >= 0) {
    const row = await measureMemoryStoreRow(process.argv[rowIndex + 1]!, MEMORY_KEYS, KEY_LENGTH);
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  const started = performance.now();
  const redis = await measureRedisFootprint(REDIS_KEYS, KEY_LENGTH, resolve(root, 'lua'));
  const memoryStore = await measureMemoryStore();
  const result: MemoryFootprintResult = {
    date: new Date().toISOString().slice(0, 10),
    node: process.versions.node,
    redis,
    memoryStore,
    seconds: Math.round((performance.now() - started) / 1000),
  };
  process.stderr.write(`\n${renderMemoryFootprint(result).join('\n')}\n\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
