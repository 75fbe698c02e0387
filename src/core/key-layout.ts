import type { Algorithm } from './algorithm.js';
import type { DescriptorEntry } from './descriptor.js';
import { UNIT_SECONDS, type Unit } from './units.js';

/**
 * The key layout: every key and window boundary this service makes, and the
 * only place one is made. A change of key format (e.g. a collision-free
 * encoding behind a setting) happens here and nowhere else.
 *
 * ```
 * counter key      prefix + domain + "_" + (key + "_" + value + "_") per entry   pfx_domain_key_value_
 * key tag          '' for a lone fixed_window `rate_limit` (and a request's       fw60_, tb1_
 *                  `limit` override); else algorithm tag + unit seconds + "_"
 * window start     epoch-aligned start of the unit containing now, Unix seconds   1200
 *                  (windowed algorithms only: AlgorithmModel.windowed)
 *
 * memory state     counter key + tag [+ window start]
 * Redis, tag ''    counter key + window start        (windowed: envoyproxy/ratelimit's own key)
 * Redis, other     "{" + counter key + "}" + tag [+ window start]
 * local cache      counter key + tag, then NUL + [window start], NUL + hits, NUL + requests_per_unit,
 *                  NUL + unit seconds, NUL + algorithm, NUL + burst
 * ```
 *
 * - The counter key of a lone fixed window plus its window start is
 *   envoyproxy/ratelimit's key byte for byte (src/limiter/cache_key.go,
 *   `GenerateCacheKey`), e.g. `domain_key_value_1234`, and its Redis value is
 *   that service's plain integer counter, so a fleet mixing both shares it during
 *   a migration. `_` is not escaped, as there: `(a, b_c)` and `(a_b, c)` share a
 *   counter.
 * - The tag keeps limits on the same entries apart; it is unique within a node
 *   because `rate_limits` rejects two entries with the same algorithm and unit.
 * - Redis: the hash tag `{counter key}` puts every limit of one descriptor in one
 *   Redis Cluster slot (one script call), and the leading `{` keeps these keys
 *   apart from the reference's, which start with the prefix or the domain (unless
 *   one of those itself starts with `{`).
 * - Window starts come from the caller's clock, as in the reference, whichever
 *   clock the Redis scripts use for the other algorithms.
 * - Local cache: NUL ends the counter part, so no two checks share an entry, and
 *   the limit is part of the key, so a changed limit or a per-request override
 *   never reuses one (envoyproxy/ratelimit issue #1077).
 *
 * Keys grow by appending to one string, which V8 keeps as a rope flattened once
 * on first use: linear in the key length.
 */

/** The part of a check that names its counter. */
export interface CounterRef {
  /** Counter key of the descriptor ({@link counterKey}). */
  readonly key: string;
  /** The limit's key tag ({@link keyTag}). */
  readonly tag: string;
  /** Unit of the limit, whole seconds. */
  readonly unitSeconds: number;
}

/** The part of a check a local cache entry is valid for. */
export interface CachedCheckRef extends CounterRef {
  readonly hits: number;
  readonly requestsPerUnit: number;
  readonly algorithm: Algorithm;
  readonly burst: number;
}

/**
 * The counter key of one descriptor, without tag or window:
 * `prefix + domain + "_" + (key + "_" + value + "_")` per entry. `entries` are the
 * match's counter entries (a `share_threshold` wildcard level carries its pattern).
 */
export function counterKey(prefix: string, domain: string, entries: readonly DescriptorEntry[]): string {
  let key = `${prefix}${domain}_`;
  for (const entry of entries) {
    key += `${entry.key}_${entry.value}_`;
  }
  return key;
}

const ALGORITHM_TAGS: Readonly<Record<Algorithm, string>> = Object.freeze({
  fixed_window: 'fw',
  sliding_window: 'sw',
  sliding_log: 'sl',
  token_bucket: 'tb',
});

/**
 * The key tag of a limit (Limit.keyTag): '' for a lone fixed_window `rate_limit`
 * (the reference's exact key, so a mixed fleet shares counters); for every other
 * limit, a short algorithm tag and the unit in seconds, e.g. `tb1_`, `fw60_`.
 */
export function keyTag(algorithm: Algorithm, unit: Unit, inRateLimitsList: boolean): string {
  if (algorithm === 'fixed_window' && !inRateLimitsList) return '';
  return `${ALGORITHM_TAGS[algorithm]}${UNIT_SECONDS[unit]}_`;
}

/** Start of the epoch-aligned window of `unitMs` containing `nowMs`, ms since the epoch. */
export function windowStartMs(nowMs: number, unitMs: number): number {
  return nowMs - (nowMs % unitMs);
}

/** Start of the epoch-aligned window of `unitSeconds` containing `nowMs`, whole Unix seconds. */
export function windowStartSeconds(nowMs: number, unitSeconds: number): number {
  const nowSeconds = Math.floor(nowMs / 1000);
  return nowSeconds - (nowSeconds % unitSeconds);
}

/** The memory store's key of a check at `nowMs`: counter key + tag, plus the window start when `windowed`. */
export function stateKey(check: CounterRef, windowed: boolean, nowMs: number): string {
  if (!windowed) return check.key + check.tag;
  return `${check.key}${check.tag}${windowStartSeconds(nowMs, check.unitSeconds)}`;
}

/**
 * The Redis key of a check at `nowMs`: the reference's `key + windowStart` for a
 * windowed check with tag ''; otherwise `{key}tag`, plus the window start when `windowed`.
 */
export function redisKey(check: CounterRef, windowed: boolean, nowMs: number): string {
  if (!windowed) return `{${check.key}}${check.tag}`;
  const windowStart = windowStartSeconds(nowMs, check.unitSeconds);
  return check.tag === '' ? `${check.key}${windowStart}` : `{${check.key}}${check.tag}${windowStart}`;
}

/** The local over-limit cache's key of a check at `nowMs` (the window start only when `windowed`). */
export function localCacheKey(check: CachedCheckRef, windowed: boolean, nowMs: number): string {
  const window = windowed ? windowStartSeconds(nowMs, check.unitSeconds) : '';
  return `${check.key}${check.tag}\u0000${window}\u0000${check.hits}\u0000${check.requestsPerUnit}\u0000${check.unitSeconds}\u0000${check.algorithm}\u0000${check.burst}`;
}
