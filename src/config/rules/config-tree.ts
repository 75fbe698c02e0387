import type { ControllerParams } from '../../adaptive/controller-params.js';
import type { Algorithm } from '../../core/algorithm.js';
import type { Limit, LimitRule } from '../../core/limit.js';
import { compileWildcard, isWildcard, type WildcardPattern } from './wildcard.js';
import type { YamlFile } from './yaml-file.js';

/** One descriptor of the config, frozen once its subtree is loaded. */
export interface ConfigNode {
  /**
   * The node's config `key`. A level is looked up by `key_value`, as in the reference, but
   * only a request entry with this key reaches the node, so a caller-chosen value
   * containing `_` cannot land on the rule of another key (`user=vip` on `user_vip`).
   */
  readonly key: string;
  /** The node's `rate_limit` or `rate_limits`, if it has one (a node may have limits and children). */
  readonly rule: LimitRule | undefined;
  /** The next level, undefined when the node has no children. */
  readonly children: ConfigLevel | undefined;
  /**
   * Set when the node has `share_threshold: true`: the value that replaces the request's
   * value in the counter key when this node is reached through its wildcard.
   */
  readonly share: ShareThreshold | undefined;
}

/** What `share_threshold` puts into the counter key. */
export interface ShareThreshold {
  /** The config key of the node. */
  readonly key: string;
  /** The node's value as written (with its `*`s). */
  readonly value: string;
  /** The node's identity (`key_value`). */
  readonly identity: string;
}

/** A wildcard node with its compiled pattern. */
export interface WildcardNode {
  readonly pattern: WildcardPattern;
  readonly node: ConfigNode;
  /**
   * The `*` is in the node's key (a reference quirk kept as is): the pattern matches the
   * whole `key_value` of any key. Otherwise the `*`s are in the value, and only entries
   * with the node's key are matched.
   */
  readonly anyKey: boolean;
}

/**
 * The descriptors of one level. As in the reference, every node (wildcards included) is in
 * `nodes` under its identity (`key`, or `key_value` when it has a value), so exact lookups,
 * key-only defaults and literal `*` values share one namespace.
 */
export interface ConfigLevel {
  readonly nodes: Map<string, ConfigNode>;
  /** Wildcard nodes in declaration (and, when merging domains, file) order. */
  readonly wildcards: WildcardNode[];
}

/** Everything loaded for one domain. */
export interface DomainTree {
  readonly domain: string;
  readonly root: ConfigLevel;
  /** Files that contributed to the domain, in load order. */
  readonly files: string[];
  /** Number of limits: one per `rate_limit` (unlimited included) and one per `rate_limits` entry. */
  limits: number;
  /** Algorithms used by the domain's limits. */
  readonly algorithms: Set<Algorithm>;
  /** The domain's `adaptive` controllers by name, in declaration (and file) order. */
  readonly controllers: Map<string, DeclaredController>;
  /**
   * Nodes with `adaptive: [names]`, checked against {@link controllers} once every file of
   * the domain is loaded (with MERGE_DOMAIN_CONFIG a node may name a later file's controller).
   */
  readonly adaptiveUses: AdaptiveUse[];
}

/** A controller of a domain's `adaptive` list, with where it is declared. */
export interface DeclaredController {
  readonly params: ControllerParams;
  readonly file: YamlFile;
  /** Offset of its `name` value (or the entry) in `file`. */
  readonly at: number;
}

/** A name in a node's `adaptive` list, with its offset. */
export interface AdaptiveName {
  readonly name: string;
  readonly at: number;
}

/** A node's `adaptive` list, for the checks that need the whole domain's controllers. */
export interface AdaptiveUse {
  readonly file: YamlFile;
  readonly fullKey: string;
  readonly names: readonly AdaptiveName[];
  /** Offset of the node's `value` when it is a fixed exact value (no `*`); undefined otherwise. */
  readonly fixedValueAt: number | undefined;
  /** The node's limits (none when it has none, or is unlimited: reported already). */
  readonly limits: readonly Limit[];
}

/** A new, empty level. */
export function newLevel(): ConfigLevel {
  return { nodes: new Map(), wildcards: [] };
}

/** A new, empty domain first seen in `file`. */
export function newDomainTree(domain: string, file: string): DomainTree {
  return {
    domain,
    root: newLevel(),
    files: [file],
    limits: 0,
    algorithms: new Set(),
    controllers: new Map(),
    adaptiveUses: [],
  };
}

/** Adds a node under its identity; a wildcard identity is also appended to the level's patterns. */
export function addNode(level: ConfigLevel, identity: string, node: ConfigNode): void {
  level.nodes.set(identity, node);
  if (isWildcard(identity)) {
    level.wildcards.push(
      Object.freeze({ pattern: compileWildcard(identity), node, anyKey: isWildcard(node.key) }),
    );
  }
}

/** Freezes a finished level; an empty one becomes undefined (a node without children). */
export function finishLevel(level: ConfigLevel): ConfigLevel | undefined {
  if (level.nodes.size === 0) return undefined;
  Object.freeze(level.wildcards);
  return Object.freeze(level);
}
