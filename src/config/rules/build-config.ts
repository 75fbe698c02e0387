import { isMap } from 'yaml';
import type { ConfigProblem } from '../../core/errors.js';
import { adaptiveWarnings, checkAdaptiveUses } from './adaptive-nodes.js';
import { type ConfigLimits, DEFAULT_CONFIG_LIMITS } from './config-limits.js';
import { readFields } from './config-schema.js';
import { type DomainTree, newDomainTree } from './config-tree.js';
import { loadDescriptors } from './load-descriptors.js';
import { configFromTrees, type RateLimitConfig } from './rate-limit-config.js';
import { readControllers } from './read-adaptive.js';
import { fieldAt, fieldOrAt, readString } from './yaml-fields.js';
import { isEmptyNode, parseYamlFile, report, type YamlFile } from './yaml-file.js';
import { describeFound, offsetOf } from './yaml-nodes.js';

/** One config file: its path (used in problems and summaries) and its YAML text. */
export interface ConfigFile {
  path: string;
  content: string;
}

/**
 * A built config, or the problems found in the files: the first `maxProblems` of them (in
 * file, then position order) and, in `problemCount`, how many there were in all.
 */
export type BuildResult =
  | { ok: true; config: RateLimitConfig; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; problemCount?: number };

/** Like {@link BuildResult}, with the domain trees not yet made into a config. */
export type TreesResult =
  | { ok: true; trees: DomainTree[]; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; problemCount: number };

/**
 * Builds the rate limit config from YAML files, validating them as envoyproxy/ratelimit
 * does (same message texts) plus the stricter checks of DESIGN.md (keys at the wrong
 * level, wrong types, empty files), and reports every problem it can find in every file.
 *
 * @param files the config files, already sorted by path: problems are reported in this order
 *   (then by position), the later file is blamed for a duplicate domain, and with
 *   `mergeDomains` a domain's wildcards keep this order across files.
 * @param options.mergeDomains `MERGE_DOMAIN_CONFIG`: files with the same domain add their
 *   descriptors to it (a descriptor identity repeated across them is still an error).
 * @param limits alias expansion and problem list bounds (the size and file count are the
 *   reader's: config-files.ts).
 */
export function buildConfig(
  files: readonly ConfigFile[],
  options: { mergeDomains: boolean },
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
): BuildResult {
  const built = buildTrees(files, options, limits);
  return built.ok ? { ok: true, config: configFromTrees(built.trees), warnings: built.warnings } : built;
}

/** {@link buildConfig} up to the domain trees (a loader thread sends them on in compact form). */
export function buildTrees(
  files: readonly ConfigFile[],
  options: { mergeDomains: boolean },
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
): TreesResult {
  const domains = new Map<string, DomainTree>();
  const loaded: YamlFile[] = [];
  // every tree a file was loaded into, dropped ones (duplicate domain) included
  const targets = new Set<DomainTree>();
  for (const { path, content } of files) {
    const parsed = parseYamlFile(path, content, limits);
    loaded.push(parsed.file);
    if (parsed.ok) {
      const target = loadFile(parsed.file, parsed.root, domains, options.mergeDomains);
      if (target !== undefined) targets.add(target);
    }
  }
  // Node `adaptive` names are checked once every file of their (merged) domain is loaded.
  for (const tree of targets) checkAdaptiveUses(tree);
  const problems: ConfigProblem[] = [];
  let problemCount = 0;
  for (const file of loaded) {
    problemCount += file.problemCount;
    for (const p of byPosition(file.problems)) {
      if (problems.length < limits.maxProblems) problems.push(p);
    }
  }
  if (problemCount > 0) return { ok: false, problems, problemCount };
  const trees = [...domains.values()];
  return { ok: true, trees, warnings: trees.flatMap(adaptiveWarnings) };
}

function loadFile(
  file: YamlFile,
  root: unknown,
  domains: Map<string, DomainTree>,
  mergeDomains: boolean,
): DomainTree | undefined {
  if (isEmptyNode(root)) {
    report(file, 0, "config file is empty; it must be a map with 'domain' and 'descriptors'");
    return undefined;
  }
  if (!isMap(root)) {
    const found = describeFound(root as Parameters<typeof describeFound>[0]);
    report(file, offsetOf(root), `config file must be a map with 'domain' and 'descriptors', found ${found}`);
    return undefined;
  }
  const fields = readFields(file, root, 'top');
  const domain = readString(file, fields, 'domain');
  let tree: DomainTree | undefined;
  if (domain === '') {
    report(file, fieldOrAt(fields, 'domain', offsetOf(root)), 'config file cannot have empty domain');
  } else if (domain !== undefined) {
    tree = domains.get(domain);
    if (tree === undefined) {
      tree = newDomainTree(domain, file.path);
      domains.set(domain, tree);
    } else if (mergeDomains) {
      tree.files.push(file.path);
    } else {
      report(file, fieldAt(fields.get('domain')!), `duplicate domain '${domain}' in config file`);
      tree = undefined;
    }
  }
  // A file whose domain is unusable is still checked, into a tree that is then dropped.
  const target = tree ?? newDomainTree(domain ?? '', file.path);
  readControllers(file, fields, target);
  loadDescriptors(file, fields, target.root, `${target.domain}.`, target);
  return target;
}

function byPosition(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
}
