import { createHook } from 'node:async_hooks';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/rules/build-config.js';
import type { RateLimitConfig } from '../../src/config/rules/rate-limit-config.js';
import { inThreadConfigLoader, workerConfigLoader } from '../../src/config/source/config-loader.js';
import { ConfigSource, type ConfigSourceOptions } from '../../src/config/source/config-source.js';

/** The limit the config applies to `{user: anyone}` in `domain`, undefined when none. */
function limitOf(config: RateLimitConfig | undefined, domain: string): number | undefined {
  return config?.match(domain, { entries: [{ key: 'user', value: 'anyone' }] })?.rule.limits[0]
    ?.requestsPerUnit;
}

const yamlFor = (domain: string, limit: number): string =>
  `domain: ${domain}\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: second\n      requests_per_unit: ${limit}\n`;

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let base: string;
let sources: ConfigSource[];
let logLines: Record<string, unknown>[];

function makeSource(roots: string[], extra: Partial<ConfigSourceOptions> = {}): ConfigSource {
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line));
  });
  const source = new ConfigSource({
    roots,
    ignoreDotfiles: false,
    mergeDomains: false,
    // the service's loader: a worker thread running src/ through test/support/ts-loader-hooks.mjs
    loader: workerConfigLoader({ timeoutMs: 30_000, maxHeapMb: 512 }),
    logger: pino({ level: 'debug' }, stream),
    debounceMs: 50,
    ...extra,
  });
  sources.push(source);
  return source;
}

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'rl-reload-'));
  sources = [];
  logLines = [];
});

afterEach(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await rm(base, { recursive: true, force: true });
});

/** Lays out a ConfigMap version directory `..<stamp>/` holding `files`. */
async function writeConfigMapVersion(
  dir: string,
  stamp: string,
  files: Record<string, string>,
): Promise<void> {
  await mkdir(path.join(dir, stamp));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, stamp, name), content);
}

