import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateCommand } from '../../../src/commands/validate.js';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { type ConfigLimits, DEFAULT_CONFIG_LIMITS } from '../../../src/config/rules/config-limits.js';
import { formatProblem } from '../../../src/config/rules/config-problem.js';
import {
  DEFAULT_CONFIG_LOAD_SETTINGS,
  loadConfigLoadSettings,
} from '../../../src/config/settings/config-load-settings.js';
import { readConfigFiles, walkConfigRoots } from '../../../src/config/source/config-files.js';
import { aliasBomb, smallFile } from '../../support/hostile-config.js';

const limits = (overrides: Partial<ConfigLimits>): ConfigLimits => ({
  ...DEFAULT_CONFIG_LIMITS,
  ...overrides,
});

/** A file with `n` descriptors that each have an invalid unit: n problems. */
function brokenFile(n: number, domain = 'broken'): string {
  const lines = [`domain: ${domain}`, 'descriptors:'];
  for (let i = 0; i < n; i++)
    lines.push(`  - {key: k${i}, rate_limit: {unit: lightyear, requests_per_unit: 1}}`);
  return `${lines.join('\n')}\n`;
}

describe('CONFIG_MAX_PROBLEMS', () => {
  it('lists the first problems in file and position order and counts them all', () => {
    const result = buildConfig(
      [
        { path: 'a.yaml', content: brokenFile(3, 'a') },
        { path: 'b.yaml', content: brokenFile(5, 'b') },
      ],
      { mergeDomains: false },
      limits({ maxProblems: 4 }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problemCount).toBe(8);
    expect(result.problems.map(formatProblem).map((p) => p.slice(0, 8))).toEqual([
      'a.yaml:3',
      'a.yaml:4',
      'a.yaml:5',
      'b.yaml:3',
    ]);
  });

  it('keeps at most 100 problems of an 871-byte-class alias bomb, in bounded time, and never throws', () => {
    const started = performance.now();
    const result = buildConfig([{ path: 'bomb.yaml', content: aliasBomb() }], { mergeDomains: false });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(100);
    expect(result.problemCount).toBeGreaterThan(100);
  });

  it('cuts a problem message quoting a huge value to 500 characters and says how long it was', () => {
    const huge = 'x'.repeat(100_000);
    const result = buildConfig([{ path: 'a.yaml', content: `domain: ${huge}\ndescriptors: 5\n` }], {
      mergeDomains: false,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    for (const p of result.problems) expect(p.message.length).toBeLessThan(600);
  });
});

describe('CONFIG_MAX_ALIAS_NODES', () => {
  it('stops following aliases past the limit with one problem naming the setting', () => {
    const result = buildConfig(
      [{ path: 'bomb.yaml', content: aliasBomb(4, 9) }],
      { mergeDomains: false },
      limits({ maxAliasNodes: 50 }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.problems.map((p) => p.message);
    expect(messages.filter((m) => m.includes('CONFIG_MAX_ALIAS_NODES'))).toEqual([
      'config error, aliases expand the file beyond 50 repeated maps and lists (CONFIG_MAX_ALIAS_NODES)',
    ]);
  });

  it('resolves 20,000 aliases of one anchor in linear time (the yaml package walks the document per alias)', () => {
    const lines = ['domain: many', 'x: &lim {unit: second, requests_per_unit: 5}', 'descriptors:'];
    for (let i = 0; i < 20_000; i++) lines.push(`  - {key: k, value: v${i}, rate_limit: *lim}`);
    const started = performance.now();
    const result = buildConfig([{ path: 'a.yaml', content: `${lines.join('\n')}\n` }], {
      mergeDomains: false,
    });
    expect(performance.now() - started).toBeLessThan(15_000);
    // `x` is an unknown top-level key: the one problem; every alias resolved
    expect(result.ok ? [] : result.problems.map((p) => p.message)).toEqual(["config error, unknown key 'x'"]);
  });

  it('still reports an unknown anchor once, as yaml.v2 words it', () => {
    const result = buildConfig([{ path: 'a.yaml', content: 'domain: d\ndescriptors: [*nope]\n' }], {
      mergeDomains: false,
    });
    expect(result.ok).toBe(false);
  });
});

describe('CONFIG_MAX_BYTES and CONFIG_MAX_FILES', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rl-limits-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses files whose sizes add up past maxBytes before reading any, naming the file that crosses it', async () => {
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    await writeFile(a, 'x'.repeat(600));
    await writeFile(b, 'x'.repeat(600));
    await expect(readConfigFiles([a, b], 1_000)).rejects.toMatchObject({
      path: b,
      message:
        'this file (600 bytes) brings the config files to 1,200 bytes, over the limit of 1,000 bytes (CONFIG_MAX_BYTES)',
    });
    expect(await readConfigFiles([a, b], 1_200)).toHaveLength(2);
  });

  it('stops the walk past maxFiles YAML files or directories, naming the root and the setting', async () => {
    for (let i = 0; i < 4; i++) await writeFile(path.join(dir, `f${i}.yaml`), smallFile(i));
    await expect(walkConfigRoots([dir], { ignoreDotfiles: false, maxFiles: 3 })).rejects.toMatchObject({
      path: dir,
      message: expect.stringMatching(/^config roots hold more than 3 YAML files .*CONFIG_MAX_FILES/),
    });
    expect((await walkConfigRoots([dir], { ignoreDotfiles: false, maxFiles: 4 })).files).toHaveLength(4);
    for (let i = 0; i < 4; i++) await mkdir(path.join(dir, `d${i}`));
    await expect(walkConfigRoots([dir], { ignoreDotfiles: false, maxFiles: 4 })).rejects.toMatchObject({
      message: expect.stringMatching(/more than 4 directories/),
    });
  });
});

describe('validate past CONFIG_MAX_PROBLEMS', () => {
  it("prints 'config has N problems; the first M:' before the listed ones and the full count last", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rl-validate-'));
    try {
      await writeFile(path.join(dir, 'a.yaml'), brokenFile(5));
      const lines: string[] = [];
      const configLoad = { ...DEFAULT_CONFIG_LOAD_SETTINGS, limits: limits({ maxProblems: 2 }) };
      const code = await validateCommand(
        { paths: [dir], mergeDomains: false, ignoreDotfiles: false, configLoad },
        (l) => lines.push(l),
      );
      expect(code).toBe(1);
      expect(lines).toHaveLength(4);
      expect(lines[0]).toBe('config has 5 problems; the first 2:');
      expect(lines[1]).toMatch(/a\.yaml:3:\d+: /);
      expect(lines[3]).toBe('5 problems found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadConfigLoadSettings', () => {
  it('defaults to 8 MiB, 1,000 files, 100,000 alias nodes, 100 problems, 60 s and a 1 GiB loader heap', () => {
    expect(loadConfigLoadSettings({})).toEqual({
      limits: { maxBytes: 8_388_608, maxFiles: 1_000, maxAliasNodes: 100_000, maxProblems: 100 },
      timeoutMs: 60_000,
      maxHeapMb: 1_024,
    });
  });

  it('reads every CONFIG_* setting', () => {
    expect(
      loadConfigLoadSettings({
        CONFIG_MAX_BYTES: '2048',
        CONFIG_MAX_FILES: '5',
        CONFIG_MAX_ALIAS_NODES: '0',
        CONFIG_MAX_PROBLEMS: '7',
        CONFIG_LOAD_TIMEOUT: '5s',
        CONFIG_LOAD_MAX_HEAP: '256',
      }),
    ).toEqual({
      limits: { maxBytes: 2_048, maxFiles: 5, maxAliasNodes: 0, maxProblems: 7 },
      timeoutMs: 5_000,
      maxHeapMb: 256,
    });
  });

  it('rejects out-of-range values naming the setting', () => {
    expect(() => loadConfigLoadSettings({ CONFIG_MAX_FILES: '0' })).toThrow(/CONFIG_MAX_FILES/);
    expect(() => loadConfigLoadSettings({ CONFIG_MAX_BYTES: 'lots' })).toThrow(/CONFIG_MAX_BYTES/);
    expect(() => loadConfigLoadSettings({ CONFIG_LOAD_TIMEOUT: '10ms' })).toThrow(/CONFIG_LOAD_TIMEOUT/);
  });
});
