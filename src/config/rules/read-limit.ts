import type { YAMLMap } from 'yaml';
import { ALGORITHMS, type Algorithm } from '../../core/algorithm.js';
import { parseUnit, type Unit } from '../../core/units.js';
import { type Fields, readFields } from './config-schema.js';
import {
  fieldAt,
  fieldOrAt,
  isPresent,
  mapItems,
  readBool,
  readList,
  readString,
  readUint32,
} from './yaml-fields.js';
import { report, type YamlFile } from './yaml-file.js';

/**
 * Largest `requests_per_unit` of a `sliding_log` limit: the log keeps one entry per admitted
 * request in the window, so its memory grows with the limit (DESIGN.md, "Extensions").
 */
const SLIDING_LOG_MAX_REQUESTS = 10_000;

/** A name written in a `replaces` list, with where it is written. */
export interface ReplacedName {
  readonly name: string;
  readonly at: number;
}

/**
 * One limit map (`rate_limit`, or an entry of `rate_limits`) as written, after its own
 * checks. A field whose value is invalid is undefined; its problem has been reported.
 */
export interface LimitSpec {
  /** Where the map is: its first key (or `{`). */
  readonly at: number;
  /** `unlimited`; undefined when not a boolean, or written (and refused) in `rate_limits`. */
  readonly unlimited: boolean | undefined;
  /** undefined when unlimited, missing or invalid. */
  readonly unit: Unit | undefined;
  readonly requestsPerUnit: number;
  /** fixed_window when absent. */
  readonly algorithm: Algorithm | undefined;
  /** `burst` as written; undefined when absent or invalid. */
  readonly burst: number | undefined;
  /** '' when absent. */
  readonly name: string;
  readonly replaces: readonly ReplacedName[];
}

/**
 * Reads and checks one limit map.
 * @param at where to report a missing `unit`: the `rate_limit` key, or the list entry
 * @param level `rate_limit` (may be unlimited) or `rate_limits` (an entry; `unlimited` refused)
 */
export function readLimit(
  file: YamlFile,
  map: YAMLMap,
  at: number,
  level: 'rate_limit' | 'rate_limits',
): LimitSpec {
  const fields = readFields(file, map, level) as Fields<'rate_limit'>;
  // In `rate_limits`, `unlimited` is refused (by readFields); a missing unit beside it is no news.
  const unlimited =
    level === 'rate_limit' ? readBool(file, fields, 'unlimited') : map.has('unlimited') ? undefined : false;
  const rawUnit = readString(file, fields, 'unit');
  const parsedUnit = rawUnit === undefined ? undefined : parseUnit(rawUnit);
  const unitAt = fieldOrAt(fields, 'unit', at);
  // (when `unlimited` or `unit` itself is invalid, that is the one problem reported)
  if (unlimited === true) {
    if (parsedUnit !== undefined) report(file, unitAt, 'should not specify rate limit unit when unlimited');
  } else if (unlimited === false && rawUnit !== undefined && parsedUnit === undefined) {
    report(file, unitAt, `invalid rate limit unit '${rawUnit}'`);
  }
  const requestsPerUnit = readUint32(file, fields, 'requests_per_unit');
  const algorithm = readAlgorithm(file, fields, unlimited === true);
  const burst = readBurst(file, fields, algorithm);
  if (algorithm === 'sliding_log' && requestsPerUnit > SLIDING_LOG_MAX_REQUESTS) {
    report(
      file,
      fieldAt(fields.get('requests_per_unit')!),
      `sliding_log keeps one entry per admitted request, so its memory grows with the limit: requests_per_unit must be at most ${SLIDING_LOG_MAX_REQUESTS}, found ${requestsPerUnit} (use sliding_window or token_bucket for larger limits)`,
    );
  }
  return {
    at,
    unlimited,
    unit: unlimited === true ? undefined : parsedUnit,
    requestsPerUnit,
    algorithm,
    burst,
    name: readString(file, fields, 'name') ?? '',
    replaces: readReplaces(file, fields),
  };
}

/** Parses an algorithm name case-insensitively (as units are); undefined for anything else. */
function parseAlgorithm(raw: string): Algorithm | undefined {
  const lower = raw.toLowerCase();
  return ALGORITHMS.find((a) => a === lower);
}

function readAlgorithm(
  file: YamlFile,
  fields: Fields<'rate_limit'>,
  unlimited: boolean,
): Algorithm | undefined {
  const raw = readString(file, fields, 'algorithm');
  if (raw === undefined) return undefined;
  if (raw === '') return 'fixed_window';
  const at = fieldAt(fields.get('algorithm')!);
  const algorithm = parseAlgorithm(raw);
  if (algorithm === undefined) {
    report(file, at, `invalid rate limit algorithm '${raw}'; valid algorithms: ${ALGORITHMS.join(', ')}`);
  } else if (unlimited) {
    report(file, at, 'should not specify rate limit algorithm when unlimited');
  }
  return algorithm;
}

function readBurst(
  file: YamlFile,
  fields: Fields<'rate_limit'>,
  algorithm: Algorithm | undefined,
): number | undefined {
  if (!isPresent(fields, 'burst')) return undefined;
  const burst = readUint32(file, fields, 'burst', 1);
  if (burst === 0) return undefined;
  if (algorithm !== undefined && algorithm !== 'token_bucket') {
    report(
      file,
      fieldAt(fields.get('burst')!),
      `'burst' only applies to algorithm token_bucket, but this limit's algorithm is ${algorithm}`,
    );
  }
  return burst;
}

function readReplaces(file: YamlFile, limit: Fields<'rate_limit'>): readonly ReplacedName[] {
  const names: ReplacedName[] = [];
  for (const { map, at } of mapItems(file, readList(file, limit, 'replaces'))) {
    const fields = readFields(file, map, 'replaces');
    const name = readString(file, fields, 'name');
    if (name === '') {
      report(file, fieldOrAt(fields, 'name', at), 'should not have an empty replaces entry');
    } else if (name !== undefined) {
      names.push({ name, at: fieldAt(fields.get('name')!) });
    }
  }
  return names;
}
