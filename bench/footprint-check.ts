/**
 * The counters `make bench-memory` fills: one CounterCheck per (case, key index), shaped
 * exactly as src/service/rate-limit-service.ts builds it (counterKey + the rule's key tag),
 * for a descriptor `(client_id, c000…<i>)` in domain `apigw`, its value padded so that the
 * full Redis key (core/key-layout.ts) is `keyLength` characters.
 */

import type { Algorithm } from '../src/core/algorithm.js';
import { counterKey, keyTag, redisKey } from '../src/core/key-layout.js';
import { isChargedWhenRejected } from '../src/core/limit.js';
import { MODELS } from '../src/core/models.js';
import { UNIT_SECONDS, type Unit } from '../src/core/units.js';
import type { CounterCheck } from '../src/storage/counter-store.js';

/** One measured configuration: an algorithm, a limit, and how many requests each key gets. */
export interface FootprintCase {
  /** Row name, e.g. `token_bucket (fractional TAT)`. */
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly requestsPerUnit: number;
  readonly unit: Unit;
  /** Requests of 1 hit per key, each at a later ms (sliding_log: the events per key). */
  readonly rounds: number;
  /**
   * Share of the row's N keys this case fills (sliding_log: 1/8, to keep its 10 rounds
   * short). 1/8 of N keeps the same dict and Map fill ratio (both grow in powers of two),
   * so the per-key cost of their bucket arrays stays comparable.
   */
  readonly keyShare: number;
  /** Measured on Redis only: the memory backend holds every number as a double either way. */
  readonly redisOnly: boolean;
  /** What the stored state looks like, for the report. */
  readonly note: string;
}

/**
 * TTLs are all ≥ 60 s so no key expires while it is measured: a token bucket's key lives
 * until its TAT (now + one emission interval), hence the hourly token-bucket limits.
 */
export const FOOTPRINT_CASES: readonly FootprintCase[] = [
  {
    name: 'fixed_window',
    algorithm: 'fixed_window',
    requestsPerUnit: 100,
    unit: 'MINUTE',
    rounds: 1,
    keyShare: 1,
    redisOnly: false,
    note: '100/min, count 1; reference key `…_<window start>`, no tag',
  },
  {
    name: 'token_bucket',
    algorithm: 'token_bucket',
    requestsPerUnit: 60,
    unit: 'HOUR',
    rounds: 1,
    keyShare: 1,
    redisOnly: false,
    note: '60/h: emission interval 60 000 ms, so the TAT is a whole ms',
  },
  {
    name: 'token_bucket (fractional TAT)',
    algorithm: 'token_bucket',
    requestsPerUnit: 7,
    unit: 'HOUR',
    rounds: 1,
    keyShare: 1,
    redisOnly: true,
    note: '7/h: interval 514 285.7148… ms, so the TAT has a fraction',
  },
  {
    name: 'sliding_window',
    algorithm: 'sliding_window',
    requestsPerUnit: 100,
    unit: 'MINUTE',
    rounds: 1,
    keyShare: 1,
    redisOnly: false,
    note: '100/min, one hit: { w, c = 1, p = 0 }',
  },
  {
    name: 'sliding_log (10 events)',
    algorithm: 'sliding_log',
    requestsPerUnit: 100,
    unit: 'MINUTE',
    rounds: 10,
    keyShare: 0.125,
    redisOnly: false,
    note: '100/min, 10 requests of 1 hit per key',
  },
];

const DOMAIN = 'apigw';
const ENTRY_KEY = 'client_id';

/** Builds the checks of one case; `keyLength` is the Redis key length to aim for. */
export class FootprintChecks {
  private readonly padding: number;
  private readonly tag: string;

  constructor(
    readonly footprintCase: FootprintCase,
    keyLength: number,
  ) {
    // a lone `rate_limit`, as the checks' chargedWhenRejected says
    this.tag = keyTag(footprintCase.algorithm, footprintCase.unit, false);
    // the value is 'c' + `padding` digits; with 'c' alone the key is `shortest` long
    const shortest = redisKey(this.build('c'), MODELS[footprintCase.algorithm].windowed, Date.now()).length;
    this.padding = Math.max(7, keyLength - shortest);
  }

  /** The check of key `index` (0 ≤ index < 10^7 at least). */
  check(index: number): CounterCheck {
    return this.build(`c${String(index).padStart(this.padding, '0')}`);
  }

  private build(value: string): CounterCheck {
    const c = this.footprintCase;
    return {
      key: counterKey('', DOMAIN, [{ key: ENTRY_KEY, value }], 'escaped'),
      tag: this.tag,
      requestsPerUnit: c.requestsPerUnit,
      unitSeconds: UNIT_SECONDS[c.unit],
      algorithm: c.algorithm,
      burst: c.requestsPerUnit,
      hits: 1,
      blocking: true,
      chargedWhenRejected: isChargedWhenRejected(c.algorithm, false),
    };
  }
}
