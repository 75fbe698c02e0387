/**
 * Bounds on what one config load may cost, so a hostile or mistaken config cannot stall or
 * exhaust the service (docs/limits.md). envoyproxy/ratelimit has none of these; the
 * defaults are far above real configs (the largest we know of is under 1 MB).
 */
export interface ConfigLimits {
  /** CONFIG_MAX_BYTES: total size of all config files, bytes. Checked before reading. */
  readonly maxBytes: number;
  /** CONFIG_MAX_FILES: YAML files (and, separately, directories) under the config roots. */
  readonly maxFiles: number;
  /**
   * CONFIG_MAX_ALIAS_NODES: maps and lists one file may visit again through YAML aliases
   * ("billion laughs"); a file without aliases never revisits a node.
   */
  readonly maxAliasNodes: number;
  /** CONFIG_MAX_PROBLEMS: problems listed for one load; the total is still counted. */
  readonly maxProblems: number;
}

export const DEFAULT_CONFIG_LIMITS: ConfigLimits = Object.freeze({
  maxBytes: 8 * 1024 * 1024,
  maxFiles: 1_000,
  maxAliasNodes: 100_000,
  maxProblems: 100,
});

/** `1234567` as `1,234,567` (fixed locale: messages must not depend on the host). */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
