import type { ControllerParams } from '../../adaptive/controller-params.js';
import { ALGORITHMS, type Algorithm } from '../../core/algorithm.js';
import type { DescriptorEntry, RequestDescriptor } from '../../core/descriptor.js';
import { keyTag } from '../../core/key-layout.js';
import { isChargedWhenRejected, type Limit, type LimitMatch, type LimitRule } from '../../core/limit.js';
import type { RuleSet } from '../../core/rule-set.js';
import type { ConfigLevel, ConfigNode, DomainTree, ShareThreshold } from './config-tree.js';
import { describeRule } from './describe-rule.js';
import { matchesWildcard } from './wildcard.js';

/** One domain in a {@link RateLimitConfig.domains} summary. */
export interface DomainSummary {
  domain: string;
  /** Files that contributed to the domain, in load order. */
  files: string[];
  /** Number of limits: one per `rate_limit` (unlimited included) and one per `rate_limits` entry. */
  limits: number;
  /** Algorithms the domain's limits use, in {@link ALGORITHMS} order (none when all are unlimited). */
  algorithms: Algorithm[];
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * What a {@link RateLimitConfig} is made of: the frozen root level of each domain, the
 * summaries and the `/rlconfig` lines. Made from domain trees by {@link configFromTrees}, or
 * put together from a loader thread's compact form (compact-config.ts).
 */
export interface ConfigParts {
  readonly roots: ReadonlyMap<string, ConfigLevel>;
  /** Sorted by domain. */
  readonly summaries: readonly DomainSummary[];
  /** Sorted as {@link RateLimitConfig.describe} returns them. */
  readonly lines: readonly string[];
  /** Each domain's `adaptive` controllers, in declaration order; only domains that declare any. */
  readonly controllers: ReadonlyMap<string, readonly ControllerParams[]>;
}

/** A config from finished domain trees (takes ownership of them and freezes their roots). */
export function configFromTrees(domains: Iterable<DomainTree>): RateLimitConfig {
  const trees = [...domains].sort((a, b) => compare(a.domain, b.domain));
  const roots = new Map<string, ConfigLevel>();
  for (const tree of trees) {
    Object.freeze(tree.root.wildcards);
    roots.set(tree.domain, Object.freeze(tree.root));
  }
  return new RateLimitConfig({
    roots,
    summaries: summarize(trees),
    lines: describeLevels(roots.values()),
    controllers: new Map(controllerLists(trees)),
  });
}

/** `[domain, controllers]` of the trees that declare any, in the trees' order. */
export function controllerLists(trees: readonly DomainTree[]): [string, ControllerParams[]][] {
  return trees
    .filter((t) => t.controllers.size > 0)
    .map((t) => [t.domain, [...t.controllers.values()].map((c) => c.params)]);
}

/** The summaries of domain trees sorted by domain. */
export function summarize(sortedTrees: readonly DomainTree[]): DomainSummary[] {
  return sortedTrees.map((t) =>
    Object.freeze({
      domain: t.domain,
      files: [...t.files],
      limits: t.limits,
      algorithms: ALGORITHMS.filter((a) => t.algorithms.has(a)),
    }),
  );
}

/**
 * The `/rlconfig` lines of the rules under `roots`: rules sorted as the reference sorts its
 * lines (fullKey then ':'); a rule's lines stay in written order.
 */
export function describeLevels(roots: Iterable<ConfigLevel>): string[] {
  const groups: RuleLines[] = [];
  for (const root of roots) collectLines(root, groups);
  groups.sort((a, b) => compare(a.sortKey, b.sortKey));
  return groups.flatMap((g) => g.lines);
}

/**
 * A loaded, validated and immutable rate limit config: domains and their descriptor trees,
 * matched with envoyproxy/ratelimit's precedence. Built by `buildConfig`; never mutated, so
 * one instance can be swapped in atomically on reload and shared by concurrent requests.
 */
export class RateLimitConfig implements RuleSet {
  readonly #roots: ReadonlyMap<string, ConfigLevel>;
  readonly #summaries: readonly DomainSummary[];
  readonly #lines: readonly string[];
  readonly #controllers: ReadonlyMap<string, readonly ControllerParams[]>;

  /** @internal use `buildConfig` or {@link configFromTrees}; takes ownership of the (frozen) parts. */
  constructor(parts: ConfigParts) {
    this.#roots = parts.roots;
    this.#summaries = Object.freeze([...parts.summaries]);
    this.#lines = Object.freeze([...parts.lines]);
    const controllers = new Map<string, readonly ControllerParams[]>();
    for (const [domain, list] of parts.controllers) controllers.set(domain, Object.freeze([...list]));
    this.#controllers = controllers;
    Object.freeze(this);
  }

