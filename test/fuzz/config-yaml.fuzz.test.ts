import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildResult, buildConfig } from '../../src/config/rules/build-config.js';
import { DEFAULT_CONFIG_LIMITS } from '../../src/config/rules/config-limits.js';
import { workerConfigLoader } from '../../src/config/source/config-loader.js';
import { fuzzBudget } from '../support/fuzz-budget.js';

/**
 * Random YAML through the config loader: nesting, anchors and aliases (also to undefined
 * anchors and to themselves), merge keys, duplicate keys, wrong types, huge scalars,
 * unicode and tags. Whatever the input, a load never throws, and ends with a config or a
 * bounded list of problems that each say file:line:col, within a bounded time.
 */

const KEYS = [
  'domain',
  'descriptors',
  'key',
  'value',
  'rate_limit',
  'rate_limits',
  'unit',
  'requests_per_unit',
  'algorithm',
  'burst',
  'unlimited',
  'name',
  'replaces',
  'shadow_mode',
  'share_threshold',
  'metadata',
  '<<',
  'x',
];

const scalar = fc.oneof(
  fc.constantFrom(
    'second',
    'minute',
    'hour',
    'day',
    '~',
    'null',
    'true',
    'yes',
    '0x1F',
    '1e3',
    '-1',
    '007',
    '1:20',
    "''",
  ),
  fc.integer().map(String),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '!!int 5',
    '!!str 5',
    '!!float x',
    '!!binary aGk=',
    '!custom v',
    '!!map {}',
    '!!set {a}',
    '!!timestamp 2001-12-14',
  ),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => `"${'a'.repeat(n)}"`),
);

/** A flow node as text; anchors `&aN` and aliases `*aN` over a small name space, so they meet. */
const { node } = fc.letrec<{ node: string; map: string; seq: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.integer({ min: 0, max: 4 }).map((i) => `*a${i}`),
    tie('map'),
    tie('seq'),
    fc.tuple(fc.integer({ min: 0, max: 4 }), tie('node')).map(([i, n]) => `&a${i} ${n}`),
  ),
  map: fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), scalar), tie('node')), { maxLength: 5 })
    .map((pairs) => `{${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
  seq: fc.array(tie('node'), { maxLength: 5 }).map((items) => `[${items.join(', ')}]`),
}));

/** A config file: a block map of random fields, mostly with a domain and descriptors. */
const configText = fc.oneof(
  fc
    .tuple(fc.option(scalar), fc.array(fc.tuple(fc.constantFrom(...KEYS), node), { maxLength: 4 }), node)
    .map(([domain, extra, descriptors]) =>
      [
        domain === null ? '' : `domain: ${domain}`,
        ...extra.map(([k, v]) => `${k}: ${v}`),
        `descriptors: ${descriptors}`,
      ].join('\n'),
    ),
  node,
  fc.string({ maxLength: 200 }),
  // deep nesting: the yaml package and our walk must report, not overflow
  fc
    .integer({ min: 1, max: 3_000 })
    .map((n) => `descriptors: ${'[{key: k, descriptors: '.repeat(n)}[]${'}]'.repeat(n)}`),
);

function checkOutcome(result: BuildResult, file: string): void {
  if (result.ok) return;
  expect(result.problems.length).toBeGreaterThan(0);
  expect(result.problems.length).toBeLessThanOrEqual(DEFAULT_CONFIG_LIMITS.maxProblems);
  for (const p of result.problems) {
    expect(p.file).toBe(file);
    expect(p.line).toBeGreaterThanOrEqual(1);
    expect(p.col).toBeGreaterThanOrEqual(1);
    expect(p.message.length).toBeLessThan(600);
  }
}

describe('config YAML fuzz', () => {
  const budget = fuzzBudget();

  it(
    'buildConfig never throws and returns a config or at most 100 positioned problems, each load within 5 s',
    () => {
      fc.assert(
        fc.property(configText, (text) => {
          const started = performance.now();
          const result = buildConfig([{ path: 'f.yaml', content: text }], { mergeDomains: false });
          expect(performance.now() - started).toBeLessThan(5_000);
          checkOutcome(result, 'f.yaml');
        }),
        budget.params,
      );
    },
    budget.testTimeoutMs,
  );

  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rl-fuzz-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const workerBudget = fuzzBudget(3, 15);
  it(
    'the worker loader answers every random file with a config or positioned problems',
    async () => {
      const loader = workerConfigLoader({ timeoutMs: 30_000, maxHeapMb: 512 });
      await fc.assert(
        fc.asyncProperty(configText, async (text) => {
          const file = path.join(dir, 'f.yaml');
          await writeFile(file, text);
          const outcome = await loader.load({
            paths: [file],
            mergeDomains: false,
            limits: DEFAULT_CONFIG_LIMITS,
            previousHash: undefined,
          });
          expect(outcome.unchanged).toBe(false);
          if (!outcome.unchanged) checkOutcome(outcome.result, file);
        }),
        workerBudget.params,
      );
    },
    workerBudget.testTimeoutMs,
  );
});
