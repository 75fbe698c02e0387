import type { RequestDescriptor } from './descriptor.js';
import type { LimitMatch } from './limit.js';

/**
 * What the service needs from a loaded, frozen config: domain lookup and
 * descriptor matching with envoyproxy/ratelimit's precedence (exact value,
 * then wildcards in file order, then the key-only default; no backtracking).
 */
export interface RuleSet {
  hasDomain(domain: string): boolean;
  /**
   * The limit for one descriptor of a configured domain, or undefined when no
   * rule applies. A descriptor carrying a `limit` override yields that limit
   * without consulting the rules.
   */
  match(domain: string, descriptor: RequestDescriptor): LimitMatch | undefined;
}

/**
 * A step between the loaded config and the service: given the rules of one
 * loaded config, returns the rules the service applies (e.g. the adaptive
 * module scaling a rule's limits). Called once per loaded config, not per
 * request; the returned set's `match` is what every answer follows (statuses,
 * headers, metadata, observers), so it must stay as cheap as the config's.
 * A changed Limit keeps its invariants (`burst` equals `requestsPerUnit`
 * except for token_bucket); rules it returns should be built once and
 * shared, not per request.
 */
export type RuleSetDecorator = (rules: RuleSet) => RuleSet;

/** The decorator that changes nothing: the rules as loaded. */
export const undecorated: RuleSetDecorator = (rules) => rules;
