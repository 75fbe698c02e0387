import type { Cluster, Redis } from 'ioredis';
import { toResetSeconds } from '../../core/algorithm.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../counter-store.js';
import { hashSlot } from './hash-slot.js';
import {
  APPLY_REPLY_PER_CHECK,
  type ApplyCommand,
  type ApplyScript,
  applyCommand,
  loadApplyScript,
} from './lua-scripts.js';
import { redisKey } from './redis-keys.js';

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
}

/**
 * TTL slack (ms) added in 'caller' mode: the caller's clock is not the one Redis
 * expires keys by (a test clock may stand still while real time passes), so a key
 * must outlive its state by the caller's clock. A longer TTL never changes a
 * decision: a state past its expiry equals no state.
 */
export const CALLER_CLOCK_TTL_SLACK_MS = 1_000;

/** One client and its script commands, by key count (made on first use). */
class Target {
  readonly cluster: boolean;
  private readonly commands: ApplyCommand[] = [];

  constructor(
    private readonly client: Redis | Cluster,
    private readonly script: ApplyScript,
  ) {
    this.cluster = client.isCluster;
  }

  command(numberOfKeys: number): ApplyCommand {
    let command = this.commands[numberOfKeys];
    if (command === undefined) {
      command = applyCommand(this.client, this.script, numberOfKeys);
      this.commands[numberOfKeys] = command;
    }
    return command;
  }
}

/** Checks sent in one script call: their indexes in the request. */
type Group = number[];

/**
 * The Redis backend: every decision runs `lua/apply.lua`, which checks every limit
 * and then commits, with the maths of src/core, so answers equal the memory store's.
 *
 * Round trips: one script call per (client, slot group). Single Redis: exactly one
 * call for the whole request (two with REDIS_PERSECOND when it has per-second and
 * other limits). Cluster: the checks are grouped by hash slot — all limits of one
 * descriptor share a slot (redis-keys.ts), a reference-format fixed-window key has
 * its own — and the groups run in parallel. Concurrent requests share a connection
 * through ioredis auto-pipelining (enable `enableAutoPipelining` on the clients).
 *
 * Atomicity: each script call is atomic. Across calls (slots, or the per-second
 * Redis) it is not: every group decides and commits on its own, so a rejection in
 * one slot cannot un-charge another, and STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT
 * only sees the checks of its own group — exactly like the reference's independent
 * INCRBYs. A request whose limits all live in one slot (one descriptor) is atomic.
 *
 * Errors from Redis reject `apply` with the Redis error itself; the service wraps it.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis';
  private readonly main: Target;
  private readonly perSecond: Target | undefined;
  private readonly clients: readonly (Redis | Cluster)[];
  private readonly jitterMaxSeconds: number;
  private readonly stopIncrement: string;
  private readonly clock: string;
  private readonly slackMs: number;
  private closed = false;

  /** Prefer `RedisCounterStore.create`, which loads the script; `script` comes from `loadApplyScript`. */
  constructor(options: RedisCounterStoreOptions, script: ApplyScript) {
    this.main = new Target(options.client, script);
    this.perSecond =
      options.perSecondClient === undefined ? undefined : new Target(options.perSecondClient, script);
    this.clients =
      options.perSecondClient === undefined ? [options.client] : [options.client, options.perSecondClient];
    this.jitterMaxSeconds = Math.max(0, Math.floor(options.expirationJitterMaxSeconds));
    this.stopIncrement = options.stopIncrementWhenOverLimit ? '1' : '0';
    this.clock = options.clockSource;
    this.slackMs = options.clockSource === 'caller' ? CALLER_CLOCK_TTL_SLACK_MS : 0;
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
    const keys = checks.map((check) => redisKey(check, nowMs));
    if (this.perSecond === undefined && !this.main.cluster) {
      await this.call(this.main, checks, keys, undefined, nowMs, decisions);
      return decisions;
    }
    const groups = new Map<number, { target: Target; group: Group }>();
    checks.forEach((check, i) => {
      const perSecond = this.perSecond !== undefined && check.unitSeconds === 1;
      const t = perSecond ? this.perSecond! : this.main;
      const id = (perSecond ? 1 : 0) * 16_384 + (t.cluster ? hashSlot(keys[i]!) : 0);
      const entry = groups.get(id);
      if (entry === undefined) groups.set(id, { target: t, group: [i] });
      else entry.group.push(i);
    });
    await Promise.all(
      [...groups.values()].map(({ target: t, group }) => this.call(t, checks, keys, group, nowMs, decisions)),
    );
    return decisions;
  }

  /** True while every client is connected and ready. */
  isReady(): boolean {
    return !this.closed && this.clients.every((client) => client.status === 'ready');
  }

  /**
   * Stops this store answering (later `apply` calls reject). It does NOT quit the
   * clients: the composition root created them, may share them, and quits them.
   */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** One script call for the checks at `group` (every check when undefined); fills `out`. */
  private async call(
    t: Target,
    checks: readonly CounterCheck[],
    keys: readonly string[],
    group: Group | undefined,
    nowMs: number,
    out: CounterDecision[],
  ): Promise<void> {
    const n = group === undefined ? checks.length : group.length;
    const jitter = this.jitterMaxSeconds > 0 ? Math.floor(Math.random() * this.jitterMaxSeconds) : 0;
    const args: (string | number)[] = [];
    for (let j = 0; j < n; j++) args.push(keys[group === undefined ? j : group[j]!]!);
    args.push(nowMs, this.clock, this.stopIncrement, jitter, jitter * 1000 + this.slackMs);
    for (let j = 0; j < n; j++) {
      const c = checks[group === undefined ? j : group[j]!]!;
      args.push(c.algorithm, c.requestsPerUnit, c.unitSeconds, c.burst, c.hits, c.blocking ? '1' : '0');
    }
    const reply = (await t.command(n)(...args)) as (number | string)[];
    for (let j = 0; j < n; j++) {
      const at = j * APPLY_REPLY_PER_CHECK;
      out[group === undefined ? j : group[j]!] = {
        overLimit: reply[at] !== 1,
        remaining: Number(reply[at + 1]),
        resetSeconds: toResetSeconds(Number(reply[at + 2])),
        used: Number(reply[at + 3]),
      };
    }
  }
}
