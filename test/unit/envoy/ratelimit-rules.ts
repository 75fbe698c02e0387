// Matches the descriptors an Envoy config can produce (descriptor-facts.ts) against a rate limit config
// loaded with the service's own loader (buildConfig) and matched by its own RuleSet (config.match).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import type { RateLimitConfig } from '../../../src/config/rules/rate-limit-config.js';
import type { ProducedDescriptor } from './descriptor-facts.js';

/** A file of the repository, by its path from the root. */
export const readRepoFile = (rel: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../${rel}`, import.meta.url)), 'utf8');

/** The config in `rel` built as the service builds it; throws with the loader's problems otherwise. */
export function loadRules(rel: string): RateLimitConfig {
  const built = buildConfig([{ path: rel, content: readRepoFile(rel) }], { mergeDomains: false });
  if (!built.ok) throw new Error(`${rel}: ${built.problems.map((p) => p.message).join('; ')}`);
  return built.config;
}

/** How many nodes of a raw rules file carry a rate_limit (the rules a config defines). */
export function ruleCount(rel: string): number {
  const count = (nodes: unknown): number =>
    (Array.isArray(nodes) ? nodes : []).reduce(
      (n: number, node: { rate_limit?: unknown; descriptors?: unknown }) =>
        n + (node.rate_limit === undefined ? 0 : 1) + count(node.descriptors),
      0,
    );
  return count((parse(readRepoFile(rel)) as { descriptors?: unknown }).descriptors);
}

export interface DescriptorMatch {
  descriptor: ProducedDescriptor;
  /** fullKey of the rule it reaches, or undefined when it reaches none. */
  rule: string | undefined;
}

/** Each descriptor with the rule the service matches it to (request-time values as samples). */
export function matchAll(config: RateLimitConfig, descriptors: ProducedDescriptor[]): DescriptorMatch[] {
  return descriptors.map((descriptor) => {
    const match =
      descriptor.domain === undefined || descriptor.unsupported.length > 0
        ? undefined
        : config.match(descriptor.domain, {
            entries: descriptor.entries.map(({ key, value }) => ({ key, value })),
          });
    return { descriptor, rule: match?.rule.fullKey };
  });
}

/** A readable line for a descriptor: `source: (k, v) (k, <request time>)`. */
export function show(d: ProducedDescriptor): string {
  const entries = d.entries.map((e) => `(${e.key}, ${e.requestTime ? `<${e.value}>` : e.value})`);
  return `${d.source} [${d.domain}]: ${[...entries, ...d.unsupported].join(' ')}`;
}
