import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildResult, buildConfig, type ConfigFile } from '../../../src/config/rules/build-config.js';
import { formatProblem } from '../../../src/config/rules/config-problem.js';
import type { RateLimitConfig } from '../../../src/config/rules/rate-limit-config.js';
import type { RequestDescriptor } from '../../../src/core/descriptor.js';

const ROOT = fileURLToPath(new URL('../../fixtures/config/', import.meta.url));

/**
 * Reads a fixture under test/fixtures/config: one file, or every file of a directory sorted
 * by name. Paths are relative to the kind folder (`invalid/` or `valid/`), so problems read
 * `unknown-key.yaml:4:5: ...` or `duplicate-domain/b.yaml:1:9: ...`.
 */
export function readFixture(kind: 'valid' | 'invalid', name: string): ConfigFile[] {
  const base = join(ROOT, kind);
  const full = join(base, name);
  if (!statSync(full).isDirectory()) return [{ path: name, content: readFileSync(full, 'utf8') }];
  return readdirSync(full)
    .sort()
    .map((f) => ({ path: `${name}/${f}`, content: readFileSync(join(full, f), 'utf8') }));
}

/** Every fixture name (file or directory) of a kind. */
export function fixtureNames(kind: 'valid' | 'invalid'): string[] {
  return readdirSync(join(ROOT, kind)).sort();
}

/** The problems of a build as `file:line:col: message` lines (empty when it succeeded). */
export function problemLines(result: BuildResult): string[] {
  return result.ok ? [] : result.problems.map(formatProblem);
}

/** Builds inline YAML files (named a.yaml, b.yaml, …) and returns the config, failing loudly on problems. */
export function configFrom(contents: string | readonly string[], mergeDomains = false): RateLimitConfig {
  const list = typeof contents === 'string' ? [contents] : contents;
  const files = list.map((content, i) => ({ path: `${String.fromCharCode(97 + i)}.yaml`, content }));
  return expectConfig(buildConfig(files, { mergeDomains }));
}

/** The config of a successful build; throws with every problem otherwise. */
export function expectConfig(result: BuildResult): RateLimitConfig {
  if (!result.ok) throw new Error(`config has problems:\n${problemLines(result).join('\n')}`);
  return result.config;
}

/** A descriptor from `key=value` strings (`key=` is an empty value). */
export function desc(...pairs: string[]): RequestDescriptor {
  return {
    entries: pairs.map((p) => {
      const at = p.indexOf('=');
      return { key: p.slice(0, at), value: p.slice(at + 1) };
    }),
  };
}

/** The fullKey of the rule a descriptor (as `key=value` strings) matches, or undefined. */
export function matched(config: RateLimitConfig, domain: string, ...pairs: string[]): string | undefined {
  return config.match(domain, desc(...pairs))?.rule.fullKey;
}