describe('ConfigSource', () => {
  it('loads every YAML file of the root on the first load and logs files and domain count', async () => {
    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 1));
    await writeFile(path.join(base, 'b.yml'), yamlFor('b', 2));
    await writeFile(path.join(base, 'notes.txt'), 'not config');
    const source = makeSource([base]);
    const outcome = await source.load();
    expect(outcome).toMatchObject({ ok: true, files: [path.join(base, 'a.yaml'), path.join(base, 'b.yml')] });
    expect(limitOf(source.current(), 'a')).toBe(1);
    expect(limitOf(source.current(), 'b')).toBe(2);
    expect(source.loadSuccessCount).toBe(1);
    expect(Object.isFrozen(source.currentFiles())).toBe(true);
    expect(logLines).toContainEqual(
      expect.objectContaining({ level: 30, msg: 'rate limit config loaded', domains: 2, fileCount: 2 }),
    );
  });

  it('reloads when a watched file is edited, added or removed', async () => {
    await mkdir(path.join(base, 'sub'));
    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 1));
    const source = makeSource([base]);
    await source.load();
    source.watch();
    await source.idle();

    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 7));
    await eventually(() => limitOf(source.current(), 'a') === 7, 'the edit');

    await writeFile(path.join(base, 'sub', 'b.yaml'), yamlFor('b', 3));
    await eventually(() => limitOf(source.current(), 'b') === 3, 'the added file in a subdirectory');

    await rm(path.join(base, 'a.yaml'));
    await eventually(() => limitOf(source.current(), 'a') === undefined, 'the removal');
    expect(limitOf(source.current(), 'b')).toBe(3);
  });

  it('follows a Kubernetes ConfigMap ..data symlink swap and never loads a domain twice', async () => {
    const mount = path.join(base, 'mount');
    await mkdir(mount);
    await writeConfigMapVersion(mount, '..2025_x', { 'api.yaml': yamlFor('api', 10) });
    await symlink('..2025_x', path.join(mount, '..data'));
    await symlink('..data/api.yaml', path.join(mount, 'api.yaml'));
    const source = makeSource([mount]);
    expect(await source.load()).toMatchObject({ ok: true, files: [path.join(mount, 'api.yaml')] });
    source.watch();
    await source.idle();

    // Exactly what kubelet's AtomicWriter does on an update.
    await writeConfigMapVersion(mount, '..2025_y', { 'api.yaml': yamlFor('api', 20) });
    await symlink('..2025_y', path.join(mount, '..data_tmp'));
    await rename(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
    await rm(path.join(mount, '..2025_x'), { recursive: true });

    await eventually(() => limitOf(source.current(), 'api') === 20, 'the ConfigMap update');
    expect(source.loadErrorCount).toBe(0);
    expect(source.currentFiles()).toEqual([path.join(mount, 'api.yaml')]);
  });

  it('follows a ConfigMap update when the root is one mounted file', async () => {
    await writeConfigMapVersion(base, '..2025_x', { 'api.yaml': yamlFor('api', 10) });
    await symlink('..2025_x', path.join(base, '..data'));
    await symlink('..data/api.yaml', path.join(base, 'api.yaml'));
    const source = makeSource([path.join(base, 'api.yaml')]);
    await source.load();
    source.watch();
    await source.idle();

    await writeConfigMapVersion(base, '..2025_y', { 'api.yaml': yamlFor('api', 30) });
    await symlink('..2025_y', path.join(base, '..data_tmp'));
    await rename(path.join(base, '..data_tmp'), path.join(base, '..data'));

    await eventually(() => limitOf(source.current(), 'api') === 30, 'the ConfigMap update');
  });

  it('follows a symlink swap of the root itself (RUNTIME_WATCH_ROOT: ln -s new tmp && mv -T tmp current)', async () => {
    for (const [version, limit] of [
      ['v1', 1],
      ['v2', 2],
    ] as const) {
      await mkdir(path.join(base, version, 'config'), { recursive: true });
      await writeFile(path.join(base, version, 'config', 'rl.yaml'), yamlFor('rl', limit));
    }
    const current = path.join(base, 'current');
    await symlink(path.join(base, 'v1'), current);
    const rootSource = makeSource([current]);
    // RUNTIME_ROOT=current with RUNTIME_APPDIRECTORY=config: the swapped link is above the root.
    const appDirSource = makeSource([path.join(current, 'config')]);
    await rootSource.load();
    await appDirSource.load();
    rootSource.watch();
    await rootSource.idle();
    appDirSource.watch();
    await appDirSource.idle();
    expect(limitOf(rootSource.current(), 'rl')).toBe(1);

    await symlink(path.join(base, 'v2'), path.join(base, 'tmp'));
    await rename(path.join(base, 'tmp'), current);

    await eventually(() => limitOf(rootSource.current(), 'rl') === 2, 'the root swap');
    await eventually(() => limitOf(appDirSource.current(), 'rl') === 2, 'the swap above the app directory');
  });

  it('keeps the last good config on a bad reload, counts it and logs file:line:col', async () => {
    const file = path.join(base, 'a.yaml');
    await writeFile(file, yamlFor('a', 1));
    const source = makeSource([base]);
    await source.load();
    source.watch();
    await source.idle();
    const good = source.current();

    await writeFile(file, 'domain: a\ndescriptors: [\n');
    await eventually(() => source.loadErrorCount === 1, 'the failed reload');
    expect(source.current()).toBe(good);
    expect(limitOf(source.current(), 'a')).toBe(1);
    const error = logLines.find((l) => l.level === 50);
    expect(error?.msg).toMatch(/keeping the last good config/);
    const problems = error?.problems as string[];
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p.startsWith(`${file}:3:1: `), p).toBe(true);
    expect(error?.msg).toContain(`${file}:3:1: `);

    await writeFile(file, yamlFor('a', 5));
    await eventually(() => limitOf(source.current(), 'a') === 5, 'the fix');
    expect(source.loadSuccessCount).toBe(2);
    expect(source.loadErrorCount).toBe(1);
  });

  it('passes mergeDomains to the build and honours ignoreDotfiles', async () => {
    await writeFile(path.join(base, 'a.yaml'), yamlFor('shared', 1));
    await writeFile(path.join(base, 'b.yaml'), 'domain: shared\ndescriptors:\n  - key: other\n');
    await writeFile(path.join(base, '.draft.yaml'), 'not: [valid');
    expect(await makeSource([base], { ignoreDotfiles: true }).load()).toMatchObject({ ok: false });
    const merged = makeSource([base], { ignoreDotfiles: true, mergeDomains: true });
    expect(await merged.load()).toMatchObject({ ok: true });
    expect(limitOf(merged.current(), 'shared')).toBe(1);
    expect(await makeSource([base], { mergeDomains: true }).load()).toMatchObject({ ok: false });
  });

  it('reports a missing root as a load failure naming it, and loads once it appears', async () => {
    const root = path.join(base, 'later');
    const source = makeSource([root]);
    const outcome = await source.load();
    expect(outcome).toEqual({
      ok: false,
      problems: [{ file: root, line: 0, col: 0, message: `config root ${root} does not exist` }],
    });
    source.watch();
    await source.idle();
    await mkdir(root);
    await writeFile(path.join(root, 'x.yaml'), yamlFor('x', 4));
    await eventually(() => limitOf(source.current(), 'x') === 4, 'the new root');
  });

  it('does not rebuild when a watch event leaves the files unchanged', async () => {
    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 1));
    let builds = 0;
    const countingBuild: typeof buildConfig = (files, options, limits) => {
      builds++;
      return buildConfig(files, options, limits);
    };
    const source = makeSource([base], { loader: inThreadConfigLoader(countingBuild) });
    await source.load();
    source.watch();
    await source.idle();
    await writeFile(path.join(base, 'unrelated.txt'), 'x');
    await eventually(() => logLines.some((l) => l.msg === 'config files unchanged; not rebuilt'), 'the skip');
    expect(builds).toBe(1);
    expect(source.loadSuccessCount).toBe(1);
  });

  it('picks up a change through the polling fallback alone', async () => {
    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 1));
    // longer than one load (a loader thread starts per load), so the source is idle between polls
    const source = makeSource([base], { pollIntervalMs: 1_000, debounceMs: 60_000 });
    await source.load();
    source.watch();
    await source.idle();
    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 9));
    await eventually(() => limitOf(source.current(), 'a') === 9, 'the poll');
  });

  it('close() releases every watcher and timer it created and stops reloading', async () => {
    // Timers are recognised by their distinctive delays (Node's Timeout#_idleTimeout).
    const delays = new Set([37, 12_345]);
    const live = new Map<number, string>();
    const hook = createHook({
      init(id, type, _trigger, resource) {
        const delay = (resource as { _idleTimeout?: number })._idleTimeout ?? -1;
        if (type === 'FSEVENTWRAP' || (type === 'Timeout' && delays.has(delay))) live.set(id, type);
      },
      destroy(id) {
        live.delete(id);
      },
    });
    await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 1));
    hook.enable();
    try {
      const source = makeSource([base], { debounceMs: 37, pollIntervalMs: 12_345 });
      await source.load();
      source.watch();
      await source.idle();
      await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 2));
      await eventually(() => limitOf(source.current(), 'a') === 2, 'the edit');
      const kinds = new Set(live.values());
      expect(kinds).toEqual(new Set(['FSEVENTWRAP', 'Timeout']));
      await writeFile(path.join(base, 'a.yaml'), yamlFor('a', 3)); // leaves a debounce timer pending
      await source.close();
      await eventually(() => live.size === 0, 'every watcher and timer to be released');
      await new Promise((r) => setTimeout(r, 200)); // longer than the debounce: nothing may reload now
      expect(limitOf(source.current(), 'a')).toBe(2);
    } finally {
      hook.disable();
    }
  });
});
