import type { RateLimitRequest } from '../core/descriptor.js';
import type { LimitMatch } from '../core/limit.js';
import type { RuleSet } from '../core/rule-set.js';

/**
 * Looks every descriptor of a request up (the RuleSet matches as `GetLimit` in
 * envoyproxy/ratelimit src/config/config_impl.go; `replaces` as
 * `constructLimitsToCheck` in src/service/ratelimit.go): one entry per
 * descriptor, undefined for no limit. An unknown domain matches nothing.
 *
 * `replaces` is applied after all lookups: the names listed by every matched
 * rule (unlimited ones included) are collected, and every matched rule with a
 * (non-empty) name in that set is dropped (undefined), so it is neither charged
 * nor reported. Mutual replacement drops both. Overrides have no name and are
 * never dropped.
 */
export function matchDescriptors(rules: RuleSet, req: RateLimitRequest): (LimitMatch | undefined)[] {
  const descriptors = req.descriptors;
  const matches = new Array<LimitMatch | undefined>(descriptors.length);
  if (!rules.hasDomain(req.domain)) return matches.fill(undefined);
  let replaced: Set<string> | undefined;
  for (let i = 0; i < descriptors.length; i++) {
    const match = rules.match(req.domain, descriptors[i]!);
    matches[i] = match;
    const replaces = match?.rule.replaces;
    if (replaces !== undefined && replaces.length > 0) {
      replaced ??= new Set();
      for (const name of replaces) replaced.add(name);
    }
  }
  if (replaced !== undefined) {
    for (let i = 0; i < matches.length; i++) {
      const names = matches[i]?.rule.names;
      if (names?.some((name) => replaced.has(name))) matches[i] = undefined;
    }
  }
  return matches;
}