  /** True when the domain is configured (even with no descriptors). */
  hasDomain(domain: string): boolean {
    return this.#roots.has(domain);
  }

  /**
   * The limit for one request descriptor (envoyproxy/ratelimit src/config/config_impl.go,
   * `GetLimit`), or undefined when none applies:
   * unknown domain, no entries, no node for an entry, or no limit on the node reached by the
   * last entry. Per level: the exact identity `key_value` (so an empty value looks up `key_`),
   * then the level's wildcards in declaration order, then the key-only default `key`, each
   * only if the node's key is the entry's (see ConfigNode.key; the reference does not check); a node
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
      // `key_value` is ambiguous when either part holds `_`: only the node's own key reaches it
      if (node !== undefined && node.key !== entry.key) node = undefined;
      if (node === undefined) {
        const wildcards = level.wildcards;
        for (let w = 0; w < wildcards.length; w++) {
          const wildcard = wildcards[w]!;
          if (!wildcard.anyKey && wildcard.node.key !== entry.key) continue;
          if (matchesWildcard(wildcard.pattern, lookup)) {
            node = wildcard.node;
            if (node.share !== undefined) {
              shared ??= entries.slice();
              shared[i] = { key: entry.key, value: shareValue(node.share, entry.key) };
            }
            break;
          }
        }
        if (node === undefined) {
          const fallback = level.nodes.get(entry.key);
          if (fallback === undefined || fallback.key !== entry.key) return undefined;
          node = fallback;
        }
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

  /** Every domain with its files, limit count and algorithms, sorted by domain (for `validate` summaries). */
  domains(): DomainSummary[] {
    return this.#summaries.map((s) => ({ ...s, files: [...s.files], algorithms: [...s.algorithms] }));
  }

  /**
   * Each domain's `adaptive` controllers (frozen, defaults applied) in declaration order, by
   * domain; only domains that declare any. Every name in a rule's `adaptive` is one of its
   * domain's controllers.
   */
  adaptiveControllers(): ReadonlyMap<string, readonly ControllerParams[]> {
    return this.#controllers; // the same object per config: the engine recognises a config it has seen
  }

  /**
   * One line per limit, rules sorted by fullKey, as `/rlconfig` prints them (see
   * `describeRule`): the reference's
   * `<fullKey>: unit=<UNIT> requests_per_unit=<n>, shadow_mode: <bool>, quota_mode: <bool>`
   * for a lone fixed_window `rate_limit`, ` algorithm=<alg>` (and ` burst=<n>`) added for any
   * other limit, `<fullKey>: unlimited, shadow_mode: <bool>, quota_mode: <bool>` for unlimited rules.
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

/**
 * The rule for a request's `limit` override: one lone fixed_window limit with keyTag '' (the
 * reference's key for these entries) and its charging rule, as the reference applies overrides.
 */
function overrideMatch(domain: string, descriptor: RequestDescriptor): LimitMatch {
  const override = descriptor.limit!;
  let fullKey = domain;
  for (const e of descriptor.entries) fullKey += e.value === '' ? `.${e.key}` : `.${e.key}_${e.value}`;
  const limit: Limit = Object.freeze({
    requestsPerUnit: override.requestsPerUnit,
    unit: override.unit,
    algorithm: 'fixed_window',
    burst: override.requestsPerUnit,
    name: '',
    keyTag: keyTag('fixed_window', override.unit, false),
    chargedWhenRejected: isChargedWhenRejected('fixed_window', false),
  });
  const rule: LimitRule = Object.freeze({
    fullKey,
    limits: Object.freeze([limit]),
    names: NONE,
    unlimited: false,
    shadowMode: false,
    quotaMode: false,
    replaces: NONE,
    detailedMetric: false,
    valueToMetric: false,
    metadata: undefined,
  });
  return { rule, counterEntries: descriptor.entries, fromOverride: true };
}

interface RuleLines {
  readonly sortKey: string;
  readonly lines: readonly string[];
}

function collectLines(level: ConfigLevel, out: RuleLines[]): void {
  for (const node of level.nodes.values()) {
    const rule = node.rule;
    if (rule !== undefined) out.push({ sortKey: `${rule.fullKey}:`, lines: describeRule(rule) });
    if (node.children !== undefined) collectLines(node.children, out);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
