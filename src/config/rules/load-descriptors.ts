import type { YAMLMap } from 'yaml';
import type { LimitRule } from '../../core/limit.js';
import { adaptiveUse, readNodeAdaptive } from './adaptive-nodes.js';
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
import { readRuleLimits } from './read-rule-limits.js';
import { isWildcard } from './wildcard.js';
import { fieldAt, fieldOrAt, mapItems, readBool, readList, readString } from './yaml-fields.js';
import { enter, leave, report, type YamlFile } from './yaml-file.js';

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
  const limits = readRuleLimits(file, fields);
  const adaptiveNames = readNodeAdaptive(file, fields, limits);
  const children = newLevel();
  loadDescriptors(file, fields, children, `${fullKey}.`, tree);
  if (!valid || duplicate) return;

  const fixedValueAt = value !== '' && !isWildcard(identity) ? fieldAt(fields.get('value')!) : undefined;
  const use = adaptiveUse(file, fullKey, adaptiveNames, fixedValueAt, limits);
  if (use !== undefined) tree.adaptiveUses.push(use);
  // `adaptive` only when the node names a controller (LimitRule: absent, never empty)
  const adaptive = use === undefined ? {} : { adaptive: Object.freeze(adaptiveNames.map((n) => n.name)) };
  const rule: LimitRule | undefined =
    limits === undefined
      ? undefined
      : Object.freeze({
          fullKey,
          ...limits,
          shadowMode,
          quotaMode,
          detailedMetric,
          valueToMetric,
          metadata,
          ...adaptive,
        });
  if (rule !== undefined) countLimits(tree, rule);
  const share = shareThreshold && isWildcard(identity) ? Object.freeze({ key, value, identity }) : undefined;
  const node: ConfigNode = Object.freeze({ key, rule, children: finishLevel(children), share });
  addNode(level, identity, node);
}

/** Adds a rule to the domain's summary: one limit per limit, one for an unlimited rule. */
function countLimits(tree: DomainTree, rule: LimitRule): void {
  tree.limits += rule.unlimited ? 1 : rule.limits.length;
  for (const limit of rule.limits) tree.algorithms.add(limit.algorithm);
}
