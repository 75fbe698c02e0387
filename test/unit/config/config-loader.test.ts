import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTrees } from '../../../src/config/rules/build-config.js';
import { ConfigAssembler, compactBatches, compactTail } from '../../../src/config/rules/compact-config.js';
import { DEFAULT_CONFIG_LIMITS } from '../../../src/config/rules/config-limits.js';
import { addNode, type DomainTree, newDomainTree } from '../../../src/config/rules/config-tree.js';
import { configFromTrees, type RateLimitConfig } from '../../../src/config/rules/rate-limit-config.js';
import { workerConfigLoader } from '../../../src/config/source/config-loader.js';
import { limitRule } from '../../support/rule-set-builder.js';
import { fixtureNames, readFixture } from './fixtures.js';

/** Everything observable about a config: summaries, /rlconfig lines, and a few matches. */
function observe(config: RateLimitConfig) {
  const probes = config.domains().flatMap(({ domain }) =>
    ['user', 'path', 'key', 'foo', 'bar'].flatMap((key) =>
      ['', 'a', 'alice', 'foo', 'x*', 'path_bar', '1'].map((value) => {
        const match = config.match(domain, { entries: [{ key, value }] });
        return [domain, key, value, match?.rule, match?.counterEntries];
      }),
    ),
  );
  return { domains: config.domains(), lines: config.describe(), probes };
}

describe('compact config (what the loader thread sends)', () => {
  it.each(fixtureNames('valid'))('rebuilds %s exactly as buildConfig made it, frozen', (name) => {
    const built = buildTrees(readFixture('valid', name), { mergeDomains: true });
    if (!built.ok) throw new Error(JSON.stringify(built.problems));
    const assembler = new ConfigAssembler();
    // through JSON, as the worker sends it, in tiny batches
    for (const batch of compactBatches(built.trees, 3)) assembler.add(JSON.parse(JSON.stringify(batch)));
    const rebuilt = assembler.finish(JSON.parse(JSON.stringify(compactTail(built.trees))));
    const direct = configFromTrees(
      buildTrees(readFixture('valid', name), { mergeDomains: true }).ok ? built.trees : [],
    );
    expect(observe(rebuilt)).toEqual(observe(direct));
    const rule = observe(rebuilt)
      .probes.map((p) => p[3])
      .find((r) => r !== undefined);
    if (rule !== undefined) expect(Object.isFrozen(rule)).toBe(true);
  });
});

describe('workerConfigLoader', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rl-loader-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const loader = workerConfigLoader({ timeoutMs: 30_000, maxHeapMb: 256 });
  const request = (paths: string[], previousHash?: string) => ({
    paths,
    mergeDomains: false,
    limits: DEFAULT_CONFIG_LIMITS,
    previousHash,
  });

  it('builds a config in a worker thread, then reports the same files unchanged by their hash', async () => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(
      file,
      'domain: a\ndescriptors:\n  - key: user\n    rate_limit: {unit: second, requests_per_unit: 7}\n',
    );
    const first = await loader.load(request([file]));
    expect(first.unchanged).toBe(false);
    if (first.unchanged || !first.result.ok) throw new Error(JSON.stringify(first));
    const match = first.result.config.match('a', { entries: [{ key: 'user', value: 'x' }] });
    expect(match?.rule.limits[0]?.requestsPerUnit).toBe(7);
    expect(await loader.load(request([file], first.hash))).toEqual({ hash: first.hash, unchanged: true });
  });

  it('returns problems with file:line:col from the worker', async () => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, 'domain: a\ndescriptors: [\n');
    const outcome = await loader.load(request([file]));
    expect(outcome).toMatchObject({ unchanged: false, result: { ok: false, problemCount: 1 } });
    if (outcome.unchanged || outcome.result.ok) return;
    expect(outcome.result.problems[0]).toMatchObject({ file, line: 3, col: 1 });
  });

  it('reports an unreadable file as a problem naming it (no throw)', async () => {
    const missing = path.join(dir, 'gone.yaml');
    const outcome = await loader.load(request([missing]));
    expect(outcome).toMatchObject({
      unchanged: false,
      result: {
        ok: false,
        problems: [{ file: missing, line: 0, message: expect.stringContaining('does not exist') }],
      },
    });
  });

  it('stops a load past its time budget with one problem naming CONFIG_LOAD_TIMEOUT', async () => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, 'domain: a\n');
    const outcome = await workerConfigLoader({ timeoutMs: 1, maxHeapMb: 256 }).load(request([file]));
    expect(outcome).toMatchObject({
      result: {
        ok: false,
        problems: [{ file: '<config>', message: expect.stringContaining('CONFIG_LOAD_TIMEOUT') }],
      },
    });
  });
});

describe('compact config: adaptive controller names', () => {
  /** One domain `api` with two nodes whose rules differ only in `adaptive` (b has none). */
  function trees(adaptive: readonly string[] | undefined): DomainTree[] {
    const tree = newDomainTree('api', 'api.yaml');
    const rule = (fullKey: string, names?: readonly string[]) =>
      Object.freeze({ ...limitRule({ fullKey, requestsPerUnit: 100 }), ...(names && { adaptive: names }) });
    addNode(tree.root, 'path_a', {
      key: 'path',
      rule: rule('api.path_a', adaptive),
      children: undefined,
      share: undefined,
    });
    addNode(tree.root, 'path_b', {
      key: 'path',
      rule: rule('api.path_b'),
      children: undefined,
      share: undefined,
    });
    tree.limits = 2;
    return [tree];
  }

  function roundTrip(built: DomainTree[]): RateLimitConfig {
    const assembler = new ConfigAssembler();
    for (const batch of compactBatches(built, 1)) assembler.add(JSON.parse(JSON.stringify(batch)));
    return assembler.finish(JSON.parse(JSON.stringify(compactTail(built))));
  }

  it('keeps the adaptive names of a rule through JSON, frozen, and never lends them to a rule without', () => {
    const config = roundTrip(trees(['checkout-health', 'abusers']));
    const a = config.match('api', { entries: [{ key: 'path', value: 'a' }] })?.rule;
    const b = config.match('api', { entries: [{ key: 'path', value: 'b' }] })?.rule;
    expect(a?.adaptive).toEqual(['checkout-health', 'abusers']);
    expect(Object.isFrozen(a?.adaptive)).toBe(true);
    expect(b).not.toHaveProperty('adaptive');
  });

  it('appends the adaptive names to the /rlconfig line of that rule only', () => {
    expect(roundTrip(trees(['abusers'])).describe()).toEqual([
      'api.path_a: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false, adaptive: [abusers]',
      'api.path_b: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false',
    ]);
    expect(roundTrip(trees(undefined)).describe()).toEqual([
      'api.path_a: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false',
      'api.path_b: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false',
    ]);
  });
});
