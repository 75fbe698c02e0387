import { isScalar } from 'yaml';
import type { ConfigProblem } from '../../core/errors.js';
import type { Limit } from '../../core/limit.js';
import { UNIT_SECONDS } from '../../core/units.js';
import type { Fields } from './config-schema.js';
import type { AdaptiveName, AdaptiveUse, DomainTree } from './config-tree.js';
import { formatDuration } from './describe-adaptive.js';
import type { RuleLimits } from './read-rule-limits.js';
import { isPresent, readList } from './yaml-fields.js';
import { report, type YamlFile } from './yaml-file.js';
import { describeFound, offsetOf, resolve, scalarText, scalarType } from './yaml-nodes.js';

/**
 * Reads a descriptor's `adaptive: [names]`, reporting what can be told from the node alone:
 * an item that is not a name, a name listed twice, and a list on a node with nothing to
 * scale (no `rate_limit`/`rate_limits`, or unlimited). Whether the names are declared is
 * checked by {@link checkAdaptiveUses} once the whole domain is loaded.
 */
export function readNodeAdaptive(
  file: YamlFile,
  fields: Fields<'descriptor'>,
  limits: RuleLimits | undefined,
): AdaptiveName[] {
  const names: AdaptiveName[] = [];
  for (const item of readList(file, fields, 'adaptive')) {
    const node = resolve(file, item);
    const at = offsetOf(item);
    const type = isScalar(node) ? scalarType(node) : undefined;
    if (!isScalar(node) || type === 'null' || type === 'float' || type === 'uint64') {
      report(file, at, `config error, 'adaptive' must list controller names, found ${describeFound(node)}`);
      continue;
    }
    const name = scalarText(node);
    if (name === '') report(file, at, "config error, 'adaptive' lists an empty controller name");
    else if (names.some((n) => n.name === name)) {
      report(file, at, `adaptive controller '${name}' is listed twice in this descriptor's 'adaptive'`);
    } else names.push({ name, at });
  }
  if (names.length === 0) return names;
  const at = fields.get('adaptive')!.keyAt;
  if (!isPresent(fields, 'rate_limit') && !isPresent(fields, 'rate_limits')) {
    report(
      file,
      at,
      "'adaptive' scales this descriptor's limits, but it has no 'rate_limit' or 'rate_limits'",
    );
  } else if (limits?.unlimited === true) {
    report(file, at, "'adaptive' has nothing to scale on an unlimited descriptor");
  }
  return names;
}

/**
 * The checks of the domain's `adaptive` uses that need all of its (merged) controllers: every
 * name is declared, and an `abuse` controller is not put on a node with a fixed value (the
 * penalty box judges each value of the node's key; a fixed value has only one).
 */
export function checkAdaptiveUses(tree: DomainTree): void {
  const declared = [...tree.controllers.keys()];
  const known =
    declared.length === 0
      ? `domain '${tree.domain}' declares none`
      : `domain '${tree.domain}' declares: ${declared.join(', ')}`;
  for (const use of tree.adaptiveUses) {
    for (const { name, at } of use.names) {
      const controller = tree.controllers.get(name);
      if (controller === undefined) {
        report(
          use.file,
          at,
          `adaptive controller '${name}' is not declared in the domain's 'adaptive' list; ${known}`,
        );
      } else if (controller.params.type === 'abuse' && use.fixedValueAt !== undefined) {
        report(
          use.file,
          at,
          `abuse controller '${name}' judges each value of the descriptor's key, but '${use.fullKey}' has a fixed value, so there is only one; put it on a descriptor without 'value' or with a wildcard value`,
        );
      }
    }
  }
}

/**
 * Warnings (the config still loads) for `error_rate` controllers that a node can never lift
 * again: at the controller's floor, the node admits at most floor × requests_per_unit ×
 * interval / unit per interval (its strictest limit), and an interval with fewer than
 * `min_samples` samples holds the factor. Other traffic matching the controller may still
 * feed it, hence a warning. Each names the file:line:col of the name in the node's list.
 */
export function adaptiveWarnings(tree: DomainTree): ConfigProblem[] {
  const warnings: ConfigProblem[] = [];
  for (const use of tree.adaptiveUses) {
    for (const { name, at } of use.names) {
      const params = tree.controllers.get(name)?.params;
      if (params?.type !== 'error_rate' || use.limits.length === 0) continue;
      const admitted = Math.min(...use.limits.map((l) => perInterval(l, params.intervalMs))) * params.floor;
      if (admitted >= params.minSamples) continue;
      const { line, col } = use.file.lines.linePos(at);
      warnings.push({
        file: use.file.path,
        line,
        col,
        message: `error_rate controller '${name}' may never recover on '${use.fullKey}': at its floor (${params.floor}) the descriptor admits at most ${round(admitted)} requests per ${formatDuration(params.intervalMs)} interval, fewer than min_samples (${params.minSamples}), and an interval with fewer samples holds the factor`,
      });
    }
  }
  return warnings;
}

function perInterval(limit: Limit, intervalMs: number): number {
  return (limit.requestsPerUnit * intervalMs) / (UNIT_SECONDS[limit.unit] * 1_000);
}

function round(n: number): number {
  return Math.round(n * 1_000) / 1_000;
}

/** The use of a node with `names`, or undefined when it names none. */
export function adaptiveUse(
  file: YamlFile,
  fullKey: string,
  names: readonly AdaptiveName[],
  fixedValueAt: number | undefined,
  limits: RuleLimits | undefined,
): AdaptiveUse | undefined {
  if (names.length === 0) return undefined;
  return { file, fullKey, names, fixedValueAt, limits: limits?.limits ?? [] };
}
