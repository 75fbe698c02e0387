import type { DescriptorEntry, RequestDescriptor } from '../core/descriptor.js';
import type { LimitMatch, LimitRule } from '../core/limit.js';
import type { RuleSet } from '../core/rule-set.js';
import type { ConfigLevel, ConfigNode, DomainTree, ShareThreshold } from './config-tree.js';
import { matchesWildcard } from './wildcard.js';

/** One domain in a {@link RateLimitConfig.domains} summary. */
export interface DomainSummary {
  domain: string;
  /** Files that contributed to the domain, in load order. */
  files: string[];
  /** Number of rules (limited and unlimited). */
  limits: number;
}

const NO_REPLACES: readonly string[] = Object.freeze([]);

/**
 * A loaded, validated and immutable rate limit config: domains and their descriptor trees,
 * matched with envoyproxy/ratelimit's precedence. Built by `buildConfig`; never mutated, so
 * one instance can be swapped in atomically on reload and shared by concurrent requests.
 */
export class RateLimitConfig implements RuleSet {
  readonly #roots: ReadonlyMap<string, ConfigLevel>;
  readonly #summaries: readonly DomainSummary[];
  readonly #lines: readonly string[];

  /** @internal use `buildConfig`; takes ownership of the (finished) domain trees. */
  constructor(domains: Iterable<DomainTree>) {
    const trees = [...domains].sort((a, b) => compare(a.domain, b.domain));
    const roots = new Map<string, ConfigLevel>();
    const lines: string[] = [];
    for (const tree of trees) {
      Object.freeze(tree.root.wildcards);
      roots.set(tree.domain, Object.freeze(tree.root));
      collectLines(tree.root, lines);
    }
    this.#roots = roots;
    this.#summaries = trees.map((t) =>
      Object.freeze({ domain: t.domain, files: [...t.files], limits: t.limits }),
    );
    this.#lines = Object.freeze(lines.sort(compare));
    Object.freeze(this);
  }

  /** True when the domain is configured (even with no descriptors). */
  hasDomain(domain: string): boolean {
    return this.#roots.has(domain);
  }

  /**
   * The limit for one request descriptor (reference §3.1), or undefined when none applies:
   * unknown domain, no entries, no node for an entry, or no limit on the node reached by the
   * last entry. Per level: the exact identity `key_value` (so an empty value looks up `key_`),
   * then the level's wildcards in declaration order, then the key-only default `key`; a node
   * once chosen is never reconsidered (no backtracking). A descriptor with a `limit` override
   * gets that limit without consulting the tree, if the domain exists.
   */
  match(domain: string, descriptor: RequestDescriptor): LimitMatch | undefined {
    const root = this.#roots.get(domain);
    const entries = descriptor.entries;
    const last = entries.length - 1;
    if (root === undefined || last < 0) return undefined;
    if (descriptor.limit) return overrideMatch(domain, descriptor);
    let level: ConfigLevel = root;
    let shared: DescriptorEntry[] | undefined;
    for (let i = 0; ; i++) {
      const entry = entries[i]!;
      const lookup = `${entry.key}_${entry.value}`;
      let node: ConfigNode | undefined = level.nodes.get(lookup);
      if (node === undefined) {
        const wildcards = level.wildcards;
        for (let w = 0; w < wildcards.length; w++) {
          const wildcard = wildcards[w]!;
          if (matchesWildcard(wildcard.pattern, lookup)) {
            node = wildcard.node;
            if (node.share !== undefined) {
              shared ??= entries.slice();
              shared[i] = { key: entry.key, value: shareValue(node.share, entry.key) };
            }
            break;
          }
        }
        node ??= level.nodes.get(entry.key);
        if (node === undefined) return undefined;
      }
      if (i === last) {
        const rule = node.rule;
        return rule === undefined
          ? undefined
          : { rule, counterEntries: shared ?? entries, fromOverride: false };
      }
      if (node.children === undefined) return undefined;
      level = node.children;
    }
  }

  /** Every domain with its files and rule count, sorted by domain (for `validate` summaries). */
  domains(): DomainSummary[] {
    return this.#summaries.map((s) => ({ domain: s.domain, files: [...s.files], limits: s.limits }));
  }

  /**
   * One line per rule, sorted, as `/rlconfig` prints them:
   * `<fullKey>: unit=<UNIT> requests_per_unit=<n>, shadow_mode: <bool>, quota_mode: <bool>`,
   * or `<fullKey>: unlimited, shadow_mode: <bool>, quota_mode: <bool>` for unlimited rules.
   */
  describe(): string[] {
    return [...this.#lines];
  }
}

/**
 * The value a share_threshold wildcard puts in the counter key: the pattern's value, i.e.
 * the pattern without the request key and `_` (as the reference trims it).
 */
function shareValue(share: ShareThreshold, key: string): string {
  if (key === share.key) return share.value;
  const pattern = share.identity;
  return pattern.startsWith(key) && pattern.charCodeAt(key.length) === 95
    ? pattern.slice(key.length + 1)
    : pattern;
}

function overrideMatch(domain: string, descriptor: RequestDescriptor): LimitMatch {
  const limit = descriptor.limit!;
  let fullKey = domain;
  for (const e of descriptor.entries) fullKey += e.value === '' ? `.${e.key}` : `.${e.key}_${e.value}`;
  const rule: LimitRule = Object.freeze({
    fullKey,
    requestsPerUnit: limit.requestsPerUnit,
    unit: limit.unit,
    algorithm: 'fixed_window',
    name: '',
    unlimited: false,
    shadowMode: false,
    quotaMode: false,
    replaces: NO_REPLACES,
    detailedMetric: false,
    valueToMetric: false,
    metadata: undefined,
  });
  return { rule, counterEntries: descriptor.entries, fromOverride: true };
}

function collectLines(level: ConfigLevel, out: string[]): void {
  for (const node of level.nodes.values()) {
    const rule = node.rule;
    if (rule !== undefined) {
      const limit = rule.unlimited
        ? 'unlimited'
        : `unit=${rule.unit} requests_per_unit=${rule.requestsPerUnit}`;
      out.push(`${rule.fullKey}: ${limit}, shadow_mode: ${rule.shadowMode}, quota_mode: ${rule.quotaMode}`);
    }
    if (node.children !== undefined) collectLines(node.children, out);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
