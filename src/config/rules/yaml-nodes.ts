import { isAlias, isMap, isScalar, isSeq, Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { type PlainScalar, plainScalar } from './plain-scalar.js';
import { enter, leave, report, type YamlFile } from './yaml-file.js';

/** A YAML node with aliases followed. */
export type ResolvedNode = Scalar | YAMLMap | YAMLSeq;

/**
 * One key/value of a map after `<<` merges, aliases followed. `keyAt` and `valueAt` are
 * the offsets where they are written (an alias, not its anchor), for error positions.
 */
export interface MapEntry {
  readonly key: ResolvedNode | undefined;
  readonly keyAt: number;
  readonly value: ResolvedNode | undefined;
  readonly valueAt: number;
}

/** Start offset of a node in its file (0 when it has no position). */
export function offsetOf(node: unknown): number {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range?.[0] ?? 0;
}

/**
 * Follows an alias to its anchored node (positions then point at the anchor, where the
 * content is written). An unknown anchor is reported as yaml.v2 words it.
 */
export function resolve(file: YamlFile, node: unknown): ResolvedNode | undefined {
  if (isAlias(node)) {
    // Not in the map: an unknown anchor, already reported.
    if (!file.aliases.has(node)) return undefined;
    const found = file.aliases.get(node);
    const target = isScalar(found) || isMap(found) || isSeq(found) ? found : undefined;
    if (target === undefined) {
      file.aliases.delete(node);
      report(
        file,
        offsetOf(node),
        `error loading config file: yaml: unknown anchor '${node.source}' referenced`,
      );
    }
    return target;
  }
  return isScalar(node) || isMap(node) || isSeq(node) ? node : undefined;
}

/**
 * The entries of a map, with YAML 1.1 `<<` merge keys applied as yaml.v2 does: keys
 * written in the map win over merged ones, and earlier merge sources win over later ones.
 */
export function mapEntries(file: YamlFile, map: YAMLMap): MapEntry[] {
  const own: MapEntry[] = [];
  const merged: MapEntry[] = [];
  for (const pair of map.items) {
    if (isScalar(pair.key) && typeof pair.key.value === 'symbol') {
      mergeSources(file, pair.value, merged);
      continue;
    }
    const keyAt = offsetOf(pair.key);
    const valueAt = pair.value === null ? keyAt : offsetOf(pair.value);
    own.push({ key: resolve(file, pair.key), keyAt, value: resolve(file, pair.value), valueAt });
  }
  if (merged.length === 0) return own;
  const seen = new Set(own.map((e) => keyIdentity(e.key)));
  for (const entry of merged) {
    const id = keyIdentity(entry.key);
    if (!seen.has(id)) {
      seen.add(id);
      own.push(entry);
    }
  }
  return own;
}

function mergeSources(file: YamlFile, value: unknown, out: MapEntry[]): void {
  const source = resolve(file, value);
  const sources = isSeq(source)
    ? source.items.map((item) => [item, resolve(file, item)] as const)
    : [[value, source] as const];
  for (const [written, node] of sources) {
    if (!isMap(node)) {
      report(file, offsetOf(written), "config error, merge key '<<' must refer to a map");
      continue;
    }
    if (!enter(file, node, offsetOf(written), node.anchor)) continue;
    out.push(...mapEntries(file, node));
    leave(file, node);
  }
}

function keyIdentity(key: ResolvedNode | undefined): unknown {
  return isScalar(key) ? key.value : key;
}

const FLOAT_TAG = 'tag:yaml.org,2002:float';

/**
 * The yaml.v2 type of a scalar: an untagged plain one as yaml.v2 resolves it; a quoted,
 * block or explicitly tagged one (`!!float 1`) by the value and tag the yaml package gave it.
 */
export function scalarType(node: Scalar): PlainScalar['type'] {
  if (node.type === Scalar.PLAIN && node.tag === undefined) return plainScalar(node.source ?? '').type;
  const v = node.value;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v !== 'number') return 'str';
  return node.tag === FLOAT_TAG || !Number.isInteger(v) ? 'float' : 'int';
}

/** True for a scalar yaml.v2 reads as an int (decimal, octal, hex or binary, within int64). */
export function isIntegerScalar(node: Scalar): boolean {
  return scalarType(node) === 'int';
}

/**
 * The text of a scalar used where a string is expected. Like yaml.v2, a plain scalar that
 * yaml.v2 reads as an integer or boolean keeps its text as written (`value: 007` is "007",
 * `value: yes` is "yes"); null is the empty string.
 */
export function scalarText(node: Scalar): string {
  if (typeof node.value === 'string') return node.value;
  if (node.value === null || node.value === undefined) return '';
  return node.source ?? String(node.value);
}

/** Says what a node is, for "must be X, found Y" messages: `a map`, `integer -1`, `string 'x'`. */
export function describeFound(node: ResolvedNode | undefined): string {
  if (node === undefined || isEmptyScalar(node)) return 'null';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  const v = node.value;
  const text = node.source ?? String(v);
  if (typeof v === 'string') return `string '${v}'`;
  const type = scalarType(node);
  if (type === 'bool') return `boolean ${text}`;
  if (type === 'int') return `integer ${text}`;
  if (type === 'uint64') return `unsigned 64-bit integer ${text}`;
  if (type === 'float') return `float ${text}`;
  return `'${text}'`;
}

function isEmptyScalar(node: ResolvedNode): boolean {
  return isScalar(node) && (node.value === null || node.value === undefined);
}

/**
 * Formats a node the way Go's `%v` prints what yaml.v2 decoded, for the reference's
 * messages that quote a value: `a`, `0.25`, `<nil>`, `[a b]`, `map[k:v]`.
 */
export function goFormat(file: YamlFile, node: ResolvedNode | undefined): string {
  if (node === undefined) return '<nil>';
  if (isScalar(node)) return goFormatValue(node.value);
  try {
    return goFormatValue(node.toJS(file.doc, { maxAliasCount: 100 }));
  } catch {
    return node.toString();
  }
}

function goFormatValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goFormatValue).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goFormatValue(v)}`).join(' ')}]`;
  }
  return String(value);
}
