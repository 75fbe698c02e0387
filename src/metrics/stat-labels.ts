import type { DescriptorEntry } from '../core/descriptor.js';

/**
 * Prometheus labels of a per rule statistic: the `domain`, `key1`, `key2` of
 * envoyproxy/ratelimit src/stats/prom/default_mapper.yaml.
 */
export interface StatLabels {
  readonly domain: string;
  readonly key1: string;
  readonly key2: string;
}

/**
 * The configured value of each level of a rule's path, read from its
 * fullKey (`domain.k1[_v1].k2[_v2]…`, wildcards as written) with the keys
 * of a request it matched; undefined where the config has only the key.
 * Every request a rule matches has the same keys, so this is computed once
 * per rule. A configured value that itself contains `.<next key>` could be
 * misread; the exact request value is tried first to avoid that.
 */
export function configuredValues(
  fullKey: string,
  domain: string,
  entries: readonly DescriptorEntry[],
): (string | undefined)[] {
  const values: (string | undefined)[] = [];
  let pos = domain.length + 1;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    pos += entry.key.length;
    if (fullKey.charCodeAt(pos) !== UNDERSCORE) {
      values.push(undefined);
      pos += 1;
      continue;
    }
    const next = entries[i + 1];
    if (next === undefined) {
      values.push(fullKey.slice(pos + 1));
      break;
    }
    const exact = `_${entry.value}.${next.key}`;
    let end = fullKey.startsWith(exact, pos) ? pos + exact.length - next.key.length - 1 : -1;
    if (end < 0) end = fullKey.indexOf(`.${next.key}`, pos + 1);
    if (end < 0) end = fullKey.length;
    values.push(fullKey.slice(pos + 1, end));
    pos = end + 1;
  }
  return values;
}

const UNDERSCORE = 95;

/**
 * The reference's statsd sanitising of a value: `:` and `|` become `_`
 * (statsd separators). We also turn every `.` into `_` (the reference does
 * this for dotted IPv4 addresses only), so `.` only ever separates levels in key2.
 */
export function sanitizeValue(value: string): string {
  return value.replace(SANITIZE, '_');
}

const SANITIZE = /[:|.]/g;

/**
 * One level of the statKey: `key_value` where a value is shown, else `key`.
 * `runtime` is the request's value (shown only for detailed_metric /
 * value_to_metric rules), `configured` the config's value or wildcard pattern.
 */
function level(key: string, configured: string | undefined, runtime: string | undefined): string {
  const value = runtime ?? configured;
  return value === undefined || value === '' ? key : `${key}_${sanitizeValue(value)}`;
}

/**
 * Labels for the statKey levels: key1 is the first level, key2 every deeper
 * level joined with `.` ('' for a one-level path).
 */
export function labelsOf(domain: string, levels: readonly string[]): StatLabels {
  return { domain, key1: levels[0] ?? '', key2: levels.slice(1).join('.') };
}

/**
 * The statKey levels of a configured rule (the keys envoyproxy/ratelimit
 * src/config/config_impl.go passes to src/stats/ NewStats):
 * - default: `key_value` only where the config names a value (a wildcard
 *   shows its pattern, e.g. `path_/api/*`), `key` where it has none;
 * - detailed_metric or value_to_metric: `key_value` with the request's value
 *   at every level (for exact levels that is the configured value anyway).
 * Envoy overrides (`limit` in the request) show keys only: their values come
 * from clients, and the reference's `domain.k1_v1…` key would be unbounded.
 */
export function statLevels(
  configured: readonly (string | undefined)[],
  entries: readonly DescriptorEntry[],
  withValues: boolean,
): string[] {
  const levels = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    levels[i] = level(
      entry.key,
      withValues ? undefined : configured[i],
      withValues ? entry.value : undefined,
    );
  }
  return levels;
}
