import type { Cluster, Redis } from 'ioredis';
import { BackendUnavailableError } from '../../core/errors.js';
import { redisKey } from '../../core/key-layout.js';
import { MODELS } from '../../core/models.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../counter-store.js';
import { HASH_SLOTS, hashSlot } from './hash-slot.js';
import {
  type ApplyCommand,
  type ApplyScript,
  applyCommand,
  loadApplyScript,
  preloadScript,
} from './lua-scripts.js';
import { type BatchHeader, ScriptBatch } from './script-batch.js';

export interface RedisCounterStoreOptions {
  /** The main Redis (single, Sentinel-backed or Cluster). Not owned: see `close`. */
  readonly client: Redis | Cluster;
  /** REDIS_PERSECOND: checks with `unitSeconds` 1 go here. Not owned either. */
  readonly perSecondClient?: Redis | Cluster | undefined;
  /**
   * EXPIRATION_JITTER_MAX_SECONDS: each call adds a random whole number of seconds
   * in [0, this) to its keys' TTLs, as the reference does (0: no jitter).
   */
  readonly expirationJitterMaxSeconds: number;
  /** STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT (see apply-checks.ts). */
  readonly stopIncrementWhenOverLimit: boolean;
  /**
   * Clock of every algorithm but fixed_window: 'redis' = the script reads Redis
   * `TIME` (production: every replica agrees); 'caller' = the `nowMs` given to
   * `apply` (tests, the contract). fixed_window always uses `nowMs`, since its key
   * carries the window start computed from it (as the reference does).
   */
  readonly clockSource: 'redis' | 'caller';
  /** Folder of the .lua files (default: the repository's `lua/`). */
  readonly scriptsDir?: string | undefined;
  /**
   * Coalesce the requests of one event-loop tick bound for the same node and slot
   * into one script call (default true): the per-EVALSHA overhead is paid once per
   * tick instead of once per request, so more decisions/s for less Redis CPU each
   * (figures in docs/performance.md). False: one call per request, pipelined by
   * ioredis auto-pipelining.
   */
  readonly coalesce?: boolean | undefined;
}

/**
 * TTL slack (ms) added in 'caller' mode: the caller's clock is not the one Redis
 * expires keys by (a test clock may stand still while real time passes), so a key
 * must outlive its state by the caller's clock. A longer TTL never changes a
 * decision: a state past its expiry equals no state.
 */
const CALLER_CLOCK_TTL_SLACK_MS = 1_000;

/**
 * Checks per script call at most: a script blocks Redis while it runs, and a coalesced
 * call's run time grows with its checks (per-check cost in docs/performance.md).
 */
export const MAX_CHECKS_PER_CALL = 256;

/** One client and the script over it. */
interface Target {
  readonly cluster: boolean;
  readonly command: ApplyCommand;
}

function target(client: Redis | Cluster, script: ApplyScript): Target {
  return { cluster: client.isCluster, command: applyCommand(client, script) };
}

