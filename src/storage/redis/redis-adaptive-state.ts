import type {
  AdaptiveStateStore,
  ControllerId,
  ErrorRateRead,
  ErrorRateRecord,
  PenaltyEntry,
  SampleAdd,
} from '../../adaptive/adaptive-state.js';
import type { PenaltyParams } from '../../adaptive/controller-params.js';
import type { ErrorRateDecision } from '../../adaptive/error-rate-controller.js';
import {
  DEFAULT_PENALTY_BOX_ENTRIES,
  type FlagOptions,
  type FlagResult,
  nextPenalty,
  type PenaltyState,
} from '../../adaptive/penalty-box.js';
import { type AdaptiveKeyPart, adaptiveKey, adaptiveKeyBase } from '../../core/key-layout.js';
import { hashSlot } from './hash-slot.js';
import { ADAPTIVE_LUA_FILES, type ApplyCommand, applyCommand, loadScriptFile } from './lua-scripts.js';
import type { RedisClient } from './redis-connection.js';

export interface RedisAdaptiveStateOptions {
  /** Start of every key (CACHE_KEY_PREFIX), inside the hash tag; default ''. */
  readonly prefix?: string;
  /** Values one penalty box keeps at most (the earliest expiring are dropped); default 100 000. */
  readonly maxPenaltyEntries?: number;
  /** Folder of the .lua files (default: the repository's `lua/`). */
  readonly scriptsDir?: string;
}

/** An interval's sums live this many intervals (they are read when the interval closes). */
const SAMPLE_INTERVALS_KEPT = 4;
/**
 * Added to every PEXPIRE computed from the caller's clock: Redis expires keys by its own
 * clock, which may differ from the callers' (and from a test's). A key that outlives its
 * state changes nothing: a penalty past its expiry is not listed, a forgotten offence
 * not counted (both judged by the caller's `nowMs`).
 */
const EXPIRE_SLACK_MS = 60_000;
/** Attempts of one flag when other replicas keep changing the value's entry in between. */
const FLAG_ATTEMPTS = 5;

interface Scripts {
  readonly writeRecord: ApplyCommand;
  readonly flag: ApplyCommand;
  readonly penalties: ApplyCommand;
}

/**
 * The adaptive module's shared state on Redis (single, Sentinel-backed or Cluster): every
 * replica and worker on one Redis sees the same sums, records and penalty boxes. Keys are
 * made by core/key-layout.ts (adaptiveKey); all keys of one controller share one Cluster
 * slot, so every operation on one controller is one call to one node.
 *
 * Round trips per call:
 * - addSamples: one pipeline (HINCRBY ×2 + PEXPIRE per add). Single Redis: 1 round trip.
 *   Cluster: one pipeline per hash slot among the adds' controllers, sent in parallel
 *   (1 round trip of latency, one request per slot touched).
 * - readErrorRate: 1 (MULTI: HGETALL record, HMGET sums).
 * - writeErrorRate: 1 (adaptive_write_record.lua, compare-and-set).
 * - flag: 2 (HGET the value's entry; adaptive_flag.lua writes what nextPenalty computed
 *   only if the entry is unchanged). When another replica changed it in between, the
 *   script answers the new entry and the flag is recomputed from it (one more call each
 *   time, at most FLAG_ATTEMPTS): two replicas flagging one value at once count one
 *   offence, not two.
 * - penalties: 1 (adaptive_penalties.lua).
 * Measured on a loopback redis-server (one socket write per round trip, 200 calls each):
 * addSamples of 3 adds over 2 controllers 1 write 0.26 ms, readErrorRate 1 / 0.26 ms,
 * writeErrorRate 1 / 0.25 ms, flag 2 / 0.43 ms, penalties (100) 1 / 0.35 ms.
 * Scripts run EVALSHA, then EVAL on NOSCRIPT (lua-scripts.ts); the files are read once,
 * on first use. Sample counts must be integers (HINCRBY).
 *
 * The client is not owned: `close` releases nothing (the backend quits its connection).
 * It must not use ioredis `keyPrefix` (keys are complete, slots are computed here).
 */
