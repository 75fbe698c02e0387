import { Lru } from '../core/lru.js';
import type { PenaltyParams } from './controller-params.js';

/** Values remembered by one penalty box unless the caller says otherwise. */
export const DEFAULT_PENALTY_BOX_ENTRIES = 100_000;

/** At most this many forgotten entries (the oldest) are dropped by one `flag()`. */
const SWEEP = 4;

export interface FlagOptions {
  /** Time in the box, ms, taken as given (a signal's own `ttl`); absent: the escalated penalty.ttl. */
  readonly ttlMs?: number;
  /** Why: 'over_limit_ratio', 'spike', a signal's `reason` ('waf' …). Shown by `/v1/adaptive`. */
  readonly reason: string;
}

/** What one `flag()` did. */
export interface FlagResult {
  readonly expiresAtMs: number;
  /** Offences remembered for the value, this one included. */
  readonly offences: number;
  /** False when the value was still boxed: the penalty was extended, not escalated. */
  readonly newOffence: boolean;
}

/** One boxed value as `/v1/adaptive` lists it. */
export interface PenaltyView {
  readonly value: string;
  readonly factor: number;
  readonly expiresAtMs: number;
  readonly reason: string;
  readonly offences: number;
}

export interface PenaltyBoxSnapshot {
  /** Values boxed now (all of them, not only the listed ones). */
  readonly boxed: number;
  /** Up to `limit` boxed values, least recently flagged first. */
  readonly entries: readonly PenaltyView[];
  readonly truncated: boolean;
  /** Values remembered (boxed, or released with offences not yet forgotten). */
  readonly size: number;
  /** Values dropped to keep within maxEntries since construction. */
  readonly evictions: number;
}

/** What a penalty box remembers of one value between flags. */
export interface PenaltyState {
  /** End of its current (or last) penalty, ms since the epoch. */
  readonly expiresAtMs: number;
  /** Offences remembered, the last one included. */
  readonly offences: number;
}

/** Penalty length of offence `n` (from 1) without an explicit ttl: min(max_ttl, ttl × escalate^(n−1)), ms. */
export function escalatedTtlMs(penalty: PenaltyParams, n: number): number {
  return Math.min(penalty.maxTtlMs, penalty.ttlMs * penalty.escalate ** Math.max(0, n - 1));
}

/** True once `max_ttl` has passed since the value's penalty ended: its offences no longer count. */
export function forgotten(state: PenaltyState, nowMs: number, penalty: PenaltyParams): boolean {
  return nowMs >= state.expiresAtMs + penalty.maxTtlMs;
}

/**
 * The escalation rule, the one place it lives (see {@link PenaltyBox} for the rule in words):
 * what flagging a value whose remembered state is `previous` (undefined: none) does at `nowMs`.
 * Used by PenaltyBox.flag and by the shared stores (storage/redis/redis-adaptive-state.ts),
 * which read `previous`, apply this, and write the result.
 */
export function nextPenalty(
  previous: PenaltyState | undefined,
  nowMs: number,
  penalty: PenaltyParams,
  options: Pick<FlagOptions, 'ttlMs'>,
): FlagResult {
  const remembered = previous !== undefined && !forgotten(previous, nowMs, penalty) ? previous : undefined;
  if (remembered !== undefined && nowMs < remembered.expiresAtMs) {
    // still boxed: not a new offence; extended by its current offence's ttl, never shortened
    const ttlMs = options.ttlMs ?? escalatedTtlMs(penalty, remembered.offences);
    const expiresAtMs = Math.max(remembered.expiresAtMs, nowMs + ttlMs);
    return { expiresAtMs, offences: remembered.offences, newOffence: false };
  }
  const offences = (remembered?.offences ?? 0) + 1;
  const ttlMs = options.ttlMs ?? escalatedTtlMs(penalty, offences);
  return { expiresAtMs: nowMs + ttlMs, offences, newOffence: true };
}

interface Entry extends PenaltyState {
  readonly reason: string;
}

