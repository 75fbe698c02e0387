/**
 * One thing wrong with a config file, with the position of the YAML node that
 * caused it. Every load reports all problems it can find, not just the first.
 */
export interface ConfigProblem {
  /** The file's path as the loader was given it. */
  file: string;
  /** 1-based line; 0 when the problem has no position (e.g. the file could not be read). */
  line: number;
  /** 1-based column; 0 when the problem has no position. */
  col: number;
  /** The reference's message text where it has one (e.g. `config error, unknown key 'ratelimit'`). */
  message: string;
}

/**
 * Formats a problem as `file:line:col: message`, the form compilers and editors
 * understand; a problem without a position (line 0) prints as `file: message`.
 */
export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`;
}
