import type { Fields } from './config-schema.js';
import { fieldAt, readMap } from './yaml-fields.js';
import { report, type YamlFile } from './yaml-file.js';

/**
 * A descriptor's `metadata`: any YAML map, returned to Envoy as a protobuf Struct, so only
 * JSON-like values (null, booleans, numbers, strings, lists, maps) are accepted. Keys are not
 * validated (as in the reference); an empty map is the same as none.
 * @returns a deep-frozen plain object, or undefined when absent or invalid (then reported)
 */
export function readMetadata(
  file: YamlFile,
  fields: Fields<'descriptor'>,
): Readonly<Record<string, unknown>> | undefined {
  const map = readMap(file, fields, 'metadata');
  if (map === undefined) return undefined;
  const at = fieldAt(fields.get('metadata')!);
  let value: unknown;
  try {
    value = map.toJS(file.doc, { maxAliasCount: 100 });
  } catch (err) {
    report(file, at, `error parsing metadata: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  const problem = jsonProblem(value, new Set());
  if (problem !== undefined) {
    report(file, at, `error parsing metadata: ${problem}`);
    return undefined;
  }
  const record = value as Record<string, unknown>;
  return Object.keys(record).length === 0 ? undefined : deepFreeze(record);
}

/** Why a value cannot become a protobuf Struct value, or undefined when it can. */
function jsonProblem(value: unknown, path: Set<object>): string | undefined {
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    typeof value === 'string'
  ) {
    return undefined;
  }
  if (typeof value !== 'object' || value === undefined) return `unsupported value of type ${typeof value}`;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
    return `unsupported value of type ${(value as object).constructor?.name ?? 'unknown'}`;
  }
  if (path.has(value)) return 'value contains itself';
  path.add(value);
  for (const item of Object.values(value)) {
    const problem = jsonProblem(item, path);
    if (problem !== undefined) return problem;
  }
  path.delete(value);
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
