import { buildConfig } from '../config/rules/build-config.js';
import { formatProblem } from '../config/rules/config-problem.js';
import { listConfigFiles, readConfigFiles } from '../config/source/config-files.js';

export interface ValidateOptions {
  readonly paths: readonly string[];
  readonly mergeDomains: boolean;
  readonly ignoreDotfiles: boolean;
}

/**
 * `ratelimit validate PATH...`: loads configs exactly as `serve` does. Prints
 * every problem as `file:line:col: message` and returns 1, or one summary line
 * per domain and returns 0: `domain api: 3 limits (fixed_window, token_bucket) (a.yaml)`
 * (no algorithm list when every rule of the domain is unlimited, or it has none).
 */
export async function validateCommand(
  options: ValidateOptions,
  out: (line: string) => void,
): Promise<number> {
  let files: string[];
  try {
    files = await listConfigFiles(options.paths, { ignoreDotfiles: options.ignoreDotfiles });
  } catch (error) {
    out(`error: ${(error as Error).message}`);
    return 1;
  }
  if (files.length === 0) {
    out(`error: no *.yaml or *.yml files found in ${options.paths.join(', ')}`);
    return 1;
  }
  const result = buildConfig(await readConfigFiles(files), { mergeDomains: options.mergeDomains });
  if (!result.ok) {
    for (const problem of result.problems) out(formatProblem(problem));
    out(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} found`);
    return 1;
  }
  for (const { domain, files: from, limits, algorithms } of result.config.domains()) {
    const used = algorithms.length === 0 ? '' : ` (${algorithms.join(', ')})`;
    out(`domain ${domain}: ${limits} limit${limits === 1 ? '' : 's'}${used} (${from.join(', ')})`);
  }
  return 0;
}
