import type { YAMLMap } from 'yaml';
import type { LimitRule } from '../core/limit.js';
import { parseUnit, type Unit } from '../core/units.js';
import { type Fields, readFields } from './config-schema.js';
import {
  addNode,
  type ConfigLevel,
  type ConfigNode,
  type DomainTree,
  finishLevel,
  newLevel,
} from './config-tree.js';
import { readMetadata } from './metadata.js';
import { isWildcard } from './wildcard.js';
import {
  fieldAt,
  fieldOrAt,
  mapItems,
  readBool,
  readList,
  readMap,
  readString,
  readUint32,
} from './yaml-fields.js';
import { enter, leave, report, type YamlFile } from './yaml-file.js';

/**
 * LimitRule has no "no unit"; an unlimited rule never has a valid unit (that is an error)
 * and its unit is never used, so it carries this placeholder.
 */
const UNLIMITED_UNIT: Unit = 'SECOND';

const NO_REPLACES: readonly string[] = Object.freeze([]);

/**
 * Loads the `descriptors` of a map (the file's top level or a descriptor) into `level`,
 * reporting every problem in them and their children. Invalid or duplicate descriptors
 * are validated but not added.
 * @param parentKey the config path so far, ending in `.` (e.g. `domain.` or `domain.key_value.`)
 */
export function loadDescriptors(
  file: YamlFile,
  fields: Fields<'top'> | Fields<'descriptor'>,
  level: ConfigLevel,
  parentKey: string,
  tree: DomainTree,
): void {
  const items = readList(file, fields as Fields<'top'>, 'descriptors');
  const field = fields.get('descriptors');
  const list = field?.value;
  if (field === undefined || list === undefined || items.length === 0) return;
  // An aliased list may contain its own alias; walking it would never end.
  if (!enter(file, list, fieldAt(field), list.anchor)) return;
  for (const { map, at } of mapItems(file, items)) {
    if (!enter(file, map, at, map.anchor)) continue;
    loadDescriptor(file, map, at, level, parentKey, tree);
    leave(file, map);
  }
  leave(file, list);
}

function loadDescriptor(
  file: YamlFile,
  map: YAMLMap,
  at: number,
  level: ConfigLevel,
  parentKey: string,
  tree: DomainTree,
): void {
  const fields = readFields(file, map, 'descriptor');
  const key = readString(file, fields, 'key');
  const value = readString(file, fields, 'value');
  if (key === '') report(file, fieldOrAt(fields, 'key', at), 'descriptor has empty key');
  const valid = key !== undefined && key !== '' && value !== undefined;
  const identity = value === '' || value === undefined ? (key ?? '') : `${key ?? ''}_${value}`;
  const fullKey = parentKey + identity;
  const duplicate = valid && level.nodes.has(identity);
  if (duplicate) report(file, at, `duplicate descriptor composite key '${fullKey}'`);

  const shadowMode = readBool(file, fields, 'shadow_mode') ?? false;
  const quotaMode = readBool(file, fields, 'quota_mode') ?? false;
  const detailedMetric = readBool(file, fields, 'detailed_metric') ?? false;
  const valueToMetric = readBool(file, fields, 'value_to_metric') ?? false;
  const shareThreshold = readBool(file, fields, 'share_threshold') ?? false;
  if (shareThreshold && valid && !isWildcard(identity)) {
    report(
      file,
      fieldAt(fields.get('share_threshold')!),
      `share_threshold can only be used with wildcard values (containing '*'), but found key '${identity}'`,
    );
  }
  const metadata = readMetadata(file, fields);
  const limit = readRateLimit(file, fields);
  const children = newLevel();
  loadDescriptors(file, fields, children, `${fullKey}.`, tree);
  if (!valid || duplicate) return;

  const rule: LimitRule | undefined =
    limit === undefined
      ? undefined
      : Object.freeze({
          fullKey,
          ...limit,
          algorithm: 'fixed_window',
          shadowMode,
          quotaMode,
          detailedMetric,
          valueToMetric,
          metadata,
        });
  if (rule !== undefined) tree.limits += 1;
  const share = shareThreshold && isWildcard(identity) ? Object.freeze({ key, value, identity }) : undefined;
  const node: ConfigNode = Object.freeze({ rule, children: finishLevel(children), share });
  addNode(level, identity, node);
}

type RateLimitPart = Pick<LimitRule, 'unit' | 'requestsPerUnit' | 'unlimited' | 'name' | 'replaces'>;

/** The descriptor's `rate_limit`, undefined when absent (or null, which yaml.v2 treats as absent). */
function readRateLimit(file: YamlFile, descriptor: Fields<'descriptor'>): RateLimitPart | undefined {
  const map = readMap(file, descriptor, 'rate_limit');
  if (map === undefined) return undefined;
  const fields = readFields(file, map, 'rate_limit');
  const unlimited = readBool(file, fields, 'unlimited');
  const rawUnit = readString(file, fields, 'unit');
  const unit = rawUnit === undefined ? undefined : parseUnit(rawUnit);
  const unitAt = fieldOrAt(fields, 'unit', descriptor.get('rate_limit')!.keyAt);
  // (when `unlimited` or `unit` itself is invalid, that is the one problem reported)
  if (unlimited === true) {
    if (unit !== undefined) report(file, unitAt, 'should not specify rate limit unit when unlimited');
  } else if (unlimited === false && rawUnit !== undefined && unit === undefined) {
    report(file, unitAt, `invalid rate limit unit '${rawUnit}'`);
  }
  const requestsPerUnit = readUint32(file, fields, 'requests_per_unit');
  const name = readString(file, fields, 'name') ?? '';
  const replaces = readReplaces(file, fields, name);
  return { unit: unit ?? UNLIMITED_UNIT, requestsPerUnit, unlimited: unlimited ?? false, name, replaces };
}

function readReplaces(file: YamlFile, rateLimit: Fields<'rate_limit'>, ownName: string): readonly string[] {
  const names: string[] = [];
  for (const { map, at } of mapItems(file, readList(file, rateLimit, 'replaces'))) {
    const fields = readFields(file, map, 'replaces');
    const name = readString(file, fields, 'name');
    if (name === '') {
      report(file, fieldOrAt(fields, 'name', at), 'should not have an empty replaces entry');
    } else if (name !== undefined) {
      if (name === ownName) {
        report(file, fieldAt(fields.get('name')!), 'replaces should not contain name of same descriptor');
      }
      names.push(name);
    }
  }
  return names.length === 0 ? NO_REPLACES : Object.freeze(names);
}
