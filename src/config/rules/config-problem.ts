import type { ConfigProblem } from '../../core/errors.js';

/**
 * Formats a problem as `file:line:col: message`, the form compilers and editors
 * understand; a problem without a position (line 0) prints as `file: message`.
 */
export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`;
}
