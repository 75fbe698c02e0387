import { isMap } from 'yaml';
import type { ConfigProblem } from '../../core/errors.js';
import { readFields } from './config-schema.js';
import { type DomainTree, newDomainTree } from './config-tree.js';
import { loadDescriptors } from './load-descriptors.js';
import { RateLimitConfig } from './rate-limit-config.js';
import { fieldAt, fieldOrAt, readString } from './yaml-fields.js';
import { isEmptyNode, parseYamlFile, report, type YamlFile } from './yaml-file.js';
import { describeFound, offsetOf } from './yaml-nodes.js';

/** One config file: its path (used in problems and summaries) and its YAML text. */
export interface ConfigFile {
  path: string;
  content: string;
}

/** A built config, or every problem found in the files. */
export type BuildResult = { ok: true; config: RateLimitConfig } | { ok: false; problems: ConfigProblem[] };

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
 */
export function buildConfig(files: readonly ConfigFile[], options: { mergeDomains: boolean }): BuildResult {
  const domains = new Map<string, DomainTree>();
  const problems: ConfigProblem[] = [];
  for (const { path, content } of files) {
    const parsed = parseYamlFile(path, content);
    if (parsed.ok) loadFile(parsed.file, parsed.root, domains, options.mergeDomains);
    problems.push(...byPosition(parsed.file.problems));
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: new RateLimitConfig(domains.values()) };
}

function loadFile(
  file: YamlFile,
  root: unknown,
  domains: Map<string, DomainTree>,
  mergeDomains: boolean,
): void {
  if (isEmptyNode(root)) {
    report(file, 0, "config file is empty; it must be a map with 'domain' and 'descriptors'");
    return;
  }
  if (!isMap(root)) {
    const found = describeFound(root as Parameters<typeof describeFound>[0]);
    report(file, offsetOf(root), `config file must be a map with 'domain' and 'descriptors', found ${found}`);
    return;
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
  loadDescriptors(file, fields, target.root, `${target.domain}.`, target);
}

function byPosition(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
}
