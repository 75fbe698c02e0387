import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every relative link of the README, docs/ and the deploy/ READMEs points at a file that exists,
// and every #anchor at a heading of that file: the docs are how operators find the deployment
// files, so a moved file or a renamed section must fail here, not in a reader's browser.

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function markdownFiles(): string[] {
  const files = ['README.md', ...readdirSync(join(REPO, 'docs')).map((f) => `docs/${f}`)];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO, dir))) {
      const path = `${dir}/${entry}`;
      if (statSync(join(REPO, path)).isDirectory()) walk(path);
      else if (entry.endsWith('.md')) files.push(path);
    }
  };
  walk('deploy');
  return files.filter((f) => f.endsWith('.md'));
}

/** GitHub's heading anchor: lower case, punctuation other than - and _ dropped, spaces to -. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const match of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = anchorOf(match[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
}

describe('documentation links', () => {
  for (const file of markdownFiles()) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      for (const link of links(file)) {
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? join(REPO, file) : resolve(dirname(join(REPO, file)), path);
        if (!existsSync(target)) {
          broken.push(`${link}: no ${relative(REPO, target)}`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${relative(REPO, target)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});
