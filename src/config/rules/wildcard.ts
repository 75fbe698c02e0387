/**
 * A `*` pattern compiled once at config load, matched as envoyproxy/ratelimit does
 * (`wildcardMatch`): against the whole `key_value` string, each `*` standing for zero or
 * more characters, any number of them anywhere. Matching allocates nothing.
 */
export interface WildcardPattern {
  /** The pattern as written, e.g. `path_bar*baz*qux`. */
  readonly source: string;
  /** Text before the first `*`; the value must start with it. */
  readonly prefix: string;
  /** Text between `*`s, in order; each must appear after the previous one, without overlap. */
  readonly middle: readonly string[];
  /** Text after the last `*`; the value must end with it. */
  readonly suffix: string;
  /** Total length of the fixed text: shorter values cannot match. */
  readonly minLength: number;
}

/** True when an identity is a wildcard pattern (contains `*`). */
export function isWildcard(identity: string): boolean {
  return identity.includes('*');
}

/** Compiles a pattern that contains at least one `*`. */
export function compileWildcard(source: string): WildcardPattern {
  const parts = source.split('*');
  const prefix = parts[0] ?? '';
  const suffix = parts.length > 1 ? (parts[parts.length - 1] ?? '') : '';
  const middle = Object.freeze(parts.slice(1, -1));
  const minLength = parts.reduce((n, p) => n + p.length, 0);
  return Object.freeze({ source, prefix, middle, suffix, minLength });
}

/** True when `value` matches the pattern. */
export function matchesWildcard(pattern: WildcardPattern, value: string): boolean {
  if (value.length < pattern.minLength) return false;
  if (!value.startsWith(pattern.prefix) || !value.endsWith(pattern.suffix)) return false;
  const middle = pattern.middle;
  const end = value.length - pattern.suffix.length;
  let from = pattern.prefix.length;
  for (let i = 0; i < middle.length; i++) {
    const part = middle[i]!;
    const at = value.indexOf(part, from);
    if (at < 0 || at + part.length > end) return false;
    from = at + part.length;
  }
  return true;
}
