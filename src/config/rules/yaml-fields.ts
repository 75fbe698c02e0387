import { isAlias, isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import type { Field, Fields, Level, LevelKey } from './config-schema.js';
import { isEmptyNode, report, type YamlFile } from './yaml-file.js';
import {
  describeFound,
  goFormat,
  isIntegerScalar,
  offsetOf,
  resolve,
  scalarText,
  scalarType,
} from './yaml-nodes.js';

/** Largest `requests_per_unit` (the proto field is a uint32). */
export const MAX_UINT32 = 4_294_967_295;

/**
 * Where to report a problem about a field: its value when it is written, else its key
 * (`domain:` with nothing after it points at `domain`).
 */
export function fieldAt(field: Field): number {
  const v = field.value;
  if (v === undefined || (isScalar(v) && v.value === null && !v.source)) return field.keyAt;
  return field.valueAt;
}

/** Where to report a problem about a field that may be missing: the field, else `fallback`. */
export function fieldOrAt<L extends Level>(fields: Fields<L>, name: LevelKey<L>, fallback: number): number {
  const field = fields.get(name);
  return field === undefined ? fallback : fieldAt(field);
}

function present<L extends Level>(fields: Fields<L>, name: LevelKey<L>): Field | undefined {
  const field = fields.get(name);
  return field === undefined || isEmptyNode(field.value) ? undefined : field;
}

/**
 * The shape every typed field reader shares: `absent` when the field is missing or null,
 * `accept`'s value when it takes the node, else a report that the field `must be <expected>`
 * (with what was found) and `invalid`.
 */
function readTyped<L extends Level, T, D>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
  how: { absent: D; invalid: D; expected: string; accept: (value: unknown) => T | undefined },
): T | D {
  const field = present(fields, name);
  if (field === undefined) return how.absent;
  const accepted = how.accept(field.value);
  if (accepted !== undefined) return accepted;
  report(
    file,
    fieldAt(field),
    `config error, '${name}' must be ${how.expected}, found ${describeFound(field.value)}`,
  );
  return how.invalid;
}

/**
 * A string field: '' when missing or null, the text as written for integers and booleans
 * (as yaml.v2 decodes them into a string), undefined after reporting anything else. A
 * float or uint64 is refused as in the reference (whose text is only `error checking config`).
 */
export function readString<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
): string | undefined {
  const field = present(fields, name);
  if (field === undefined) return '';
  const v = field.value;
  const type = isScalar(v) ? scalarType(v) : undefined;
  if (isScalar(v) && type !== 'float' && type !== 'uint64') return scalarText(v);
  const hint = isScalar(v) ? ` (quote it: '${v.source ?? String(v.value)}')` : '';
  report(file, fieldAt(field), `config error, '${name}' must be a string, found ${describeFound(v)}${hint}`);
  return undefined;
}

/** A boolean field: false when missing or null, undefined after reporting anything but true/false. */
export function readBool<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
): boolean | undefined {
  return readTyped(file, fields, name, {
    absent: false,
    invalid: undefined,
    expected: 'true or false',
    accept: (v) => (isScalar(v) && typeof v.value === 'boolean' ? v.value : undefined),
  });
}

/**
 * An unsigned 32-bit integer field of at least `min`: 0 when missing or null; anything else
 * is reported (and read as 0).
 */
export function readUint32<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
  min = 0,
): number {
  return readTyped(file, fields, name, {
    absent: 0,
    invalid: 0,
    expected: `an integer from ${min} to ${MAX_UINT32}`,
    accept: (v) => {
      const n = isScalar(v) && isIntegerScalar(v) ? (v.value as number) : undefined;
      return n !== undefined && n >= min && n <= MAX_UINT32 ? n : undefined;
    },
  });
}

/** True when a field is written with a non-null value (null is the same as absent, as in yaml.v2). */
export function isPresent<L extends Level>(fields: Fields<L>, name: LevelKey<L>): boolean {
  return present(fields, name) !== undefined;
}

/** The (unresolved) items of a list field: none when missing or null, none after reporting a non-list. */
export function readList<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
): readonly unknown[] {
  return readTyped(file, fields, name, {
    absent: [] as readonly unknown[],
    invalid: [] as readonly unknown[],
    expected: 'a list',
    accept: (v) => (isSeq(v) ? (v.items as readonly unknown[]) : undefined),
  });
}

/** A map field: undefined when missing or null, undefined after reporting a non-map. */
export function readMap<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
): YAMLMap | undefined {
  return readTyped(file, fields, name, {
    absent: undefined,
    invalid: undefined,
    expected: 'a map',
    accept: (v) => (isMap(v) ? v : undefined),
  });
}

/** The items of a list that are maps; every other item is reported with the reference's text. */
export function mapItems(file: YamlFile, items: readonly unknown[]): { map: YAMLMap; at: number }[] {
  const maps: { map: YAMLMap; at: number }[] = [];
  for (const item of items) {
    const node = resolve(file, item);
    if (isMap(node)) {
      maps.push({ map: node, at: offsetOf(item) });
    } else if (node !== undefined || !isAlias(item)) {
      // (an alias to an unknown anchor has been reported by `resolve` already)
      report(
        file,
        offsetOf(item),
        `config error, yaml file contains list of type other than map: ${goFormat(file, node)}`,
      );
    }
  }
  return maps;
}

/** A number field (integer or float): undefined when missing or null, undefined after reporting anything else. */
export function readNumber<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
): number | undefined {
  return readTyped(file, fields, name, {
    absent: undefined,
    invalid: undefined,
    expected: 'a number',
    accept: (v) =>
      isScalar(v) && typeof v.value === 'number' && Number.isFinite(v.value) ? v.value : undefined,
  });
}

const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration field (`500ms`, `5s`, `1m`, `1h`, or a sum such as `1m30s`), in ms: undefined
 * when missing or null, undefined after reporting anything else (a bare number has no unit).
 */
export function readDuration<L extends Level>(
  file: YamlFile,
  fields: Fields<L>,
  name: LevelKey<L>,
): number | undefined {
  return readTyped(file, fields, name, {
    absent: undefined,
    invalid: undefined,
    expected: 'a duration such as 5s, 500ms, 1m or 1h',
    accept: (v) => (isScalar(v) && typeof v.value === 'string' ? parseDuration(v.value.trim()) : undefined),
  });
}

function parseDuration(text: string): number | undefined {
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * (DURATION_MS[unit ?? ''] ?? 0);
  }
  return total;
}
