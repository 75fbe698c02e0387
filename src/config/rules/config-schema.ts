import { isScalar, type YAMLMap } from 'yaml';
import { report, type YamlFile } from './yaml-file.js';
import { goFormat, mapEntries, type ResolvedNode } from './yaml-nodes.js';

/**
 * The levels of a config file and the keys each one allows. The reference checks keys
 * against one global list, so `shadow_mode` inside `rate_limit` or `unit` on a descriptor
 * passes and is silently ignored; here a key at the wrong level is an error that says
 * where it belongs (DESIGN.md, "Deliberate differences").
 */
const LEVEL_KEYS = {
  top: ['domain', 'descriptors', 'adaptive'],
  descriptor: [
    'key',
    'value',
    'rate_limit',
    'rate_limits',
    'descriptors',
    'shadow_mode',
    'quota_mode',
    'detailed_metric',
    'value_to_metric',
    'share_threshold',
    'metadata',
    'adaptive',
  ],
  rate_limit: ['unit', 'requests_per_unit', 'unlimited', 'name', 'replaces', 'algorithm', 'burst'],
  /** An entry of `rate_limits`: a `rate_limit` without `unlimited` (see {@link REFUSED}). */
  rate_limits: ['unit', 'requests_per_unit', 'name', 'replaces', 'algorithm', 'burst'],
  replaces: ['name'],
  /** An entry of the domain's `adaptive` list: the fields of every controller type (read-adaptive.ts checks which type allows which). */
  adaptive: [
    'name',
    'type',
    'shadow_mode',
    'match',
    'error_threshold',
    'min_samples',
    'interval',
    'decrease',
    'increase',
    'floor',
    'over_limit_ratio',
    'spike',
    'min_requests',
    'penalty',
  ],
  match: ['upstream_cluster', 'route_name', 'authority'],
  penalty: ['factor', 'ttl', 'escalate', 'max_ttl'],
} as const;

/** A nesting level of the config file. */
export type Level = keyof typeof LEVEL_KEYS;

/** A key allowed at level `L`. */
export type LevelKey<L extends Level> = (typeof LEVEL_KEYS)[L][number];

const PLACE: Readonly<Record<Level, string>> = {
  top: 'at the top level',
  descriptor: 'in a descriptor',
  rate_limit: "in 'rate_limit'",
  rate_limits: "in a 'rate_limits' entry",
  replaces: "in a 'replaces' entry",
  adaptive: "in an 'adaptive' entry",
  match: "in an 'adaptive' entry's 'match'",
  penalty: "in an 'adaptive' entry's 'penalty'",
};

/**
 * Levels a misplaced key is said to belong to. The adaptive levels are left out: their keys
 * (`name`, `shadow_mode`, …) are mostly another level's too, and the reference-compatible
 * messages for those must not change.
 */
const LEVELS = (Object.keys(LEVEL_KEYS) as Level[]).filter(
  (l) => l !== 'adaptive' && l !== 'match' && l !== 'penalty',
);

/**
 * Keys refused at a level for a reason of their own, said instead of "it belongs elsewhere".
 * `unlimited` in `rate_limits`: an unlimited node has no limits to combine, and one unlimited
 * entry beside real limits would leave it unclear which wins.
 */
const REFUSED: Partial<Record<Level, Readonly<Record<string, string>>>> = {
  rate_limits: {
    unlimited:
      "config error, key 'unlimited' is not allowed in a 'rate_limits' entry; an unlimited descriptor has no limits to combine: use 'rate_limit: {unlimited: true}'",
  },
};

/** One key of a map that is allowed at its level, with its (alias-resolved) value and their offsets. */
export interface Field {
  readonly key: ResolvedNode;
  readonly keyAt: number;
  readonly value: ResolvedNode | undefined;
  readonly valueAt: number;
}

/** The allowed fields of one map, by key. */
export type Fields<L extends Level> = ReadonlyMap<LevelKey<L>, Field>;

/**
 * Reads the keys of a map at `level`, reporting keys that are not strings, unknown keys
 * (the reference's texts) and keys that belong to another level. Only allowed keys are
 * returned; the values of rejected keys are not looked at.
 */
export function readFields<L extends Level>(file: YamlFile, map: YAMLMap, level: L): Fields<L> {
  const allowed: readonly string[] = LEVEL_KEYS[level];
  const fields = new Map<LevelKey<L>, Field>();
  for (const entry of mapEntries(file, map)) {
    const key = entry.key;
    if (!isScalar(key) || typeof key.value !== 'string') {
      report(file, entry.keyAt, `config error, key is not of type string: ${goFormat(file, key)}`);
      continue;
    }
    const name = key.value;
    if (!allowed.includes(name)) {
      report(file, entry.keyAt, wrongKeyMessage(name, level));
      continue;
    }
    fields.set(name as LevelKey<L>, { key, keyAt: entry.keyAt, value: entry.value, valueAt: entry.valueAt });
  }
  return fields;
}

function wrongKeyMessage(name: string, level: Level): string {
  const refused = REFUSED[level];
  if (refused !== undefined && Object.hasOwn(refused, name)) return refused[name]!;
  const homes = LEVELS.filter((l) => (LEVEL_KEYS[l] as readonly string[]).includes(name));
  if (homes.length === 0) return `config error, unknown key '${name}'`;
  const places = homes.map((l) => PLACE[l]);
  const where = places.length === 1 ? places[0] : `${places.slice(0, -1).join(', ')} or ${places.at(-1)}`;
  return `config error, key '${name}' is not allowed ${PLACE[level]}; it belongs ${where}`;
}