/**
 * The penalty box of one `abuse` controller: values of a node's key whose limit is multiplied
 * by `penalty.factor` (0 blocks) until their penalty expires. Pure and clock-driven: time is
 * passed in, expiry is checked when read, nothing runs by itself.
 *
 * Escalation (fail2ban's bantime.increment): offence n of a value is boxed for
 * min(max_ttl, ttl × escalate^(n−1)). An offence is forgotten once `max_ttl` has passed since
 * the value's last penalty ended without a new one: the next flag is offence 1 again. So a
 * value at the cap stays at the cap while it keeps offending, and a value that behaves for
 * as long as the longest penalty starts over.
 *
 * Flagging a value that is still boxed is not a new offence (the abuse detector sees a boxed
 * value keep hitting its reduced limit every interval; counting that would escalate within
 * one penalty): the expiry moves to max(current, now + the ttl of its current offence) and
 * the reason is replaced. A flag never shortens a penalty.
 *
 * An explicit `ttlMs` (a signal that names its own ttl) is used as given, neither escalated
 * nor capped, and counts as an offence for later escalation.
 *
 * Memory: at most `maxEntries` values (default 100 000), in order of their last flag. When
 * full, the least recently flagged value is dropped, boxed or not (counted in `evictions`);
 * forgotten entries are dropped lazily when read and by each flag's look at the oldest few.
 */
export class PenaltyBox {
  private readonly entries: Lru<Entry>;

  constructor(
    readonly penalty: PenaltyParams,
    options: { readonly maxEntries?: number } = {},
  ) {
    this.entries = new Lru<Entry>(options.maxEntries ?? DEFAULT_PENALTY_BOX_ENTRIES);
  }

  /** Puts `value` in the box now (or extends its penalty); see the class doc for escalation. */
  flag(value: string, nowMs: number, options: FlagOptions): FlagResult {
    this.sweep(nowMs);
    const result = nextPenalty(this.entries.peek(value), nowMs, this.penalty, options);
    this.entries.set(value, {
      expiresAtMs: result.expiresAtMs,
      offences: result.offences,
      reason: options.reason,
    });
    return result;
  }

  /** The factor for `value` at `nowMs`: penalty.factor while boxed, else 1. O(1), no allocation. */
  factorFor(value: string, nowMs: number): number {
    const entry = this.entries.peek(value);
    if (entry === undefined) return 1;
    if (nowMs < entry.expiresAtMs) return this.penalty.factor;
    if (this.forgotten(entry, nowMs)) this.entries.delete(value);
    return 1;
  }

  /** Penalty length of offence `n` (from 1) without an explicit ttl, ms. */
  escalatedTtlMs(n: number): number {
    return escalatedTtlMs(this.penalty, n);
  }

  /** Values remembered, boxed or not. */
  get size(): number {
    return this.entries.size;
  }

  /** The boxed values for `/v1/adaptive`, at most `limit` listed (O(size): a debug view, not the hot path). */
  snapshot(nowMs: number, limit = 100): PenaltyBoxSnapshot {
    const listed: PenaltyView[] = [];
    let boxed = 0;
    for (const [value, entry] of this.entries.entries()) {
      if (nowMs >= entry.expiresAtMs) continue;
      boxed++;
      if (listed.length < limit) {
        const { expiresAtMs, reason, offences } = entry;
        listed.push({ value, factor: this.penalty.factor, expiresAtMs, reason, offences });
      }
    }
    return {
      boxed,
      entries: listed,
      truncated: boxed > listed.length,
      size: this.entries.size,
      evictions: this.entries.evictions,
    };
  }

  private forgotten(entry: Entry, nowMs: number): boolean {
    return forgotten(entry, nowMs, this.penalty);
  }

  /** Drops the oldest values while they are forgotten, at most a few per call. */
  private sweep(nowMs: number): void {
    for (let i = 0; i < SWEEP; i++) {
      const oldest = this.entries.oldestKey();
      if (oldest === undefined || !this.forgotten(this.entries.peek(oldest)!, nowMs)) return;
      this.entries.delete(oldest);
    }
  }
}
