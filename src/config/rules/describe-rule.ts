import type { Limit, LimitRule } from '../../core/limit.js';

/**
 * The `/rlconfig` lines of one rule, one per limit, in the order written. A lone fixed_window
 * `rate_limit` (keyTag '') prints exactly the reference's line,
 * `<fullKey>: unit=<UNIT> requests_per_unit=<n>, shadow_mode: <bool>, quota_mode: <bool>`;
 * every other limit adds ` algorithm=<alg>` after requests_per_unit (and ` burst=<n>` for
 * token_bucket). An unlimited rule prints `<fullKey>: unlimited, shadow_mode: …, quota_mode: …`.
 * A rule whose node names `adaptive` controllers ends in `, adaptive: [<name>, …]` (the
 * configured limit is printed; the controllers' factors scale it at run time).
 */
export function describeRule(rule: LimitRule): string[] {
  const adaptive = rule.adaptive === undefined ? '' : `, adaptive: [${rule.adaptive.join(', ')}]`;
  const modes = `shadow_mode: ${rule.shadowMode}, quota_mode: ${rule.quotaMode}${adaptive}`;
  if (rule.unlimited) return [`${rule.fullKey}: unlimited, ${modes}`];
  return rule.limits.map((limit) => `${rule.fullKey}: ${describeLimit(limit)}, ${modes}`);
}

/** `unit=<UNIT> requests_per_unit=<n>[ algorithm=<alg>[ burst=<n>]]`. */
function describeLimit(limit: Limit): string {
  const base = `unit=${limit.unit} requests_per_unit=${limit.requestsPerUnit}`;
  if (limit.keyTag === '') return base;
  const burst = limit.algorithm === 'token_bucket' ? ` burst=${limit.burst}` : '';
  return `${base} algorithm=${limit.algorithm}${burst}`;
}
