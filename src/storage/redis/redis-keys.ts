import type { CounterCheck } from '../counter-store.js';

/**
 * The only place Redis keys are made.
 *
 * - A fixed_window check with tag '' → exactly envoyproxy/ratelimit's key
 *   (reference §5.1): `key + windowStart`, e.g. `domain_key_value_1234`, where
 *   `key` (from cache-key.ts) already holds CACHE_KEY_PREFIX, the domain and every
 *   entry, and windowStart is the epoch-aligned window start in Unix seconds. Its
 *   value is the reference's plain integer counter, so a fleet mixing both services
 *   shares it during a migration.
 * - Every other check → `{key}tag`, plus the window start for a tagged
 *   fixed_window: the hash tag `{key}` puts all limits of one descriptor in one
 *   Redis Cluster slot (one script call), and the leading `{` keeps these keys
 *   apart from the reference's, which start with the prefix or the domain (unless
 *   one of those itself starts with `{`).
 *
 * The window start comes from the caller's clock, as in the reference, whichever
 * clock the scripts use for the other algorithms.
 */
export function redisKey(check: CounterCheck, nowMs: number): string {
  if (check.algorithm !== 'fixed_window') return `{${check.key}}${check.tag}`;
  const windowStart = fixedWindowStartSeconds(nowMs, check.unitSeconds);
  return check.tag === '' ? `${check.key}${windowStart}` : `{${check.key}}${check.tag}${windowStart}`;
}

/** Start of the epoch-aligned window of `unitSeconds` containing `nowMs`, in whole Unix seconds. */
export function fixedWindowStartSeconds(nowMs: number, unitSeconds: number): number {
  const nowSeconds = Math.floor(nowMs / 1000);
  return nowSeconds - (nowSeconds % unitSeconds);
}