/**
 * The Redis backend: every decision runs `lua/apply.lua`, which checks every limit
 * of a request and then commits, with the maths of src/core, so answers equal the
 * memory store's.
 *
 * Round trips: the checks of a request go to one script call per (client, hash
 * slot). Single Redis: one call for the whole request (two with REDIS_PERSECOND
 * when it has per-second and other limits). Cluster: checks are grouped by slot —
 * all limits of one descriptor share a slot (core/key-layout.ts); the untagged key
 * of a lone fixed window (no hash tag) has its own — and the groups run in parallel.
 * None of this depends on CACHE_KEY_FORMAT, which changes only the counter key. The requests of
 * one event-loop tick bound for the same (client, slot) are coalesced into one
 * call (`coalesce`), run one after the other inside it; on Cluster, the calls of a
 * tick to one node go out in one write through ioredis auto-pipelining.
 *
 * Atomicity: each script call is atomic, and each request in it is checked and
 * committed as a whole. Across calls (slots, or the per-second Redis) it is not:
 * every group decides and commits on its own, so a rejection in one slot cannot
 * un-charge another, and STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT only sees the
 * checks of its own group — exactly like the reference's independent INCRBYs. A
 * request whose limits all live in one slot (one descriptor) is atomic.
 *
 * Errors from Redis reject `apply` with the Redis error (a ReplyError with Redis's
 * message, or the connection error); the service wraps them.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis';
  private readonly main: Target;
  private readonly perSecond: Target | undefined;
  private readonly clients: readonly (Redis | Cluster)[];
  private readonly script: ApplyScript;
  private readonly jitterMaxSeconds: number;
  private readonly stopIncrement: string;
  private readonly clock: 'redis' | 'caller';
  private readonly slackMs: number;
  private readonly coalesce: boolean;
  /** Calls being filled this tick, by group id (client, slot). */
  private readonly open = new Map<number, { to: Target; batch: ScriptBatch }>();
  private flushScheduled = false;
  private closed = false;

  /** Prefer `RedisCounterStore.create`, which loads the script; `script` comes from `loadApplyScript`. */
  constructor(options: RedisCounterStoreOptions, script: ApplyScript) {
    this.script = script;
    this.main = target(options.client, script);
    this.perSecond =
      options.perSecondClient === undefined ? undefined : target(options.perSecondClient, script);
    this.clients =
      options.perSecondClient === undefined ? [options.client] : [options.client, options.perSecondClient];
    this.jitterMaxSeconds = Math.max(0, Math.floor(options.expirationJitterMaxSeconds));
    this.stopIncrement = options.stopIncrementWhenOverLimit ? '1' : '0';
    this.clock = options.clockSource;
    this.slackMs = options.clockSource === 'caller' ? CALLER_CLOCK_TTL_SLACK_MS : 0;
    this.coalesce = options.coalesce ?? true;
  }

  /** Reads the Lua files (once, asynchronously) and builds the store. */
  static async create(options: RedisCounterStoreOptions): Promise<RedisCounterStore> {
    return new RedisCounterStore(options, await loadApplyScript(options.scriptsDir));
  }

  /** Results in the order of `checks`; `nowMs` is the service clock (ms since the epoch). */
  async apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    if (this.closed) throw new BackendUnavailableError('redis counter store is closed');
    const decisions: CounterDecision[] = new Array(checks.length);
    if (checks.length === 0) return decisions;
    const keys = checks.map((check) => redisKey(check, MODELS[check.algorithm].windowed, nowMs));
    if (this.perSecond === undefined && !this.main.cluster) {
      await this.enqueue(0, this.main, checks, keys, undefined, nowMs, decisions);
      return decisions;
    }
    const groups = new Map<number, { to: Target; indexes: number[] }>();
    checks.forEach((check, i) => {
      // only the reference's own keys (tag '': a lone fixed window) move to the per-second Redis;
      // our limits stay with their descriptor's others, so a rate_limits list decides in one call
      const perSecond = this.perSecond !== undefined && check.unitSeconds === 1 && check.tag === '';
      const to = perSecond ? this.perSecond! : this.main;
      const id = (perSecond ? 1 : 0) * HASH_SLOTS + (to.cluster ? hashSlot(keys[i]!) : 0);
      const group = groups.get(id);
      if (group === undefined) groups.set(id, { to, indexes: [i] });
      else group.indexes.push(i);
    });
    await Promise.all(
      [...groups].map(([id, { to, indexes }]) =>
        this.enqueue(id, to, checks, keys, indexes, nowMs, decisions),
      ),
    );
    return decisions;
  }

  /**
   * Loads the decision script into `client` (one of this store's; every
   * master of a Cluster): call it on every connect, before reporting ready.
   */
  warmUp(client: Redis | Cluster): Promise<void> {
    return preloadScript(client, this.script);
  }

  /** True while every client is connected and ready. */
  isReady(): boolean {
    return !this.closed && this.clients.every((client) => client.status === 'ready');
  }

  /**
   * Stops this store answering (later `apply` calls reject; calls already queued
   * still go out). It does NOT quit the clients: the composition root created
   * them, may share them, and quits them.
   */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Adds the checks at `indexes` to the group's call of this tick (or sends them alone). */
  private enqueue(
    id: number,
    to: Target,
    checks: readonly CounterCheck[],
    keys: readonly string[],
    indexes: readonly number[] | undefined,
    nowMs: number,
    out: CounterDecision[],
  ): Promise<void> {
    if (!this.coalesce) {
      const batch = new ScriptBatch();
      const done = batch.add(checks, keys, indexes, nowMs, out);
      batch.send(to.command, this.header());
      return done;
    }
    let open = this.open.get(id);
    if (open === undefined) {
      open = { to, batch: new ScriptBatch() };
      this.open.set(id, open);
    }
    const done = open.batch.add(checks, keys, indexes, nowMs, out);
    if (open.batch.size >= MAX_CHECKS_PER_CALL) {
      this.open.delete(id);
      open.batch.send(to.command, this.header());
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return done;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const { to, batch } of this.open.values()) batch.send(to.command, this.header());
    this.open.clear();
  };

  private header(): BatchHeader {
    const jitterSeconds = this.jitterMaxSeconds > 0 ? Math.floor(Math.random() * this.jitterMaxSeconds) : 0;
    return {
      clock: this.clock,
      stopIncrement: this.stopIncrement,
      jitterSeconds,
      extraTtlMs: jitterSeconds * 1000 + this.slackMs,
    };
  }
}