export function createRedisAdaptiveState(
  client: RedisClient,
  options: RedisAdaptiveStateOptions = {},
): AdaptiveStateStore {
  const prefix = options.prefix ?? '';
  const maxEntries = Math.max(1, Math.floor(options.maxPenaltyEntries ?? DEFAULT_PENALTY_BOX_ENTRIES));
  let scripts: Promise<Scripts> | undefined;
  const load = (): Promise<Scripts> => {
    scripts ??= Promise.all([
      loadScriptFile(ADAPTIVE_LUA_FILES.writeRecord, options.scriptsDir),
      loadScriptFile(ADAPTIVE_LUA_FILES.flag, options.scriptsDir),
      loadScriptFile(ADAPTIVE_LUA_FILES.penalties, options.scriptsDir),
    ]).then(
      ([writeRecord, flag, penalties]) => ({
        writeRecord: applyCommand(client, writeRecord),
        flag: applyCommand(client, flag),
        penalties: applyCommand(client, penalties),
      }),
      (error: unknown) => {
        scripts = undefined; // a missing file is retried by the next call, not cached
        throw error;
      },
    );
    return scripts;
  };
  const key = (id: ControllerId, part: AdaptiveKeyPart): string =>
    adaptiveKey(adaptiveKeyBase(prefix, id.domain, id.name), part);
  const boxKeys = (id: ControllerId): string[] => [key(id, { kind: 'boxed' }), key(id, { kind: 'offences' })];

  return {
    scope: 'shared',

    async addSamples(adds: readonly SampleAdd[]): Promise<void> {
      const groups = new Map<number, SampleAdd[]>();
      for (const add of adds) {
        const slot = client.isCluster ? hashSlot(adaptiveKeyBase(prefix, add.id.domain, add.id.name)) : 0;
        const group = groups.get(slot);
        if (group === undefined) groups.set(slot, [add]);
        else group.push(add);
      }
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const pipeline = client.pipeline();
          for (const add of group) {
            const samples = key(add.id, { kind: 'samples', intervalStartMs: add.intervalStartMs });
            pipeline.hincrby(samples, 'total', add.total);
            pipeline.hincrby(samples, 'errors', add.errors);
            pipeline.pexpire(samples, SAMPLE_INTERVALS_KEPT * add.intervalMs + EXPIRE_SLACK_MS);
          }
          throwFirstError(await pipeline.exec());
        }),
      );
    },

    async readErrorRate(id: ControllerId, intervalStartMs: number): Promise<ErrorRateRead> {
      const replies = await client
        .multi()
        .hgetall(key(id, { kind: 'record' }))
        .hmget(key(id, { kind: 'samples', intervalStartMs }), 'total', 'errors')
        .exec();
      const [record, sums] = throwFirstError(replies) as [Record<string, string>, (string | null)[]];
      return {
        record: parseRecord(record),
        totals: { total: Number(sums[0] ?? 0), errors: Number(sums[1] ?? 0) },
      };
    },

    async writeErrorRate(
      id: ControllerId,
      expectedClosedStartMs: number | undefined,
      next: ErrorRateRecord,
      ttlMs: number,
    ): Promise<ErrorRateRecord | undefined> {
      const fields: string[] = [
        'factor',
        String(next.factor),
        'decision',
        next.decision,
        'closedStartMs',
        String(next.closedStartMs),
        'samples',
        String(next.samples),
        'errors',
        String(next.errors),
      ];
      if (next.sinceMs !== undefined) fields.push('sinceMs', String(next.sinceMs));
      const expected = expectedClosedStartMs === undefined ? '' : String(expectedClosedStartMs);
      const { writeRecord } = await load();
      const reply = await writeRecord(
        [key(id, { kind: 'record' })],
        [expected, String(Math.max(1, Math.ceil(ttlMs))), ...fields],
      );
      return parseRecord(pairs(reply as string[]));
    },

    async flag(
      id: ControllerId,
      penalty: PenaltyParams,
      value: string,
      nowMs: number,
      options: FlagOptions,
    ): Promise<FlagResult> {
      const keys = boxKeys(id);
      const { flag } = await load();
      let stored = (await client.hget(keys[1]!, value)) ?? '';
      for (let attempt = 1; ; attempt++) {
        const result = nextPenalty(parseEntry(stored), nowMs, penalty, options);
        const reply = (await flag(keys, [
          value,
          stored,
          `${result.expiresAtMs} ${result.offences} ${options.reason}`,
          String(result.expiresAtMs),
          String(nowMs),
          String(penalty.maxTtlMs),
          String(maxEntries),
          String(EXPIRE_SLACK_MS),
        ])) as [number, string?];
        if (reply[0] === 1) return result;
        if (attempt >= FLAG_ATTEMPTS) throw new Error(`flag of ${id.domain}/${id.name}: entry kept changing`);
        stored = reply[1] ?? '';
      }
    },

    async penalties(id: ControllerId, nowMs: number, limit: number): Promise<PenaltyEntry[]> {
      if (!(limit >= 1)) return [];
      const { penalties } = await load();
      const reply = (await penalties(boxKeys(id), [String(nowMs), String(Math.floor(limit))])) as string[];
      const out: PenaltyEntry[] = [];
      for (let i = 0; i + 1 < reply.length; i += 2) {
        const entry = parseEntry(reply[i + 1]!);
        if (entry !== undefined) out.push({ value: reply[i]!, ...entry });
      }
      return out;
    },

    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}

/** The replies of a pipeline or MULTI, rejecting with the first command's error. */
function throwFirstError(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('redis transaction aborted');
  for (const [error] of replies) if (error) throw error;
  return replies.map(([, reply]) => reply);
}

/** A flat HGETALL reply as an object. */
function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

const DECISIONS: ReadonlySet<string> = new Set<ErrorRateDecision>([
  'decrease',
  'increase',
  'hold',
  'insufficient_samples',
]);

/** A stored record hash as written by writeErrorRate; undefined when absent or not one (equals no record). */
function parseRecord(hash: Record<string, string>): ErrorRateRecord | undefined {
  const { factor, decision, closedStartMs, samples, errors, sinceMs } = hash;
  if (factor === undefined || decision === undefined || !DECISIONS.has(decision)) return undefined;
  const record: ErrorRateRecord = {
    factor: Number(factor),
    decision: decision as ErrorRateDecision,
    closedStartMs: Number(closedStartMs),
    samples: Number(samples),
    errors: Number(errors),
    sinceMs: sinceMs === undefined ? undefined : Number(sinceMs),
  };
  const numbers = [record.factor, record.closedStartMs, record.samples, record.errors];
  return numbers.every(Number.isFinite) ? record : undefined;
}

/** A penalty entry "expiresAtMs offences reason" (the reason may hold spaces); undefined for ''. */
function parseEntry(entry: string): (PenaltyState & { reason: string }) | undefined {
  const first = entry.indexOf(' ');
  const second = first < 0 ? -1 : entry.indexOf(' ', first + 1);
  if (second < 0) return undefined;
  const expiresAtMs = Number(entry.slice(0, first));
  const offences = Number(entry.slice(first + 1, second));
  if (!Number.isFinite(expiresAtMs) || !Number.isFinite(offences)) return undefined;
  return { expiresAtMs, offences, reason: entry.slice(second + 1) };
}
