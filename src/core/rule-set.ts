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
