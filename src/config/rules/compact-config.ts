import { abuseParams, type ControllerParams, errorRateParams } from '../../adaptive/controller-params.js';
import type { LimitRule } from '../../core/limit.js';
import {
  addNode,
  type ConfigLevel,
  type ConfigNode,
  type DomainTree,
  finishLevel,
  newLevel,
  type ShareThreshold,
} from './config-tree.js';
import {
  type ConfigParts,
  controllerLists,
  type DomainSummary,
  describeLevels,
  RateLimitConfig,
  summarize,
} from './rate-limit-config.js';

/**
 * A validated config as plain data that survives structured clone (a loader thread sends it
 * to the serving thread, where class instances, Maps and frozen objects would not arrive as
 * such), made small because the serving thread parses it: a batch is new rule shapes plus
 * records, each record a domain marker or a descriptor node in post-order, so that a node's
 * children are complete when it arrives and it can be frozen at once, as `loadDescriptors`
 * does.
 */
export interface CompactBatch {
  /** Rule shapes first used in this batch; numbered on from the previous batches' shapes. */
  readonly shapes: RuleShape[];
  readonly records: CompactRecord[];
}

/** A domain name (the node records up to the next one are its tree), or a node. */
export type CompactRecord = string | NodeRecord;

/**
 * One descriptor node, after all of its children: depth (0 for the domain's top level),
 * identity in its level (`key` or `key_value`), the length of its key (the identity's
 * start), its rule's fullKey and shape index (-1: no rule), and its share_threshold value
 * (0: none).
 */
export type NodeRecord = [
  d: number,
  id: string,
  keyLength: number,
  fullKey: string,
  shape: number,
  share: ShareThreshold | 0,
];

/**
 * A rule without its fullKey: most rules of a big config differ only in that, so a shape
 * is sent once and shared (rules, their limits and metadata are immutable).
 */
export type RuleShape = Omit<LimitRule, 'fullKey'>;

/** The rest of a compact config, sent after every batch. */
export interface CompactTail {
  readonly summaries: readonly DomainSummary[];
  readonly lines: readonly string[];
  /** `[domain, controllers]` of the domains that declare `adaptive` controllers, sorted by domain. */
  readonly controllers: readonly (readonly [string, readonly ControllerParams[]])[];
}

/**
 * The batches (of at most `batchSize` records) of finished domain trees, sorted by domain,
 * in the order {@link ConfigAssembler} needs.
 */
export function* compactBatches(trees: readonly DomainTree[], batchSize: number): Generator<CompactBatch> {
  const shapeIds = new Map<string, number>();
  let batch: CompactBatch = { shapes: [], records: [] };
  const shapeOf = (rule: LimitRule | undefined): number => {
    if (rule === undefined) return -1;
    const { fullKey: _, ...shape } = rule;
    const text = JSON.stringify(shape);
    let id = shapeIds.get(text);
    if (id === undefined) {
      id = shapeIds.size;
      shapeIds.set(text, id);
      batch.shapes.push(shape);
    }
    return id;
  };
  for (const tree of sortTrees(trees)) {
    for (const record of domainRecords(tree, shapeOf)) {
      batch.records.push(record);
      if (batch.records.length >= batchSize) {
        yield batch;
        batch = { shapes: [], records: [] };
      }
    }
  }
  if (batch.records.length > 0) yield batch;
}

function* domainRecords(
  tree: DomainTree,
  shapeOf: (rule: LimitRule | undefined) => number,
): Generator<CompactRecord> {
  yield tree.domain;
  yield* levelRecords(tree.root, 0, shapeOf);
}

function* levelRecords(
  level: ConfigLevel,
  depth: number,
  shapeOf: (rule: LimitRule | undefined) => number,
): Generator<NodeRecord> {
  for (const [id, node] of level.nodes) {
    if (node.children !== undefined) yield* levelRecords(node.children, depth + 1, shapeOf);
    yield [depth, id, node.key.length, node.rule?.fullKey ?? '', shapeOf(node.rule), node.share ?? 0];
  }
}

/** Summaries and `/rlconfig` lines of finished domain trees. */
export function compactTail(trees: readonly DomainTree[]): CompactTail {
  const sorted = sortTrees(trees);
  return {
    summaries: summarize(sorted),
    lines: describeLevels(sorted.map((t) => t.root)),
    controllers: controllerLists(sorted),
  };
}

function sortTrees(trees: readonly DomainTree[]): DomainTree[] {
  return [...trees].sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
}

/**
 * Rebuilds a {@link RateLimitConfig} from compact batches, one at a time, so the serving
 * thread can answer requests between batches. Batches must come in the order of
 * {@link compactBatches}; the loader thread's build already validated them.
 */
export class ConfigAssembler {
  readonly #roots = new Map<string, ConfigLevel>();
  readonly #shapes: RuleShape[] = [];
  #domain: string | undefined;
  /** Levels being filled, by depth: `pending[d + 1]` holds the children of the next node at depth d. */
  #pending: (ConfigLevel | undefined)[] = [];

  add(batch: CompactBatch): void {
    for (const shape of batch.shapes) this.#shapes.push(freezeShape(shape));
    for (const record of batch.records) {
      if (typeof record === 'string') this.#startDomain(record);
      else this.#addNode(record);
    }
  }

  /** The finished config; the assembler must not be used afterwards. */
  finish(tail: CompactTail): RateLimitConfig {
    this.#endDomain();
    const parts: ConfigParts = {
      roots: this.#roots,
      summaries: tail.summaries.map((s) => Object.freeze({ ...s })),
      lines: tail.lines,
      controllers: new Map(tail.controllers.map(([domain, list]) => [domain, list.map(thawedParams)])),
    };
    return new RateLimitConfig(parts);
  }

  #startDomain(domain: string): void {
    this.#endDomain();
    this.#domain = domain;
  }

  #endDomain(): void {
    if (this.#domain === undefined) return;
    const root = this.#pending[0] ?? newLevel();
    Object.freeze(root.wildcards);
    this.#roots.set(this.#domain, Object.freeze(root));
    this.#domain = undefined;
    this.#pending = [];
  }

  #addNode([d, id, keyLength, fullKey, shapeId, share]: NodeRecord): void {
    const children = this.#pending[d + 1];
    this.#pending[d + 1] = undefined;
    const shape = this.#shapes[shapeId];
    const node: ConfigNode = Object.freeze({
      key: id.slice(0, keyLength),
      rule: shape === undefined ? undefined : Object.freeze({ fullKey, ...shape }),
      children: children === undefined ? undefined : finishLevel(children),
      share: share === 0 ? undefined : Object.freeze(share),
    });
    let level = this.#pending[d];
    if (level === undefined) {
      level = newLevel();
      this.#pending[d] = level;
    }
    addNode(level, id, node);
  }
}

/** Controller params that arrived by structured clone or JSON, frozen again (defaults re-applied are the same values). */
function thawedParams(params: ControllerParams): ControllerParams {
  return params.type === 'error_rate' ? errorRateParams(params) : abuseParams(params);
}

/** Freezes a rule shape that arrived by structured clone or JSON as `loadDescriptors` froze rules. */
function freezeShape(shape: RuleShape): RuleShape {
  for (const limit of shape.limits) Object.freeze(limit);
  Object.freeze(shape.limits);
  Object.freeze(shape.names);
  Object.freeze(shape.replaces);
  if (shape.adaptive !== undefined) Object.freeze(shape.adaptive);
  if (shape.metadata !== undefined) deepFreeze(shape.metadata);
  return Object.freeze(shape);
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value)) deepFreeze(item);
}
