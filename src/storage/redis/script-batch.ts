import { ReplyError } from 'ioredis';
import { toResetSeconds } from '../../core/algorithm.js';
import type { CounterCheck, CounterDecision } from '../counter-store.js';
import { APPLY_REPLY_PER_CHECK, type ApplyCommand } from './lua-scripts.js';

/** The call-wide part of apply.lua's ARGV: ARGV[1..4] (ARGV[5], the request count, is added on send). */
export interface BatchHeader {
  readonly clock: 'redis' | 'caller';
  /** '1' | '0'. */
  readonly stopIncrement: string;
  /** Whole seconds added to fixed_window TTLs. */
  readonly jitterSeconds: number;
  /** Whole ms added to every other TTL. */
  readonly extraTtlMs: number;
}

interface Pending {
  /** Index of the request's first check in the call. */
  readonly first: number;
  /** Where each of its checks' decisions go in `out` (undefined: 0..n-1). */
  readonly indexes: readonly number[] | undefined;
  readonly n: number;
  readonly out: CounterDecision[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * One apply.lua call being filled: the checks of one or more requests bound for
 * the same Redis node and hash slot, run in order in one atomic script call.
 * A request failing in Redis (reply -1) rejects alone with a ReplyError carrying
 * Redis's message; a failing call rejects every request in it.
 */
export class ScriptBatch {
  private readonly keys: string[] = [];
  private readonly args: (string | number)[] = [];
  private readonly pending: Pending[] = [];

  /** Checks queued so far. */
  get size(): number {
    return this.keys.length;
  }

  /**
   * Queues the checks of one request (those at `indexes`, or all): they are
   * answered into `out` at the same positions when the returned promise resolves.
   */
  add(
    checks: readonly CounterCheck[],
    keys: readonly string[],
    indexes: readonly number[] | undefined,
    nowMs: number,
    out: CounterDecision[],
  ): Promise<void> {
    const n = indexes === undefined ? checks.length : indexes.length;
    const first = this.keys.length;
    this.args.push(nowMs, n);
    for (let j = 0; j < n; j++) {
      const i = indexes === undefined ? j : indexes[j]!;
      const c = checks[i]!;
      this.keys.push(keys[i]!);
      this.args.push(
        c.algorithm,
        c.requestsPerUnit,
        c.unitSeconds,
        c.burst,
        c.hits,
        c.blocking ? '1' : '0',
        c.chargedWhenRejected ? '1' : '0',
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ first, indexes, n, out, resolve, reject });
    });
  }

  /** Sends the call (once) and settles every queued request from its reply. */
  send(command: ApplyCommand, header: BatchHeader): void {
    const argv = [
      header.clock,
      header.stopIncrement,
      header.jitterSeconds,
      header.extraTtlMs,
      this.pending.length,
      ...this.args,
    ];
    command(this.keys, argv).then(
      (reply) => this.settle(reply as (number | string)[]),
      (error: Error) => {
        for (const p of this.pending) p.reject(error);
      },
    );
  }

  private settle(reply: readonly (number | string)[]): void {
    for (const p of this.pending) {
      const base = p.first * APPLY_REPLY_PER_CHECK;
      if (reply[base] === -1) {
        p.reject(new ReplyError(String(reply[base + 2])));
        continue;
      }
      for (let j = 0; j < p.n; j++) {
        const at = base + j * APPLY_REPLY_PER_CHECK;
        p.out[p.indexes === undefined ? j : p.indexes[j]!] = {
          overLimit: reply[at] !== 1,
          remaining: Number(reply[at + 1]),
          resetSeconds: toResetSeconds(Number(reply[at + 2])),
          used: Number(reply[at + 3]),
        };
      }
      p.resolve();
    }
  }
}
