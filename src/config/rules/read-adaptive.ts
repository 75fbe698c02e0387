import type { YAMLMap } from 'yaml';
import {
  abuseParams,
  type ControllerParams,
  type ErrorRateMatch,
  errorRateParams,
  type ParamProblem,
  type PenaltyParams,
  validateAbuseParams,
  validateErrorRateParams,
} from '../../adaptive/controller-params.js';
import { type Fields, type LevelKey, readFields } from './config-schema.js';
import type { DomainTree } from './config-tree.js';
import {
  fieldAt,
  fieldOrAt,
  mapItems,
  readBool,
  readDuration,
  readList,
  readMap,
  readNumber,
  readString,
} from './yaml-fields.js';
import { isEmptyNode, report, type YamlFile } from './yaml-file.js';

/** The controller types of DESIGN.md "Adaptive limits". */
export const CONTROLLER_TYPES = ['error_rate', 'abuse'] as const;
type ControllerType = (typeof CONTROLLER_TYPES)[number];

/** Fields of an `adaptive` entry that only one type has (`name`, `type`, `interval`, `shadow_mode` are common). */
const OWN_FIELDS: Readonly<Record<ControllerType, readonly LevelKey<'adaptive'>[]>> = {
  error_rate: ['match', 'error_threshold', 'min_samples', 'decrease', 'increase', 'floor'],
  abuse: ['over_limit_ratio', 'spike', 'min_requests', 'penalty'],
};

/** Where each YAML field of one entry is written (`penalty.ttl` style paths), for problem positions. */
type Positions = Map<string, number>;

/**
 * Reads a file's top-level `adaptive` list into `tree.controllers`, reporting every problem
 * at its field: wrong types, unknown or other-type fields, the parameter validators'
 * problems, and a name declared twice in the domain (across merged files too, naming both
 * places). An entry without a usable name or type is reported and not declared.
 */
export function readControllers(file: YamlFile, top: Fields<'top'>, tree: DomainTree): void {
  for (const { map, at } of mapItems(file, readList(file, top, 'adaptive'))) {
    const read = readController(file, map, at);
    if (read === undefined) continue;
    const { params, nameAt } = read;
    const earlier = tree.controllers.get(params.name);
    if (earlier === undefined) {
      tree.controllers.set(params.name, { params, file, at: nameAt });
      continue;
    }
    const { line, col } = earlier.file.lines.linePos(earlier.at);
    report(
      file,
      nameAt,
      `duplicate adaptive controller name '${params.name}' in domain '${tree.domain}'; also declared at ${earlier.file.path}:${line}:${col}`,
    );
  }
}

function readController(
  file: YamlFile,
  map: YAMLMap,
  at: number,
): { params: ControllerParams; nameAt: number } | undefined {
  const fields = readFields(file, map, 'adaptive');
  const nameField = fields.get('name');
  const name = readString(file, fields, 'name');
  const hasName = nameField !== undefined && !isEmptyNode(nameField.value);
  const label = hasName && name ? `adaptive controller '${name}'` : 'adaptive controller';
  if (!hasName) report(file, fieldOrAt(fields, 'name', at), `${label} needs a 'name'`);
  const type = readType(file, fields, at, label);
  if (name === undefined || !hasName || type === undefined) return undefined;

  const other: ControllerType = type === 'error_rate' ? 'abuse' : 'error_rate';
  for (const key of OWN_FIELDS[other]) {
    const field = fields.get(key);
    if (field === undefined) continue;
    report(
      file,
      field.keyAt,
      `config error, key '${key}' is not allowed in an ${type} controller; it applies to type ${other}`,
    );
  }
  const positions: Positions = new Map();
  for (const [key, field] of fields) positions.set(key, fieldAt(field));
  const common = {
    name,
    intervalMs: readDuration(file, fields, 'interval'),
    shadowMode: readBool(file, fields, 'shadow_mode'),
  };
  let params: ControllerParams;
  let problems: ParamProblem[];
  if (type === 'error_rate') {
    params = errorRateParams({
      ...common,
      match: readMatch(file, fields, positions),
      errorThreshold: readNumber(file, fields, 'error_threshold'),
      minSamples: readNumber(file, fields, 'min_samples'),
      decrease: readNumber(file, fields, 'decrease'),
      increase: readNumber(file, fields, 'increase'),
      floor: readNumber(file, fields, 'floor'),
    });
    problems = validateErrorRateParams(params);
  } else {
    params = abuseParams({
      ...common,
      overLimitRatio: readNumber(file, fields, 'over_limit_ratio'),
      spike: readNumber(file, fields, 'spike'),
      minRequests: readNumber(file, fields, 'min_requests'),
      penalty: readPenalty(file, fields, positions),
    });
    problems = validateAbuseParams(params);
  }
  for (const problem of problems) {
    report(file, positionOf(positions, problem.field, at), `${label}: '${problem.field}' ${problem.message}`);
  }
  return { params, nameAt: fieldAt(nameField) };
}

function readType(
  file: YamlFile,
  fields: Fields<'adaptive'>,
  at: number,
  label: string,
): ControllerType | undefined {
  const raw = readString(file, fields, 'type');
  if (raw === undefined) return undefined;
  const valid = `${CONTROLLER_TYPES.join(' or ')}`;
  if (raw === '') {
    report(file, fieldOrAt(fields, 'type', at), `${label} needs a 'type': ${valid}`);
    return undefined;
  }
  const type = CONTROLLER_TYPES.find((t) => t === raw);
  if (type === undefined) {
    report(
      file,
      fieldAt(fields.get('type')!),
      `invalid adaptive controller type '${raw}'; valid types: ${CONTROLLER_TYPES.join(', ')}`,
    );
  }
  return type;
}

/** `match`: only the fields written (an empty or absent match is valid: fed by signals only). */
function readMatch(
  file: YamlFile,
  entry: Fields<'adaptive'>,
  positions: Positions,
): ErrorRateMatch | undefined {
  const map = readMap(file, entry, 'match');
  if (map === undefined) return undefined;
  const fields = readFields(file, map, 'match');
  for (const [key, field] of fields) positions.set(`match.${key}`, fieldAt(field));
  const match: { -readonly [K in keyof ErrorRateMatch]: ErrorRateMatch[K] } = {};
  const put = (key: LevelKey<'match'>, as: keyof ErrorRateMatch): void => {
    // '' (or null) is kept: the validator rejects an empty match field
    const value = fields.has(key) ? readString(file, fields, key) : undefined;
    if (value !== undefined) match[as] = value;
  };
  put('upstream_cluster', 'upstreamCluster');
  put('route_name', 'routeName');
  put('authority', 'authority');
  return match;
}

function readPenalty(
  file: YamlFile,
  entry: Fields<'adaptive'>,
  positions: Positions,
): Partial<PenaltyParams> | undefined {
  const map = readMap(file, entry, 'penalty');
  if (map === undefined) return undefined;
  const fields = readFields(file, map, 'penalty');
  for (const [key, field] of fields) positions.set(`penalty.${key}`, fieldAt(field));
  return {
    factor: readNumber(file, fields, 'factor'),
    ttlMs: readDuration(file, fields, 'ttl'),
    escalate: readNumber(file, fields, 'escalate'),
    maxTtlMs: readDuration(file, fields, 'max_ttl'),
  };
}

/** The field's value, else its enclosing map's (`penalty` for `penalty.ttl`), else the entry. */
function positionOf(positions: Positions, field: string, at: number): number {
  const dot = field.indexOf('.');
  return positions.get(field) ?? (dot < 0 ? undefined : positions.get(field.slice(0, dot))) ?? at;
}
