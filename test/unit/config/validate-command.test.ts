import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateCommand } from '../../../src/commands/validate.js';

const fixture = (path: string) => fileURLToPath(new URL(`../../fixtures/config/${path}`, import.meta.url));

async function validate(...paths: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await validateCommand({ paths, mergeDomains: true, ignoreDotfiles: true }, (l) =>
    lines.push(l),
  );
  return { code, lines };
}

describe('validate command summaries', () => {
  it('names the algorithms each domain uses after its limit count', async () => {
    const path = fixture('valid/rate-limits.yaml');
    expect(await validate(path)).toEqual({
      code: 0,
      lines: [`domain api: 7 limits (fixed_window, sliding_window, token_bucket) (${path})`],
    });
  });

  it('keeps the reference-style start for a plain fixed_window domain', async () => {
    const path = fixture('valid/basic.yaml');
    expect((await validate(path)).lines).toEqual([`domain basic: 6 limits (fixed_window) (${path})`]);
  });

  it('lists no algorithms for a domain without limits or with only unlimited rules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'validate-'));
    try {
      await writeFile(
        join(dir, 'a.yaml'),
        'domain: a\ndescriptors:\n  - {key: k, rate_limit: {unlimited: true}}\n',
      );
      await writeFile(join(dir, 'b.yaml'), 'domain: b\n');
      expect(await validate(dir)).toEqual({
        code: 0,
        lines: [`domain a: 1 limit (${join(dir, 'a.yaml')})`, `domain b: 0 limits (${join(dir, 'b.yaml')})`],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints every problem of the new rules with its position', async () => {
    const path = fixture('invalid/duplicate-limit-in-rate-limits.yaml');
    const result = await validate(path);
    expect(result.code).toBe(1);
    expect(result.lines).toHaveLength(3);
    expect(result.lines[0]).toMatch(new RegExp(`^${path}:7:9: duplicate limit in 'rate_limits'`));
    expect(result.lines[2]).toBe('2 problems found');
  });
});
