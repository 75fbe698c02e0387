/**
 * The result of `make bench-memory` (bench/memory-footprint.ts) and its markdown fragment,
 * for BENCHMARKS.md. Targets are those of the memory-footprint performance issue.
 */

/** Redis bytes per key allowed, for keys of about 40 characters. */
export const REDIS_TARGET_BYTES: Readonly<Record<string, number>> = {
  fixed_window: 90,
  token_bucket: 80,
  sliding_window: 200,
};
/** The memory backend holds 1,000,000 live keys in less than this (heap and RSS). */
export const MEMORY_TARGET_MB_PER_MILLION = 300;

export interface RedisFootprintRow {
  readonly name: string;
  readonly keys: number;
  readonly keysWithTtl: number;
  readonly meanKeyLength: number;
  /** used_memory after − before, bytes. */
  readonly usedMemoryDelta: number;
  readonly bytesPerKey: number;
  /** Seconds the fill took. */
  readonly fillSeconds: number;
  readonly sampleKey: string;
  /** OBJECT ENCODING of the sample key. */
  readonly encoding: string;
  readonly sampleValue: string;
  /** MEMORY USAGE of the sample key (Redis's estimate: key, value, dict entry; no expires entry or buckets). */
  readonly memoryUsage: number;
}

export interface RedisAlgorithmRow extends RedisFootprintRow {
  readonly algorithm: string;
  readonly note: string;
  /** Name of the floor row it is compared with. */
  readonly floor: string;
  readonly floorBytesPerKey: number;
  readonly ratioToFloor: number;
}

export interface RedisFootprint {
  readonly redisVersion: string;
  readonly allocator: string;
  readonly config: Readonly<Record<string, string>>;
  readonly keysPerRow: number;
  readonly targetKeyLength: number;
  readonly floors: readonly RedisFootprintRow[];
  readonly algorithms: readonly RedisAlgorithmRow[];
}

export interface MemoryStoreRow {
  readonly name: string;
  readonly algorithm: string | undefined;
  readonly keys: number;
  readonly eventsPerKey: number;
  readonly meanKeyLength: number;
  /** heapUsed after − before (both after full GCs), per key. */
  readonly heapBytesPerKey: number;
  readonly rssBytesPerKey: number;
  /** Absolute heapUsed and RSS of the measuring process with the keys held, MB (10^6 bytes). */
  readonly heapUsedMb: number;
  readonly rssMb: number;
  readonly heapDeltaMb: number;
  readonly rssDeltaMb: number;
  readonly baselineRssMb: number;
  readonly fillSeconds: number;
}

export interface MemoryFootprintResult {
  readonly date: string;
  readonly node: string;
  readonly redis: RedisFootprint;
  readonly memoryStore: readonly MemoryStoreRow[];
  readonly seconds: number;
}

function verdict(value: number, target: number | undefined, strict = false): string {
  if (target === undefined) return '—';
  const ok = strict ? value < target : value <= target;
  return `${strict ? '<' : '≤'} ${target} ${ok ? '✅' : '❌'}`;
}

/** The markdown lines of the memory-footprint section. */
export function renderMemoryFootprint(result: MemoryFootprintResult): string[] {
  const r = result.redis;
  const lines = [
    '## Memory footprint',
    '',
    `Measured ${result.date} by \`make bench-memory\` (bench/memory-footprint.ts, ${result.seconds} s), ` +
      `Node ${result.node}, Redis ${r.redisVersion} (${r.allocator}, maxmemory-policy ${r.config['maxmemory-policy']}).`,
    '',
    `### Redis: bytes per live key (keys of ~${r.targetKeyLength} characters)`,
    '',
    '`used_memory` after − before, divided by the keys: key, value, both dict entries and the dict',
    'bucket arrays (which grow in powers of two, so this includes their slack at this key count).',
    'The floor is the cheapest key of the same Redis type and length with a TTL.',
    '',
    '| algorithm | state | keys | key length | encoding | bytes/key | floor | floor bytes/key | × floor | target |',
    '|---|---|---:|---:|---|---:|---|---:|---:|---|',
  ];
  for (const a of r.algorithms) {
    lines.push(
      `| ${a.name} | ${a.note} | ${a.keys} | ${a.meanKeyLength} | ${a.encoding} | ${a.bytesPerKey} | \`${a.floor}\` | ` +
        `${a.floorBytesPerKey} | ${a.ratioToFloor}× | ${verdict(a.bytesPerKey, REDIS_TARGET_BYTES[a.algorithm])} |`,
    );
  }
  lines.push('', '| floor | keys | key length | encoding | bytes/key |', '|---|---:|---:|---|---:|');
  for (const f of r.floors) {
    lines.push(`| \`${f.name}\` | ${f.keys} | ${f.meanKeyLength} | ${f.encoding} | ${f.bytesPerKey} |`);
  }
  lines.push(
    '',
    '### Memory backend: heap and RSS per live key',
    '',
    'One process per row (`--expose-gc`), heap and RSS after full GCs, before and after filling',
    'a MemoryCounterStore through `apply` with the checks the service builds. The floor row is a',
    'bare `Map` from the same key strings to 0, kept as V8 built them (ropes of concatenated pieces;',
    'the store flattens each new key). Each key gets one request (sliding_log: 10).',
    'MB per 1M keys = the worse of heap and RSS growth per key × 10^6',
    '(MB = 10^6 bytes); the process RSS adds its ~45–70 MB baseline.',
    '',
    '| row | keys | events/key | key length | heap B/key | RSS B/key | heap Δ MB | RSS Δ MB | process RSS MB | MB per 1M keys | target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const row of result.memoryStore) {
    const perMillion = Math.max(row.heapBytesPerKey, row.rssBytesPerKey);
    const target =
      row.algorithm === undefined ? '—' : verdict(perMillion, MEMORY_TARGET_MB_PER_MILLION, true);
    lines.push(
      `| ${row.name} | ${row.keys} | ${row.eventsPerKey} | ${row.meanKeyLength} | ${row.heapBytesPerKey} | ` +
        `${row.rssBytesPerKey} | ${row.heapDeltaMb} | ${row.rssDeltaMb} | ${row.rssMb} | ${Math.round(perMillion)} | ${target} |`,
    );
  }
  return lines;
}
