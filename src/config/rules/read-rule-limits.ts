import { isSeq } from 'yaml';
import { keyTag } from '../../core/key-layout.js';
import { isChargedWhenRejected, type Limit, type LimitRule } from '../../core/limit.js';
import type { Unit } from '../../core/units.js';
import type { Fields } from './config-schema.js';
import { type LimitSpec, readLimit } from './read-limit.js';
import { fieldAt, isPresent, mapItems, readList, readMap } from './yaml-fields.js';
import { report, type YamlFile } from './yaml-file.js';

/** The limit part of a rule, read from a descriptor's `rate_limit` or `rate_limits`. */
export type RuleLimits = Pick<LimitRule, 'limits' | 'names' | 'unlimited' | 'replaces'>;

/**
 * A unit used where the value is never read: an unlimited rule has no limits, and a limit
 * with an invalid unit only exists in a config that is rejected anyway.
 */
const PLACEHOLDER_UNIT: Unit = 'SECOND';

const NONE: readonly string[] = Object.freeze([]);

/**
 * Reads a descriptor's limits, reporting every problem; undefined when it has neither
 * `rate_limit` nor `rate_limits` (null counts as absent, as yaml.v2 reads it).
 *
 * - `rate_limit`: one limit, or unlimited. A fixed_window one keeps keyTag '' (the reference's
 *   exact counter key); any other algorithm gets a tag.
 * - `rate_limits`: one or more limits, all charged together (a rejected request charges none,
 *   fixed_window included), every one tagged (even a single fixed_window entry). `unlimited`
 *   is refused in its entries (an unlimited node has no limits to combine); the rule's
 *   `replaces` is the union of the entries' (each name once, in order), its `names` the
 *   entries' non-empty names (each once), and two entries with the same algorithm and unit
 *   are rejected (they would share one counter).
 * - both on one node: rejected.
 * In every case a `replaces` entry may not name a limit of the same node (the reference's rule).
 */
export function readRuleLimits(file: YamlFile, descriptor: Fields<'descriptor'>): RuleLimits | undefined {
  const single = readMap(file, descriptor, 'rate_limit');
  const singleSpec = single && readLimit(file, single, descriptor.get('rate_limit')!.keyAt, 'rate_limit');
  const listSpecs = readLimitList(file, descriptor);
  if (isPresent(descriptor, 'rate_limit') && isPresent(descriptor, 'rate_limits')) {
    report(
      file,
      descriptor.get('rate_limits')!.keyAt,
      "a descriptor cannot have both 'rate_limit' and 'rate_limits'; put all of its limits in 'rate_limits'",
    );
    return undefined;
  }
  if (singleSpec !== undefined) return ruleLimits(file, [singleSpec], true);
  if (listSpecs !== undefined) return ruleLimits(file, listSpecs, false);
  return undefined;
}

/** The entries of `rate_limits`, checked; undefined when it is absent (or not a list: reported). */
function readLimitList(file: YamlFile, descriptor: Fields<'descriptor'>): LimitSpec[] | undefined {
  const items = readList(file, descriptor, 'rate_limits');
  const field = descriptor.get('rate_limits');
  if (field === undefined || !isSeq(field.value)) return undefined;
  if (items.length === 0) {
    report(
      file,
      fieldAt(field),
      "'rate_limits' must list at least one limit; remove it for a descriptor without a limit",
    );
    return undefined;
  }
  const specs = mapItems(file, items).map(({ map, at }) => readLimit(file, map, at, 'rate_limits'));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (spec.unit === undefined || spec.algorithm === undefined) continue;
    const id = `${spec.algorithm} ${spec.unit}`;
    if (seen.has(id)) {
      report(
        file,
        spec.at,
        `duplicate limit in 'rate_limits': an earlier entry already has algorithm ${spec.algorithm} and unit ${spec.unit}, and the two would share one counter; change the unit or algorithm of one, or keep only the stricter`,
      );
    }
    seen.add(id);
  }
  return specs;
}

function ruleLimits(file: YamlFile, specs: readonly LimitSpec[], lone: boolean): RuleLimits {
  const names = unique(specs.map((s) => s.name).filter((n) => n !== ''));
  const replaces: string[] = [];
  for (const spec of specs) {
    for (const { name, at } of spec.replaces) {
      if (names.includes(name)) report(file, at, 'replaces should not contain name of same descriptor');
      replaces.push(name);
    }
  }
  const unlimited = lone && specs[0]?.unlimited === true;
  const limits = unlimited ? [] : specs.map((spec) => toLimit(spec, lone));
  return {
    limits: Object.freeze(limits),
    names: names.length === 0 ? NONE : Object.freeze(names),
    unlimited,
    replaces: replaces.length === 0 ? NONE : Object.freeze(unique(replaces)),
  };
}

function toLimit(spec: LimitSpec, lone: boolean): Limit {
  const algorithm = spec.algorithm ?? 'fixed_window';
  const unit = spec.unit ?? PLACEHOLDER_UNIT;
  const burst = algorithm === 'token_bucket' ? (spec.burst ?? spec.requestsPerUnit) : spec.requestsPerUnit;
  return Object.freeze({
    requestsPerUnit: spec.requestsPerUnit,
    unit,
    algorithm,
    burst,
    name: spec.name,
    keyTag: keyTag(algorithm, unit, !lone),
    chargedWhenRejected: isChargedWhenRejected(algorithm, !lone),
  });
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
