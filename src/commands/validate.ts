import { formatCount } from '../config/rules/config-limits.js';
import { formatProblem } from '../config/rules/config-problem.js';
import { describeController } from '../config/rules/describe-adaptive.js';
import {
  type ConfigLoadSettings,
  DEFAULT_CONFIG_LOAD_SETTINGS,
} from '../config/settings/config-load-settings.js';
import { listConfigFiles } from '../config/source/config-files.js';
import { workerConfigLoader } from '../config/source/config-loader.js';

export interface ValidateOptions {
  readonly paths: readonly string[];
  readonly mergeDomains: boolean;
  readonly ignoreDotfiles: boolean;
  /** CONFIG_MAX_* limits and loader budget, as `serve` applies them (default: the defaults). */
  readonly configLoad?: ConfigLoadSettings | undefined;
}

/**
 * `ratelimit validate PATH...`: loads configs exactly as `serve` does (same loader thread,
 * same limits). Prints every problem as `file:line:col: message` and returns 1, or one
 * summary line per domain and returns 0: `domain api: 3 limits (fixed_window, token_bucket) (a.yaml)`
 * (no algorithm list when every rule of the domain is unlimited, or it has none).
 * Past CONFIG_MAX_PROBLEMS problems, a first line `config has N problems; the first M:`
 * introduces the ones listed.
 *
 * A valid config's warnings come first, as `file:line:col: warning: message`. A domain with
 * `adaptive` controllers is followed by one `  adaptive <controller>` line each (effective
 * parameters, see describeController) and the `/rlconfig` line of each limit whose node names
 * controllers; other domains print only their summary line.
 */
export async function validateCommand(
  options: ValidateOptions,
  out: (line: string) => void,
): Promise<number> {
  const load = options.configLoad ?? DEFAULT_CONFIG_LOAD_SETTINGS;
  let files: string[];
  try {
    files = await listConfigFiles(options.paths, {
      ignoreDotfiles: options.ignoreDotfiles,
      maxFiles: load.limits.maxFiles,
    });
  } catch (error) {
    out(`error: ${(error as Error).message}`);
    return 1;
  }
  if (files.length === 0) {
    out(`error: no *.yaml or *.yml files found in ${options.paths.join(', ')}`);
    return 1;
  }
  const loaded = await workerConfigLoader(load).load({
    paths: files,
    mergeDomains: options.mergeDomains,
    limits: load.limits,
    previousHash: undefined,
  });
  if (loaded.unchanged) throw new Error('unreachable: a load without a previous hash is never unchanged');
  const { result } = loaded;
  if (!result.ok) {
    const count = result.problemCount ?? result.problems.length;
    if (count > result.problems.length) {
      out(`config has ${formatCount(count)} problems; the first ${result.problems.length}:`);
    }
    for (const problem of result.problems) out(formatProblem(problem));
    out(`${count} problem${count === 1 ? '' : 's'} found`);
    return 1;
  }
  for (const warning of result.warnings) {
    out(formatProblem({ ...warning, message: `warning: ${warning.message}` }));
  }
  const domains = result.config.domains();
  const controllers = result.config.adaptiveControllers();
  const adaptiveLines = result.config.describe().filter((line) => line.includes(', adaptive: ['));
  for (const { domain, files: from, limits, algorithms } of domains) {
    const used = algorithms.length === 0 ? '' : ` (${algorithms.join(', ')})`;
    out(`domain ${domain}: ${limits} limit${limits === 1 ? '' : 's'}${used} (${from.join(', ')})`);
    for (const params of controllers.get(domain) ?? []) out(`  adaptive ${describeController(params)}`);
    for (const line of adaptiveLines) {
      if (domainOf(line, domains) === domain) out(`  ${line}`);
    }
  }
  return 0;
}

/** The domain of a `/rlconfig` line: the longest domain `d` it starts with as `d.`. */
function domainOf(line: string, domains: readonly { domain: string }[]): string | undefined {
  let best: string | undefined;
  for (const { domain } of domains) {
    if (line.startsWith(`${domain}.`) && (best === undefined || domain.length > best.length)) best = domain;
  }
  return best;
}
