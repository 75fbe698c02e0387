import type { Algorithm } from './algorithm.js';
import type { DescriptorEntry } from './descriptor.js';
import { UNIT_SECONDS, type Unit } from './units.js';

/**
 * The key layout: every key and window boundary this service makes, and the
 * only place one is made. Two formats (CACHE_KEY_FORMAT, {@link KeyFormat})
 * differ in the counter key only; everything appended to it is the same.
 *
 * ```
 * counter key      prefix + E(domain) + "_" + (E(key) + "_" + E(value) + "_") per entry
 *                  escaped:   E escapes \ _ { } with a backslash  pfx_api_generic\_key_a\_b_
 *                  reference: E(s) = s, nothing escaped            pfx_api_generic_key_a_b_
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
 *
 * adaptive (Redis) "{" + prefix + "adaptive_" + E(domain) + "_" + E(name) + "_}" + ":" + suffix
 *                  E as `escaped` always (whatever the format); one controller's keys:
 *                  {pfx_adaptive_api_checkout-health_}:record       hash: its error-rate record
 *                  {pfx_adaptive_api_checkout-health_}:samples:1200000   hash: total, errors of
 *                                                                   the interval starting then (ms)
 *                  {pfx_adaptive_api_abusers_}:boxed                zset: value → expiry ms
 *                  {pfx_adaptive_api_abusers_}:offences             hash: value → penalty entry
 * ```
 *
 * - `reference`: the counter key of a lone fixed window plus its window start is
 *   envoyproxy/ratelimit's key byte for byte (src/limiter/cache_key.go,
 *   `GenerateCacheKey`), e.g. `domain_key_value_1234`, and its Redis value is
 *   that service's plain integer counter, so a fleet mixing both shares it during
 *   a migration. Nothing is escaped, as there: `(a, b_c)` and `(a_b, c)` share a
 *   counter, and a caller-chosen value containing `_` can spend another limit.
 * - `escaped` (default): the same layout with `\`, `_`, `{` and `}` inside the
 *   domain, entry keys and values preceded by `\`. A part without any of them is
 *   written as in `reference`, so such keys are the same in both formats.
 * - The tag keeps limits on the same entries apart; it is unique within a node
 *   because `rate_limits` rejects two entries with the same algorithm and unit.
 * - Redis: the hash tag `{counter key...}` puts every limit of one descriptor in
 *   one Redis Cluster slot (one script call). Redis ends a hash tag at the first
 *   `}`, escaped or not; that `}` lies inside the counter key, at the same place
 *   for every limit of the descriptor, and (escaped) follows at least a `\`, so
 *   the tag is never empty (unless the prefix starts with `}`): the slot stays
 *   shared. The leading `{` keeps these keys apart from the tag '' ones, which
 *   start with the prefix or the domain.
 * - Window starts come from the caller's clock, as in the reference, whichever
 *   clock the Redis scripts use for the other algorithms.
 * - Local cache: the limit is part of the key, so a changed limit or a per-request
 *   override never reuses an entry (envoyproxy/ratelimit issue #1077).
 * - Adaptive: the whole `{...}` part is common to every key of one controller, so they
 *   share one Cluster slot (each store operation is one script or MULTI in one slot);
 *   the first `}` lies inside it as for counter keys. Escaped always: `reference` exists
 *   for counter compatibility only, and these keys have no counterpart in the reference.
 *   Penalty values are hash fields and set members, never part of a key: any bytes.
 *
 * Why `escaped` keys are injective — how any key parses back, for a fixed prefix P
 * (an operator setting, written as given): no two distinct (domain, entries, tag,
 * window start) share a memory, Redis or local cache key.
 *
 * 1. Counter part: after P, read left to right; `\` takes the next character
 *    literally, an unescaped `_` ends a field. Every field ends with an unescaped
 *    `_` and the tag's body (letters and digits) has none, so the fields are
 *    E(domain), then E(key), E(value) per entry, then the tag body if there is a
 *    tag: an odd count means no tag, an even count means the last field is the tag
 *    (tag '' vs tagged keys cannot meet). Unescaping each field gives the parts.
 * 2. Window start: what follows the last field, digits or nothing.
 * 3. Memory: 1 + 2. Redis, tag '': P + 1 + 2, starting with P + E(domain) or P + `_`,
 *    never `{` + P (if P + A = `{` + P + B, P is all `{` and A starts with an
 *    unescaped `{`, which E never writes; parity in 1 tells them apart too). Redis,
 *    other: strip `{` + P; the counter key ends at the first unescaped `}` (E must
 *    escape `}` for this, and for a non-empty hash tag), then tag and window start
 *    as above.
 * 3a. Adaptive: `{` + P, then fields as in 1 up to the first unescaped `}`: the
 *    fields are "adaptive", E(domain), E(name). What follows the `}` starts with `:`,
 *    which a counter key's tag (letters, digits, `_`) and window start (digits) never
 *    do, so adaptive keys never equal tagged counter keys, and they start with `{` + P
 *    as tagged counter keys do, so never equal untagged ones (argument of 3).
 * 4. Local cache: the six fields after the last six NULs are numbers, an algorithm
 *    name or empty, none containing NUL; what is before them is counter key + tag,
 *    parsed as in 1 (a NUL inside a value is just a character there).
 *
 * test/unit/core/key-layout.property.test.ts decodes keys this way from adversarial
 * parts. Keys grow by appending to one string, which V8 keeps as a rope flattened
 * once on first use: linear in the key length.
 */

