import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS } from '../../../src/core/algorithm.js';
import { MODELS } from '../../../src/core/models.js';

describe('algorithm traits', () => {
  it('marks fixed_window alone as windowed: its key carries the window start', () => {
    expect(ALGORITHMS.filter((a) => MODELS[a].windowed)).toEqual(['fixed_window']);
  });

  it('gives burst as the capacity of a token bucket and requests_per_unit for the others', () => {
    const limit = { requestsPerUnit: 10, burst: 25 };
    expect(ALGORITHMS.map((a) => [a, MODELS[a].capacity(limit)])).toEqual([
      ['fixed_window', 10],
      ['sliding_window', 10],
      ['sliding_log', 10],
      ['token_bucket', 25],
    ]);
  });
});

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/**
 * Where an algorithm name may still be compared: core owns the facts; generated
 * code; config/rules reads and validates the names and their YAML options (burst
 * is a token_bucket field, sliding_log has its own cap).
 */
const ALLOWED = ['core/', 'gen/', 'config/rules/'];

const NAME = `['"](?:${ALGORITHMS.join('|')})['"]`;
const COMPARISON = new RegExp(`\\balgorithm\\s*[!=]==|[!=]==\\s*${NAME}|${NAME}\\s*[!=]==|case\\s+${NAME}`);

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));
}

describe('algorithm facts outside core', () => {
  it('are read from the model traits, never decided by comparing an algorithm name', () => {
    const offending: string[] = [];
    for (const file of sources(SRC)) {
      const path = relative(SRC, file).split(sep).join('/');
      if (ALLOWED.some((prefix) => path.startsWith(prefix))) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (COMPARISON.test(line)) offending.push(`src/${path}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });

  it('would catch a comparison like the ones it guards against', () => {
    expect(COMPARISON.test("const lead = check.algorithm === 'fixed_window' ? 0 : 1000;")).toBe(true);
    expect(COMPARISON.test("if ('token_bucket' !== algorithm) return;")).toBe(true);
    expect(COMPARISON.test("case 'sliding_log':")).toBe(true);
    expect(COMPARISON.test('args.push(c.algorithm, c.requestsPerUnit);')).toBe(false);
  });
});