/**
 * CACHE_KEY_FORMAT. `escaped` (default): collision-free keys. `reference`:
 * envoyproxy/ratelimit's exact keys, for a rolling migration that shares its
 * counters; a value containing `_` can land on another limit's counter.
 */
export type KeyFormat = 'escaped' | 'reference';

/** Every {@link KeyFormat}, the default first. */
export const KEY_FORMATS: readonly KeyFormat[] = Object.freeze(['escaped', 'reference']);

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
 * `prefix + E(domain) + "_" + (E(key) + "_" + E(value) + "_")` per entry, E as
 * `format` says. `entries` are the match's counter entries (a `share_threshold`
 * wildcard level carries its pattern). Hot path: one test per part, no copy of a
 * part without special characters.
 */
export function counterKey(
  prefix: string,
  domain: string,
  entries: readonly DescriptorEntry[],
  format: KeyFormat,
): string {
  if (format === 'reference') {
    let key = `${prefix}${domain}_`;
    for (const entry of entries) {
      key += `${entry.key}_${entry.value}_`;
    }
    return key;
  }
  let key = `${prefix}${escapePart(domain)}_`;
  for (const entry of entries) {
    key += `${escapePart(entry.key)}_${escapePart(entry.value)}_`;
  }
  return key;
}

/** Characters the escaped format precedes with `\`: `\`, `_`, `{`, `}`. */
const SPECIAL = /[\\_{}]/;
const BACKSLASH = 92;
const UNDERSCORE = 95;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/**
 * One part of an `escaped` counter key. Most parts (user ids, addresses, paths)
 * have no special character: one regex test, and the part itself is returned.
 * Otherwise one pass appending slices, cheaper than a `replace` with a pattern.
 */
function escapePart(part: string): string {
  if (!SPECIAL.test(part)) return part;
  let out = '';
  let from = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c === UNDERSCORE || c === BACKSLASH || c === OPEN_BRACE || c === CLOSE_BRACE) {
      out += `${part.slice(from, i)}\\`;
      from = i;
    }
  }
  return out + part.slice(from);
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

/** Which key of an adaptive controller (see the layout above). */
export type AdaptiveKeyPart =
  | { readonly kind: 'record' }
  | { readonly kind: 'samples'; readonly intervalStartMs: number }
  | { readonly kind: 'boxed' }
  | { readonly kind: 'offences' };

/**
 * The common part of every Redis key of one adaptive controller, hash tag included:
 * `{` + prefix + `adaptive_` + E(domain) + `_` + E(name) + `_}` (E escaped always).
 */
export function adaptiveKeyBase(prefix: string, domain: string, name: string): string {
  return `{${prefix}adaptive_${escapePart(domain)}_${escapePart(name)}_}`;
}

/** One Redis key of an adaptive controller: {@link adaptiveKeyBase} + `:` + suffix. */
export function adaptiveKey(base: string, part: AdaptiveKeyPart): string {
  return part.kind === 'samples' ? `${base}:samples:${part.intervalStartMs}` : `${base}:${part.kind}`;
}
